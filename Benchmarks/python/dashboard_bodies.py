"""Writes the span receiver's benchmark bodies: one OTLP ExportTraceServiceRequest of N spans
(8 attributes each, an event on every fourth), as protobuf (built with the official
opentelemetry-proto classes) and as gzip'd OTLP/JSON. Usage: dashboard_bodies.py N FOLDER"""

import gzip
import json
import os
import sys
import time

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

count, folder = int(sys.argv[1]), sys.argv[2]
request = ExportTraceServiceRequest()
resource_spans = request.resource_spans.add()
resource_spans.resource.attributes.append(KeyValue(key="service.name", value=AnyValue(string_value="bench")))
scope = resource_spans.scope_spans.add()
now = time.time_ns()
json_spans = []
for index in range(count):
    trace_id, span_id = os.urandom(16), os.urandom(8)
    span = scope.spans.add(
        trace_id=trace_id, span_id=span_id, name=f"procrastinate.job.bench_{index % 10}",
        kind=Span.SPAN_KIND_CONSUMER, start_time_unix_nano=now + index * 1000,
        end_time_unix_nano=now + index * 1000 + 250_000)
    attributes = {
        "messaging.system": AnyValue(string_value="procrastinate"),
        "messaging.operation.type": AnyValue(string_value="process"),
        "messaging.destination.name": AnyValue(string_value="default"),
        "procrastinate.task.name": AnyValue(string_value=f"bench_{index % 10}"),
        "procrastinate.job.id": AnyValue(int_value=index + 1),
        "procrastinate.job.attempts": AnyValue(int_value=0),
        "procrastinate.job.queue_wait_ms": AnyValue(double_value=1.5),
        "procrastinate.job.outcome": AnyValue(string_value="succeeded"),
    }
    for key, value in attributes.items():
        span.attributes.append(KeyValue(key=key, value=value))
    if index % 4 == 0:
        span.events.add(time_unix_nano=now + index * 1000 + 1000, name="checkpoint")
    json_spans.append({
        "traceId": trace_id.hex(), "spanId": span_id.hex(), "name": span.name, "kind": 5,
        "startTimeUnixNano": str(span.start_time_unix_nano), "endTimeUnixNano": str(span.end_time_unix_nano),
        "attributes": [
            {"key": key, "value": ({"stringValue": value.string_value} if value.HasField("string_value")
                                   else {"intValue": str(value.int_value)} if value.HasField("int_value")
                                   else {"doubleValue": value.double_value})}
            for key, value in attributes.items()],
        "events": [{"timeUnixNano": str(now + index * 1000 + 1000), "name": "checkpoint"}] if index % 4 == 0 else [],
    })
with open(os.path.join(folder, "spans.pb"), "wb") as out:
    out.write(request.SerializeToString())
body = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "bench"}}]},
                           "scopeSpans": [{"spans": json_spans}]}]}
with open(os.path.join(folder, "spans.json.gz"), "wb") as out:
    out.write(gzip.compress(json.dumps(body).encode()))
