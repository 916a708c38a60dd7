"""A TCP proxy for the fault tests that can stop forwarding without closing anything.

    python blackhole_proxy.py --target 127.0.0.1:5432 --port-file F --control-file C

It forwards every connection to --target. While the control file holds `blackhole`, it
reads nothing and sends nothing on any connection, and new connections are accepted (the
kernel completes their handshake) but not connected on: to the peers, the network has gone
silent. Writing `forward` resumes. The bound port goes to --port-file.
"""

import argparse
import os
import socket
import threading
import time

import lifeline


def main() -> None:
    lifeline.exit_with_parent()
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--control-file", required=True)
    options = parser.parse_args()
    host, port = options.target.rsplit(":", 1)
    target = (host, int(port))

    def forwarding() -> bool:
        try:
            with open(options.control_file) as control:
                return control.read().strip() != "blackhole"
        except FileNotFoundError:
            return True

    def wait_for_forwarding() -> None:
        while not forwarding():
            time.sleep(0.05)

    def pump(source: socket.socket, destination: socket.socket) -> None:
        source.settimeout(0.1)
        try:
            while True:
                wait_for_forwarding()
                try:
                    data = source.recv(65536)
                except socket.timeout:
                    continue
                if not data:
                    break
                wait_for_forwarding()
                destination.sendall(data)
        except OSError:
            pass
        for sock in (source, destination):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def serve(client: socket.socket) -> None:
        wait_for_forwarding()
        try:
            upstream = socket.create_connection(target)
        except OSError:
            client.close()
            return
        threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
        threading.Thread(target=pump, args=(upstream, client), daemon=True).start()

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    with open(options.port_file + ".tmp", "w") as port_file:
        port_file.write(str(listener.getsockname()[1]))
    os.replace(options.port_file + ".tmp", options.port_file)
    while True:
        client, _ = listener.accept()
        threading.Thread(target=serve, args=(client,), daemon=True).start()


if __name__ == "__main__":
    main()
