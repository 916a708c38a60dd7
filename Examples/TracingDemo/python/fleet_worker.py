"""The Python half of the mixed fleet: a procrastinate 3.10 worker for queue `python`.

`fleet_tasks.py` is generated from ../Sources/MixedFleet/fleet.tasks.yaml, the spec the Swift
half is built from; this file only implements the task and configures OpenTelemetry. No
trace context is handled by hand: the generated task runs `render_report` inside the
`procrastinate.job.python.render_report` span, child of the Swift producer's, and the
generated `defer_store_report_async` carries this span's context on to the Swift worker.

Runs one-shot (until the queue is empty). PROCR_DSN names the database; spans go to
FLEET_TRACE_FILE as OTLP/JSON lines, the format of the Swift side's file exporter, which
`procrastinate-swift traces show` reads.
"""

from __future__ import annotations

import base64
import datetime
import json
import logging
import os
from collections.abc import Sequence

import procrastinate
from google.protobuf.json_format import MessageToDict  # type: ignore[import-untyped]
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)

import fleet_tasks as tasks

# procrastinate warns when the app lives in the script it runs, since it could not find tasks
# by import path then; these tasks come from the blueprint.
logging.getLogger("procrastinate.blueprints").setLevel(logging.ERROR)
app = procrastinate.App(
    connector=procrastinate.PsycopgConnector(conninfo=os.environ["PROCR_DSN"])
)
app.add_tasks_from(tasks.blueprint, namespace="")


@tasks.implement_python_render_report
async def render_report(
    context: procrastinate.JobContext,
    *,
    report_id: int,
    requested_at: datetime.datetime,
    sections: list[str],
) -> None:
    pages = 2 * len(sections)
    print(f"Python rendered report {report_id}: {pages} pages.", flush=True)
    await tasks.defer_store_report_async(
        report_id=report_id,
        pages=pages,
        summary=f"{', '.join(sections)} as of {requested_at:%Y-%m-%d}",
    )


class OTLPJSONFileExporter(SpanExporter):
    """Appends each batch to a file as one OTLP/JSON export request (ids in hex)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        request = MessageToDict(encode_spans(spans), use_integers_for_enums=True)
        for resource in request.get("resourceSpans", []):
            for scope in resource.get("scopeSpans", []):
                for span in scope.get("spans", []):
                    for holder in [span, *span.get("links", [])]:
                        for key in ("traceId", "spanId", "parentSpanId"):
                            if key in holder:
                                holder[key] = base64.b64decode(holder[key]).hex()
        with open(self.path, "a") as out:
            out.write(json.dumps(request) + "\n")
        return SpanExportResult.SUCCESS


def main() -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "fleet-python"}))
    if path := os.environ.get("FLEET_TRACE_FILE"):
        provider.add_span_processor(SimpleSpanProcessor(OTLPJSONFileExporter(path)))
    trace.set_tracer_provider(provider)
    app.run_worker(queues=["python"], wait=False, install_signal_handlers=False)
    provider.shutdown()


if __name__ == "__main__":
    main()
