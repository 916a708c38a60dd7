"""Ends a helper process when the process that started it is gone.

A test or benchmark stops its helpers itself; when it is killed first (SIGKILL, a crash,
a CI timeout), a helper would outlive it. Call `exit_with_parent()` once at start.
"""

import os
import threading
import time


def exit_with_parent(poll_seconds: float = 0.5) -> None:
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_seconds)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()
