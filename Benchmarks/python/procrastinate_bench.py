"""Python procrastinate 3.10 side of the queue benchmark (run by QueueBenchmark).

    python procrastinate_bench.py --dsn DSN --jobs N --mode MODE

MODE: defer_single (N sequential defer_async), defer_batch (one batch_defer_async of N),
process (N jobs deferred untimed, then a one-shot async worker at --concurrency C, default
1, is timed until the queue is drained; each job sleeps --work-ms milliseconds, default 0
for a no-op). The schema must exist. Prints one JSON line:
{"mode", "jobs", "seconds", "per_second"}.
"""

import argparse
import asyncio
import json
import sys
import time
import uuid

import procrastinate
import psycopg


def build_app(dsn: str, pool_size: int, queue: str, work_ms: float):
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=dsn, min_size=1, max_size=pool_size
        )
    )

    @app.task(name="bench.noop", queue=queue)
    async def noop(**kwargs):
        if work_ms > 0:
            await asyncio.sleep(work_ms / 1000)

    return app, noop


async def run(mode: str, dsn: str, jobs: int, concurrency: int, work_ms: float) -> float:
    queue = f"py_{mode}_{uuid.uuid4().hex[:8]}"
    app, noop = build_app(dsn, max(concurrency, 2), queue, work_ms)
    async with app.open_async():
        if mode == "defer_single":
            start = time.perf_counter()
            for index in range(jobs):
                await noop.defer_async(i=index)
            return time.perf_counter() - start
        if mode == "defer_batch":
            start = time.perf_counter()
            await noop.batch_defer_async(*({"i": index} for index in range(jobs)))
            return time.perf_counter() - start

        await noop.batch_defer_async(*({"i": index} for index in range(jobs)))
        # Statistics for the pre-filled jobs, as autovacuum would give them (the Swift
        # side does the same before its timed runs).
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute("ANALYZE procrastinate_jobs")
        start = time.perf_counter()
        await app.run_worker_async(
            queues=[queue],
            concurrency=concurrency,
            wait=False,
            install_signal_handlers=False,
            listen_notify=False,
        )
        elapsed = time.perf_counter() - start
    with psycopg.connect(dsn) as connection:
        done = connection.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE queue_name = %s AND status = 'succeeded'",
            (queue,),
        ).fetchone()[0]
    if done != jobs:
        raise SystemExit(f"{mode}: only {done} of {jobs} jobs succeeded")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--jobs", type=int, required=True)
    parser.add_argument(
        "--mode",
        required=True,
        choices=["defer_single", "defer_batch", "process"],
    )
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--work-ms", type=float, default=0)
    arguments = parser.parse_args()
    seconds = asyncio.run(
        run(
            arguments.mode,
            arguments.dsn,
            arguments.jobs,
            arguments.concurrency,
            arguments.work_ms,
        )
    )
    print(
        json.dumps(
            {
                "mode": arguments.mode,
                "jobs": arguments.jobs,
                "seconds": seconds,
                "per_second": arguments.jobs / seconds,
            }
        )
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
