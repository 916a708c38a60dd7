"""The generated module (PYTHONPATH) under procrastinate's InMemoryConnector, the way a
Python team unit-tests its tasks: no database. Implementations of every shape run: an object
whose __call__ is async, a plain sync function, and an async function that fails.

Prints one JSON object: what the handlers received, each job's status, and the job spans'
names and outcomes.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import everything_tasks as tasks
import procrastinate
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from procrastinate.testing import InMemoryConnector

received: list[dict[str, Any]] = []


class Jokes:
    async def __call__(
        self, context: procrastinate.JobContext, *, category: str, **_: Any
    ) -> None:
        received.append({"task": "fetch_joke", "category": category})


@tasks.implement_linked_report
def linked_report(
    context: procrastinate.JobContext, *, report_id: int, definition: str
) -> None:
    received.append({"task": "linked_report", "report_id": report_id})


@tasks.implement_always_fails
async def always_fails(context: procrastinate.JobContext, *, reason: str) -> None:
    raise RuntimeError(reason)


tasks.implement_fetch_joke(Jokes())


async def main() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    connector = InMemoryConnector()
    app = procrastinate.App(connector=connector)
    app.add_tasks_from(tasks.blueprint, namespace="")
    async with app.open_async():
        await tasks.defer_fetch_joke_async(category="memory", queue="q")
        await tasks.defer_linked_report_async(report_id=9, queue="q")
        await tasks.defer_always_fails_async(reason="no", queue="q")
        await app.run_worker_async(queues=["q"], wait=False, install_signal_handlers=False)
    statuses = {job["task_name"]: job["status"] for job in connector.jobs.values()}
    spans = [
        {"name": span.name, "outcome": (span.attributes or {}).get("procrastinate.job.outcome")}
        for span in exporter.get_finished_spans()
        if span.name.startswith("procrastinate.job.")
    ]
    print(json.dumps({"received": received, "statuses": statuses, "spans": spans}))


asyncio.run(main())
