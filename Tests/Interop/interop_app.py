"""The Python side of the interop tests: a procrastinate 3.10 app and a tiny CLI.

Usage (PROCR_DSN names the database, PROCR_OUT a JSON-lines file the tasks append to):
    python interop_app.py schema-apply
    python interop_app.py defer TASK QUEUE JSON_ARGS      # prints the job id
    python interop_app.py worker QUEUE                    # one-shot worker on QUEUE
"""

import json
import os
import sys
import time

import procrastinate

app = procrastinate.App(
    connector=procrastinate.PsycopgConnector(conninfo=os.environ["PROCR_DSN"])
)


def _record(context, kwargs):
    with open(os.environ["PROCR_OUT"], "a") as out:
        out.write(
            json.dumps(
                {
                    "job_id": context.job.id,
                    "task": context.job.task_name,
                    "attempts": context.job.attempts,
                    "args": kwargs,
                }
            )
            + "\n"
        )


@app.task(name="interop.record", queue="interop", pass_context=True)
def record(context, **kwargs):
    # **kwargs: a task written the guide's way accepts trace_context.
    _record(context, kwargs)


@app.task(
    name="interop.flaky",
    queue="interop",
    pass_context=True,
    retry=procrastinate.RetryStrategy(max_attempts=2),
)
def flaky(context, **kwargs):
    _record(context, kwargs)
    raise RuntimeError(f"attempt {context.job.attempts} fails on purpose")


@app.task(name="interop.locked", queue="locked", pass_context=True)
def locked(context, **kwargs):
    # Records when it ran, so the test can check that jobs sharing a lock never overlap.
    start = time.time()
    time.sleep(float(kwargs.get("sleep", 0.03)))
    with open(os.environ["PROCR_OUT"], "a") as out:
        out.write(
            json.dumps(
                {
                    "job_id": context.job.id,
                    "lock": context.job.lock,
                    "start": start,
                    "end": time.time(),
                }
            )
            + "\n"
        )


def main(argv):
    command = argv[1]
    if command == "schema-apply":
        with app.open():
            app.schema_manager.apply_schema()
    elif command == "defer":
        task, queue, args = argv[2], argv[3], json.loads(argv[4])
        with app.open():
            job_id = app.configure_task(task, queue=queue).defer(**args)
        print(job_id)
    elif command == "worker":
        app.run_worker(
            queues=[argv[2]],
            wait=False,
            install_signal_handlers=False,
            listen_notify=False,
        )
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv)
