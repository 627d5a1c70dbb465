"""The local executor: extraction in worker processes on this machine, analysis in this one.

`extract_all` keeps `settings.workers` spawned processes extracting, biggest files first,
and yields each Document (or its ExtractionError) as it finishes. A file over
`settings.file_timeout`, or one that crashes its worker, comes back as an error and the
worker is replaced; workers die with the process that started them, even by SIGKILL.
`analysed` runs segment -> embed -> tag on each extracted document in this process.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from multiprocessing.connection import wait
from pathlib import Path

from ..analyse import Analysed, Analyser, extract_safely
from ..config import Settings
from ..errors import ExtractionError, PolicymineError
from ..tag import Taxonomy
from ..types import Document
from .base import largest_first

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
READY = "ready"  # a worker's first message


def _die_with_parent(parent: int) -> None:
    """End this worker when the ingest that started it ends, even by SIGKILL: on Linux the
    kernel sends SIGKILL (prctl PR_SET_PDEATHSIG), elsewhere a thread watches the parent."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
        else:
            if os.getppid() != parent:  # the parent died before prctl took effect
                os._exit(1)
            return

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _extraction_worker(conn, settings: Settings, parent: int) -> None:
    """A worker process: extract each path received, send back the Document or the error."""
    _die_with_parent(parent)
    signal.signal(
        signal.SIGINT, signal.SIG_IGN
    )  # Ctrl-C reaches the whole group; the parent acts on it
    conn.send(READY)  # a file's time limit starts when a worker is up, not while it boots
    while True:
        try:
            path = conn.recv()
        except (EOFError, OSError):
            return
        if path is None:
            return
        conn.send(extract_safely(path, settings))


class _Worker:
    """One extraction process and the file it is working on."""

    def __init__(self, context, settings: Settings):
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=_extraction_worker, args=(child, settings, os.getpid()), daemon=True
        )
        self.process.start()
        child.close()
        self.ready = False
        self.crashed = False
        self.path: Path | None = None
        self.deadline = 0.0

    def started(self) -> None:
        """Note that the process has booted (its first message), or died booting."""
        try:
            self.ready = self.conn.recv() == READY
        except (EOFError, OSError):
            self.process.join(1)
        self.crashed = not self.ready

    def give(self, path: Path, timeout: float) -> None:
        """Start on a file, due within `timeout` seconds."""
        self.path, self.deadline = path, time.monotonic() + timeout
        self.conn.send(path)

    def take(self) -> tuple[Path, Document | ExtractionError]:
        """The finished file and its result (an error if the worker died on it)."""
        path, self.path = self.path, None
        try:
            return path, self.conn.recv()
        except (EOFError, OSError):
            self.process.join(1)
            self.crashed = True
            return path, ExtractionError(
                path, f"extraction worker crashed (exit code {self.process.exitcode})"
            )

    def kill(self) -> None:
        """Stop the process at once (it holds no state worth saving)."""
        self.process.kill()
        self.process.join()
        self.conn.close()


def extract_all(
    paths: list[Path], settings: Settings
) -> Iterator[tuple[Path, Document | ExtractionError]]:
    """Extract files in parallel worker processes, yielding each as it finishes.

    A file that takes longer than `settings.file_timeout` seconds, or that crashes its
    worker, comes back as an ExtractionError; its worker is replaced and the rest go on.
    Workers end with this generator, and with the process that runs it, however it ends.
    """
    if not paths:
        return
    # spawn, not fork: the parent may hold torch threads, which fork does not survive.
    context = multiprocessing.get_context("spawn")
    queue = deque(largest_first(paths))
    workers = [_Worker(context, settings) for _ in range(min(settings.workers, len(paths)))]
    failed_boots = 0  # in a row: a worker killed while booting is replaced, a broken install is not

    def renew(i: int) -> None:
        workers[i].kill()
        workers[i] = _Worker(context, settings)

    try:
        while True:
            for worker in workers:
                if worker.ready and worker.path is None and queue:
                    worker.give(queue.popleft(), settings.file_timeout)
            busy = [w for w in workers if w.path is not None]
            if not busy and not queue:
                return
            due = min((w.deadline for w in busy), default=None)
            wait(
                [w.conn for w in workers if w.path is not None or not w.ready],
                timeout=None if due is None else max(0.0, due - time.monotonic()),
            )
            for i, worker in enumerate(workers):
                # poll() now, not wait()'s answer: the consumer may have taken its time since
                # then, and a result that came meanwhile must not be killed as overdue.
                if worker.ready and worker.path is None:
                    continue
                if not worker.conn.poll():
                    if worker.path is not None and time.monotonic() >= worker.deadline:
                        path = worker.path
                        renew(i)
                        yield (
                            path,
                            ExtractionError(path, f"timed out after {settings.file_timeout:g} s"),
                        )
                elif not worker.ready:
                    worker.started()
                    failed_boots = failed_boots + 1 if worker.crashed else 0
                    if failed_boots >= 3:
                        raise PolicymineError(
                            f"extraction workers fail to start (exit code {worker.process.exitcode})"
                        )
                    if worker.crashed:
                        renew(i)
                else:
                    done = worker.take()
                    if worker.crashed:
                        renew(i)
                    yield done
    finally:
        for worker in workers:
            worker.kill()


def analysed(
    paths: list[Path], settings: Settings, taxonomy: Taxonomy | None = None, explain: bool = False
) -> Iterator[Analysed]:
    """executors.analysed() on this machine: each file's Analysed, as it finishes."""
    analyser = None  # the models load once the first document is extracted, while workers go on
    for path, result in extract_all(paths, settings):
        if isinstance(result, ExtractionError):
            yield Analysed(path, error=result)
        else:
            analyser = analyser or Analyser(settings, taxonomy, explain)
            yield analyser(path, result)
