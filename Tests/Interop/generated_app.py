"""A Python service written over the module generated from Tests/Fixtures/everything.tasks.yaml
(`procrastinate-generate --language python`), as a team sharing the queue with Swift writes it:
no hand-written propagation, typed defers and typed task implementations.

    python generated_app.py worker QUEUE...
        a one-shot worker on the queues; each job a handler ran appends one JSON line to
        PROCR_OUT: the task, the job id, and each argument's Python type and value
    python generated_app.py defer-fetch-joke QUEUE CATEGORY
        defers fetch_joke inside a `python.request` span; prints {"job_id", "trace_id"}
    python generated_app.py defer-renamed-report QUEUE
        defers linked_report with `report_number`, through a module generated from a spec
        where `report_id` was renamed so; prints {"job_id"}

PROCR_DSN names the database. The OpenTelemetry SDK records every span; at exit they are
encoded with the official OTLP protobuf encoder and appended to PROCR_SPANS, one JSON line
per span, ids in hex. The module's import path comes from PYTHONPATH.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import sys
from typing import Any, cast

import everything_tasks as tasks
import procrastinate
from google.protobuf.json_format import MessageToDict  # type: ignore[import-untyped]
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

app = procrastinate.App(
    connector=procrastinate.PsycopgConnector(conninfo=os.environ["PROCR_DSN"])
)
app.add_tasks_from(tasks.blueprint, namespace="")


def record(task: str, context: procrastinate.JobContext, **arguments: Any) -> None:
    described = {
        name: {"type": type(value).__name__, "value": describe(value)}
        for name, value in arguments.items()
    }
    line = {"task": task, "job_id": context.job.id, "arguments": described}
    with open(os.environ["PROCR_OUT"], "a") as out:
        out.write(json.dumps(line) + "\n")


def describe(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime.datetime) else value


@tasks.implement_python_send_report
async def send_report(
    context: procrastinate.JobContext, *, report_id: int, when: datetime.datetime
) -> None:
    record("python.send_report", context, report_id=report_id, when=when)
    # The report asks a Swift worker for a joke: the trace goes on through this defer.
    await tasks.defer_fetch_joke_async(
        category=f"report-{report_id}",
        tags=["from-python"],
        not_before=when,
        extra={"nested": [1, 2.5, None, True]},
        queue=context.job.queue + "-swift",
    )


@tasks.implement_fetch_joke
def fetch_joke(
    context: procrastinate.JobContext,
    *,
    category: str,
    limit: int,
    tags: list[str] | None,
    ratio: float,
    safe: bool,
    not_before: datetime.datetime | None,
    extra: tasks.JSON | None,
    matrix: list[list[int]],
    label: str,
) -> None:
    # A sync implementation: it runs in a thread, inside the job's span.
    assert trace.get_current_span().get_span_context().is_valid
    record(
        "fetch_joke",
        context,
        category=category,
        limit=limit,
        tags=tags,
        ratio=ratio,
        safe=safe,
        not_before=not_before,
        extra=extra,
        matrix=matrix,
        label=label,
    )


@tasks.implement_always_fails
async def always_fails(context: procrastinate.JobContext, *, reason: str) -> None:
    raise RuntimeError(f"refused: {reason}")


@tasks.implement_linked_report
async def linked_report(
    context: procrastinate.JobContext, *, report_id: int, definition: str
) -> None:
    record("linked_report", context, report_id=report_id, definition=definition)


def dump_spans() -> None:
    request = encode_spans(exporter.get_finished_spans())
    with open(os.environ["PROCR_SPANS"], "a") as out:
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                for span in scope.spans:
                    document = MessageToDict(span)
                    for key in ("traceId", "spanId", "parentSpanId"):
                        if key in document:
                            document[key] = getattr(span, snake(key)).hex()
                    for link in document.get("links", []):
                        for key in ("traceId", "spanId"):
                            link[key] = base64.b64decode(link[key]).hex()
                    out.write(json.dumps(document) + "\n")


def snake(key: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in key)


def main(argv: list[str]) -> None:
    command = argv[1]
    try:
        if command == "worker":
            app.run_worker(
                queues=argv[2:], wait=False, install_signal_handlers=False, listen_notify=False
            )
        elif command == "defer-fetch-joke":
            with trace.get_tracer("generated_app").start_as_current_span("python.request") as span:
                with app.open():
                    job_id = tasks.defer_fetch_joke(category=argv[3], queue=argv[2])
                trace_id = format(span.get_span_context().trace_id, "032x")
            print(json.dumps({"job_id": job_id, "trace_id": trace_id}))
        elif command == "defer-sampled-ping":
            # No span around it: a root, which the task's `sample: 0` leaves out.
            with app.open():
                job_id = tasks.defer_sampled_ping(n=3, queue=argv[2])
            print(json.dumps({"job_id": job_id}))
        elif command == "defer-renamed-report":
            # Only a module generated after `report_id` became `report_number` has this
            # keyword; the fixture's does not, hence the cast.
            renamed = cast(dict[str, Any], {"report_number": 3})
            with app.open():
                job_id = tasks.defer_linked_report(**renamed, queue=argv[2])
            print(json.dumps({"job_id": job_id}))
        else:
            raise SystemExit(f"unknown command {command!r}")
    finally:
        dump_spans()


if __name__ == "__main__":
    main(sys.argv)
