"""One Twisted asyncio reactor per process, and a way to run coroutines on it (daemon, CLI and tests)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
ASYNCIO_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"


def _ensure() -> Any:
    import sys

    if "twisted.internet.reactor" not in sys.modules:
        from scrapy.utils.reactor import install_reactor

        install_reactor(ASYNCIO_REACTOR)
    from twisted.internet import reactor

    if type(reactor).__name__ != "AsyncioSelectorReactor":
        raise RuntimeError(f"a non-asyncio Twisted reactor is installed: {type(reactor).__name__}")
    if not reactor.running:
        _stop_threads_at_exit()
        # Started by hand rather than with reactor.run() so that the asyncio loop can be driven by
        # run_until_complete() many times in one process (CLI commands, tests).
        reactor.startRunning(installSignalHandlers=False)
    return reactor


def _stop_threads_at_exit() -> None:
    """Make interpreter exit stop the reactor's thread pool.

    Twisted resolves host names in its thread pool, whose threads are not daemons, and the pool is only
    stopped by a reactor shutdown, which a reactor started by hand never has: without this hook every
    process that crawled would hang at exit. threading._register_atexit runs before the interpreter joins
    non-daemon threads (atexit would run after, too late); concurrent.futures relies on it the same way.
    """

    def stop() -> None:
        from twisted.internet import reactor

        pool = getattr(reactor, "threadpool", None)
        if pool is not None and not pool.joined:
            pool.stop()

    threading._register_atexit(stop)


def loop() -> asyncio.AbstractEventLoop:
    """The asyncio loop that the reactor runs on."""
    return _ensure()._asyncioEventloop


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on the reactor's asyncio loop and return its result."""
    return loop().run_until_complete(coro)
