"""Python procrastinate 3.10 with OpenTelemetry, written the way the Python tracing guide
writes it: the producer injects the current context into a dict passed as `trace_context`;
the task extracts it and opens its span under it.

Usage (PROCR_DSN names the database, PROCR_OUT a JSON-lines file the task appends to):
    python traced_app.py defer TASK QUEUE JSON_ARGS   # prints {"job_id", "trace_id", "span_id"}
    python traced_app.py worker QUEUE                 # one-shot worker on QUEUE
"""

import json
import os
import sys
from typing import Dict, Optional

import procrastinate
from opentelemetry import trace
from opentelemetry.propagate import extract, inject
from opentelemetry.sdk.trace import TracerProvider

trace.set_tracer_provider(TracerProvider())
tracer = trace.get_tracer("interop")

app = procrastinate.App(
    connector=procrastinate.PsycopgConnector(conninfo=os.environ["PROCR_DSN"])
)


def ids(span):
    context = span.get_span_context()
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


@app.task(name="python.send_report", queue="python", pass_context=True)
def send_report(context, report_id: int, when: str, trace_context: Optional[Dict[str, str]] = None):
    parent = extract(trace_context) if trace_context else None
    with tracer.start_as_current_span("python.send_report", context=parent) as span:
        trace_id, span_id = ids(span)
        parent_span = span.parent
        with open(os.environ["PROCR_OUT"], "a") as out:
            record = {
                "job_id": context.job.id,
                "trace_id": trace_id,
                "span_id": span_id,
                "parent_span_id": format(parent_span.span_id, "016x") if parent_span else None,
                "args": {"report_id": report_id, "when": when},
            }
            out.write(json.dumps(record) + "\n")


def main(argv):
    command = argv[1]
    if command == "defer":
        task, queue, args = argv[2], argv[3], json.loads(argv[4])
        with tracer.start_as_current_span("python.request") as span:
            trace_context: Dict[str, str] = {}
            inject(trace_context)
            with app.open():
                job_id = app.configure_task(task, queue=queue).defer(
                    trace_context=trace_context, **args
                )
            trace_id, span_id = ids(span)
        print(json.dumps({"job_id": job_id, "trace_id": trace_id, "span_id": span_id}))
    elif command == "worker":
        app.run_worker(
            queues=[argv[2]], wait=False, install_signal_handlers=False, listen_notify=False
        )
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv)
