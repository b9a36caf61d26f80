"""The decoder's subprocesses: a process-wide cap on ffmpeg/fpcalc running at once, and cancellation that kills them.

Decoding runs in worker threads (``asyncio.to_thread``) for every watch and canary job at once; without a cap a
cycle that finds many audio files would start as many ffmpeg processes as there are jobs. Cancelling the awaiting
task does not stop a thread, so the thread's children are registered with a :class:`Cancel` that the task sets when
it is cancelled: the children are killed at once instead of running to the decoder's timeout.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from monitor.errors import AudioUnusable

DEFAULT_MAX_PROCESSES = 2


class Cancel:
    """Set from any thread to kill the subprocesses a decode is running and to stop it starting new ones."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._procs: set[subprocess.Popen] = set()
        self._set = False

    def is_set(self) -> bool:
        """True once :meth:`set` was called."""
        return self._set

    def set(self) -> None:
        """Cancel: kill every running child now."""
        with self._lock:
            self._set = True
            for proc in self._procs:
                proc.kill()

    def check(self) -> None:
        """Raise ``AudioUnusable('cancelled')`` when set."""
        if self._set:
            raise AudioUnusable("cancelled", "the probe was cancelled")

    @contextmanager
    def watching(self, proc: subprocess.Popen) -> Iterator[None]:
        """Kill ``proc`` when cancelled while the block runs (or already cancelled)."""
        with self._lock:
            self._procs.add(proc)
            if self._set:
                proc.kill()
        try:
            yield
        finally:
            with self._lock:
                self._procs.discard(proc)


class ProcessSlots:
    """A resizable counting semaphore over the decoder's subprocesses (one per process: :data:`SLOTS`)."""

    def __init__(self, size: int = DEFAULT_MAX_PROCESSES):
        self._cond = threading.Condition()
        self.size = size
        self.running = 0

    def resize(self, size: int) -> None:
        """Allow ``size`` subprocesses at once from now on (waiters re-check)."""
        if size < 1:
            raise ValueError("at least one decoder process must be allowed")
        with self._cond:
            self.size = size
            self._cond.notify_all()

    @contextmanager
    def slot(self, cancel: Cancel | None = None) -> Iterator[None]:
        """Wait for a free slot (giving up when ``cancel`` is set) and hold it for the block."""
        with self._cond:
            while self.running >= self.size:
                if cancel is not None:
                    cancel.check()
                self._cond.wait(0.1)  # short: a cancellation is noticed within 0.1 s
            self.running += 1
        try:
            yield
        finally:
            with self._cond:
                self.running -= 1
                self._cond.notify()


SLOTS = ProcessSlots()


def limit_processes(size: int) -> None:
    """Cap the ffmpeg/fpcalc processes running at once in this process (the ``audio.max_processes`` setting)."""
    SLOTS.resize(size)


def run(cmd: list[str], timeout: float, cancel: Cancel | None = None) -> subprocess.CompletedProcess:
    """Run ``cmd`` under a process slot with ``timeout`` seconds, killed on timeout or cancellation."""
    name = Path(cmd[0]).name
    with SLOTS.slot(cancel):
        if cancel is not None:
            cancel.check()
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as exc:
            raise AudioUnusable("unavailable", f"cannot run {cmd[0]}: {exc.strerror or exc}") from exc
        with proc, _watched(proc, cancel):
            try:
                out, err = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired as exc:
                proc.kill()
                proc.communicate()
                raise AudioUnusable("timeout", f"{name} ran over {timeout:g} s") from exc
    if cancel is not None:
        cancel.check()  # killed by the cancellation: its partial output means nothing
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


@contextmanager
def _watched(proc: subprocess.Popen, cancel: Cancel | None) -> Iterator[None]:
    if cancel is None:
        yield
        return
    with cancel.watching(proc):
        yield
