"""A stand-in for the Chuck Norris joke API, for the web service tests.

GET /jokes/random?category=C answers {"value": "..."}; a category listed in --slow answers
after --delay seconds, so a test can hold a job in flight. Each request's category and
`traceparent` header go to --output as one JSON line. The bound port goes to --port-file.
"""

import argparse
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import lifeline


def main() -> None:
    lifeline.exit_with_parent()
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--slow", default="", help="comma-separated slow categories")
    parser.add_argument("--delay", type=float, default=2.0)
    options = parser.parse_args()
    slow = {c for c in options.slow.split(",") if c}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            category = parse_qs(urlparse(self.path).query).get("category", ["dev"])[0]
            with lock, open(options.output, "a") as output:
                record = {"category": category, "traceparent": self.headers.get("traceparent")}
                output.write(json.dumps(record) + "\n")
            if category in slow:
                time.sleep(options.delay)
            body = json.dumps({"value": f"A {category} joke from the test joke API."}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(options.port_file + ".tmp", "w") as port_file:
        port_file.write(str(server.server_address[1]))
    os.replace(options.port_file + ".tmp", options.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
