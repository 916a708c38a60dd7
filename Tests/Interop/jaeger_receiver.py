"""A loopback Jaeger collector for the exporter tests: decodes each Thrift binary `Batch`
POSTed to /api/traces with thriftpy2 and appends it as one JSON line to --output.

    python jaeger_receiver.py --port-file F --output O
"""

import argparse
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import thriftpy2
from thriftpy2.protocol import TBinaryProtocolFactory
from thriftpy2.utils import deserialize

import lifeline

jaeger = thriftpy2.load(os.path.join(os.path.dirname(__file__), "jaeger.thrift"), module_name="jaeger_thrift")
arguments = None


def tag(t):
    for field in ("vStr", "vDouble", "vBool", "vLong"):
        value = getattr(t, field)
        if value is not None:
            return t.key, value
    return t.key, None


def hex64(number):
    return (number & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "big").hex()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        batch = deserialize(jaeger.Batch(), body, TBinaryProtocolFactory())
        record = {
            "path": self.path,
            "content_type": self.headers.get("Content-Type"),
            "service": batch.process.serviceName,
            "process_tags": dict(tag(t) for t in (batch.process.tags or [])),
            "spans": [
                {
                    "trace_id": hex64(s.traceIdHigh) + hex64(s.traceIdLow),
                    "span_id": hex64(s.spanId),
                    "parent_span_id": hex64(s.parentSpanId),
                    "name": s.operationName,
                    "flags": s.flags,
                    "start": s.startTime,
                    "duration": s.duration,
                    "tags": dict(tag(t) for t in (s.tags or [])),
                    "logs": [dict(tag(t) for t in log.fields) for log in (s.logs or [])],
                    "references": [
                        {"type": r.refType, "span_id": hex64(r.spanId), "trace_id": hex64(r.traceIdHigh) + hex64(r.traceIdLow)}
                        for r in (s.references or [])
                    ],
                }
                for s in batch.spans
            ],
        }
        with open(arguments.output, "a") as output:
            output.write(json.dumps(record) + "\n")
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()


def main():
    lifeline.exit_with_parent()
    global arguments
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--output", required=True)
    arguments = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(arguments.port_file + ".tmp", "w") as port_file:
        port_file.write(str(server.server_address[1]))
    os.rename(arguments.port_file + ".tmp", arguments.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
