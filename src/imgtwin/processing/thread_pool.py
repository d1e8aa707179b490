"""The thread pool: workers in this process, for embedding and for comparing executors.

Threads cannot be killed, so it has no per-item time limit (``workers.py``'s
process pool has one).
"""

from __future__ import annotations

import threading
from typing import Any

from imgtwin.processing.channels import END, Channel
from imgtwin.processing.task import Task


class ThreadWorkerPool:
    """``workers`` threads in this process (Pillow releases the GIL to decode)."""

    def __init__(self, workers: int, task: Task[Any, Any]) -> None:
        self.workers = workers
        self.task = task
        self._busy = 0
        self._busy_lock = threading.Lock()

    @property
    def busy_workers(self) -> int:
        """Threads decoding a file right now (for monitoring)."""
        return self._busy

    def run(self, work: Channel, results: Channel, cancel: threading.Event) -> None:
        threads = [
            threading.Thread(target=self._work, args=(work, results, cancel), name=f"imgtwin-worker-{i}", daemon=True)
            for i in range(self.workers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        results.put(END)

    def _work(self, work: Channel, results: Channel, cancel: threading.Event) -> None:
        while not cancel.is_set():
            item = work.receive()
            if item is None:
                continue
            if item is END:
                work.put(END)  # let the sibling threads see it too
                return
            with self._busy_lock:
                self._busy += 1
            try:
                result = self.task.run(item)
            finally:
                with self._busy_lock:
                    self._busy -= 1
            if not results.send(result, cancel):
                return
