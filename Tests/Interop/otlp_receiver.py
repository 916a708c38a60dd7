"""A loopback OTLP/HTTP receiver for the exporter tests.

Decodes every request with the official opentelemetry-proto classes (protobuf, or OTLP/JSON
after turning its hex ids into the base64 protobuf's JSON mapping expects) and appends one
JSON line per request to --output, with ids in hex. --fail-first N answers the first N
requests 503 with Retry-After: 0.

    python otlp_receiver.py --port-file F --output O [--fail-first N] [--port P]

--port 0 (the default) takes any free port; a test that stops the receiver starts it again
on the same one with --port.
"""

import argparse
import base64
import gzip
import json
import threading

import lifeline
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)

arguments = None
lock = threading.Lock()
failures_left = 0
span_count = 0


def any_value(value):
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind) if kind else None


def attributes(items):
    return {kv.key: any_value(kv.value) for kv in items}


def hex_ids_to_base64(node):
    """OTLP/JSON carries ids as hex; protobuf's JSON mapping wants base64 for bytes."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("traceId", "spanId", "parentSpanId") and isinstance(value, str):
                if value != value.lower():
                    raise ValueError(f"{key} is not lowercase hex: {value}")
                node[key] = base64.b64encode(bytes.fromhex(value)).decode()
            else:
                hex_ids_to_base64(value)
    elif isinstance(node, list):
        for item in node:
            hex_ids_to_base64(item)


def normalise(request, content_type, encoding):
    spans = []
    resource = {}
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    {
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_span_id": span.parent_span_id.hex(),
                        "trace_state": span.trace_state,
                        "name": span.name,
                        "kind": span.kind,
                        "start": span.start_time_unix_nano,
                        "end": span.end_time_unix_nano,
                        "attributes": attributes(span.attributes),
                        "events": [
                            {"name": e.name, "time": e.time_unix_nano, "attributes": attributes(e.attributes)}
                            for e in span.events
                        ],
                        "links": [
                            {
                                "trace_id": l.trace_id.hex(),
                                "span_id": l.span_id.hex(),
                                "attributes": attributes(l.attributes),
                            }
                            for l in span.links
                        ],
                        "status": {"code": span.status.code, "message": span.status.message},
                        "scope": scope_spans.scope.name,
                    }
                )
    return {"content_type": content_type, "encoding": encoding, "resource": resource, "spans": spans}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        global failures_left
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with lock:
            fail = failures_left > 0
            if fail:
                failures_left -= 1
        if fail:
            self.send_response(503)
            self.send_header("Retry-After", "0")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        content_type = self.headers.get("Content-Type", "")
        request = ExportTraceServiceRequest()
        try:
            if content_type == "application/json":
                document = json.loads(body)
                hex_ids_to_base64(document)
                json_format.Parse(json.dumps(document), request)
            else:
                request.ParseFromString(body)
        except Exception as error:  # a decoding failure is a test failure: answer 400
            message = str(error).encode()
            self.send_response(400)
            self.send_header("Content-Length", str(len(message)))
            self.end_headers()
            self.wfile.write(message)
            return
        if arguments.count_only:
            global span_count
            spans = sum(
                len(scope.spans)
                for resource_spans in request.resource_spans
                for scope in resource_spans.scope_spans
            )
            with lock:
                span_count += spans
                with open(arguments.output, "w") as output:
                    output.write(str(span_count))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        record = normalise(request, content_type, encoding)
        record["path"] = self.path
        record["headers"] = {k.lower(): v for k, v in self.headers.items()}
        with lock, open(arguments.output, "a") as output:
            output.write(json.dumps(record) + "\n")
        answer = b"{}" if content_type == "application/json" else b""
        self.send_response(200)
        self.send_header("Content-Type", content_type or "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


def main():
    global arguments, failures_left
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--count-only",
        action="store_true",
        help="decode each request but only keep the running span count in --output",
    )
    arguments = parser.parse_args()
    failures_left = arguments.fail_first
    server = ThreadingHTTPServer(("127.0.0.1", arguments.port), Handler)
    with open(arguments.port_file + ".tmp", "w") as port_file:
        port_file.write(str(server.server_address[1]))
    import os

    os.rename(arguments.port_file + ".tmp", arguments.port_file)
    lifeline.exit_with_parent()
    server.serve_forever()


if __name__ == "__main__":
    main()
