"""The daemon's crawl service when ``distributed.redis_url`` is set: each crawl becomes a job on a Redis stream, and
the run awaits its result from a worker instead of crawling in the daemon's process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

from pydantic_core import to_jsonable_python
from scrapy import Spider

from monitor import metrics
from monitor.distributed import codec
from monitor.distributed.queue import (
    BULK_TIMEOUT_SECONDS,
    COORDINATOR_GROUP,
    TRANSIENT,
    WORKERS_GROUP,
    Names,
    connect,
    dumps,
    ensure_group,
    is_nogroup,
    job_domains,
    loads,
    persist,
    queue_stats,
)
from monitor.errors import CrawlError, ErrorKind, RemoteJobFailed
from monitor.runtime.crawl import CURRENT_RUN, CrawlService
from monitor.settings import Settings
from spiders.items import PolicyFileItem

log = logging.getLogger(__name__)


class RemoteCrawlService(CrawlService):
    """A :class:`CrawlService` whose crawls run on `scrapewatch worker` processes (at least once; the daemon applies
    each run once). A job without a result by its deadline, or dead-lettered, raises :class:`RemoteJobFailed`."""

    def __init__(self, settings: Settings):
        super().__init__(settings)
        self._dist = settings.distributed
        assert self._dist.redis_url, "RemoteCrawlService needs distributed.redis_url"
        self.names = Names.of(self._dist)
        self.redis = connect(self._dist.redis_url)
        # Results and blobs on a connection of their own that waits longer for a reply (queue.BULK_TIMEOUT_SECONDS).
        self._bulk = connect(self._dist.redis_url, socket_timeout=BULK_TIMEOUT_SECONDS)
        self._consumer = f"coordinator-{uuid.uuid4().hex[:8]}"
        self._waiting: dict[str, tuple[asyncio.Future[dict[str, Any]], dict[str, Any]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._server_id: str | None = None
        self._closed = False
        self._reader_error: str | None = None  # why the last read of results failed; None once one succeeds
        self.queue: dict[str, Any] = {"redis": "not contacted yet", "depth": 0, "taken": 0, "oldest_age_seconds": 0.0}

    # ---- the crawl seam --------------------------------------------------------------------------------

    async def run_spider(
        self,
        spidercls: type[Spider],
        label: str,
        *,
        item_type: type,
        render: bool = False,
        overrides: Mapping[str, Any] | None = None,
        **spider_args: Any,
    ) -> list[Any]:
        args = to_jsonable_python(spider_args)
        job = {
            "kind": "spider", "spider": spidercls.name, "label": label, "item_type": item_type.__name__,
            "render": render, "overrides": to_jsonable_python(dict(overrides or {})), "args": args,
        }  # fmt: skip
        result = await self._submit(job, job_domains(args))
        return await self._decode(result["items"])

    async def crawl_policy(
        self, label: str, wanted: dict[str, dict[str, str]], overrides: Mapping[str, Any] | None = None
    ) -> dict[str, list[PolicyFileItem]]:
        overrides = to_jsonable_python(dict(overrides or {}))
        job = {"kind": "policy", "label": label, "wanted": wanted, "overrides": overrides}
        result = await self._submit(job, sorted(wanted))
        return await self._decode(result["items"])

    def active(self) -> int:
        return len(self._waiting)

    async def stop(self) -> None:
        """Refuse new crawls; runs still waiting for a worker keep waiting until the daemon cancels them."""
        self._stopping = True
        await asyncio.sleep(0)

    async def join(self, timeout: float) -> bool:
        pending = [future for future, _ in self._waiting.values() if not future.done()]
        if not pending:
            return True
        _, still = await asyncio.wait(pending, timeout=timeout)
        return not still

    async def close(self) -> None:
        """Stop reading results and close the connection."""
        self._closed = True  # the loops end even if a Redis call swallowed the cancellation
        for task in self._tasks:
            task.cancel()
        if self._tasks:  # bounded: a stop never hangs on a Redis that does not answer
            await asyncio.wait(self._tasks, timeout=5)
        self._tasks = []
        for client in (self.redis, self._bulk):
            with contextlib.suppress(TimeoutError, *TRANSIENT):
                await asyncio.wait_for(client.aclose(), timeout=5)

    # ---- jobs and results ------------------------------------------------------------------------------

    async def _submit(self, job: dict[str, Any], domains: list[str]) -> dict[str, Any]:
        if self._stopping:
            raise CrawlError(f"not queueing the crawl of {job['label']}: the crawl service is stopping")
        self.start()
        tag = CURRENT_RUN.get()
        if tag is not None:
            tag.crawls += 1
        run = tag.key if tag is not None else uuid.uuid4().hex
        job_id = f"{run}.{tag.crawls}" if tag is not None else run
        now = time.time()
        job.update(job=job_id, run=run, queued_at=now, deadline=now + self._dist.job_deadline_seconds, domains=domains)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[job_id] = (future, job)
        what = f"the crawl of {job['label']} (job {job_id})"
        try:
            await persist(f"queueing {what}", job["deadline"], lambda: self._add(job))
            metrics.QUEUE_SUBMITTED.inc()
            result = await asyncio.wait_for(asyncio.shield(future), timeout=max(0.0, job["deadline"] - time.time()))
        except (TimeoutError, *TRANSIENT) as exc:
            metrics.QUEUE_RESULTS.labels("deadline").inc()
            raise RemoteJobFailed(
                f"{what} had no result within distributed.job_deadline_seconds "
                f"({self._dist.job_deadline_seconds:.0f}s){'' if isinstance(exc, TimeoutError) else f': {exc}'}",
                ErrorKind.DEADLINE.value,
            ) from None
        finally:
            self._waiting.pop(job_id, None)
        if not result.get("ok"):
            kind = result.get("error_kind") or ErrorKind.CRASH.value
            metrics.QUEUE_RESULTS.labels("dead_letter" if kind == ErrorKind.DEAD_LETTER else "failed").inc()
            raise RemoteJobFailed(f"{what} failed on {result.get('worker')}: {result.get('error_detail')}", kind)
        metrics.QUEUE_RESULTS.labels("applied").inc()
        return result

    async def _add(self, job: dict[str, Any]) -> None:
        entry = await self.redis.xadd(self.names.jobs, dumps(job))
        job["entry"] = entry.decode()

    async def _decode(self, encoded: Any) -> Any:
        refs = sorted(codec.blob_refs(encoded))
        blobs: dict[str, bytes] = {}
        if refs:
            values = await self._bulk.mget([self.names.blob(sha) for sha in refs])
            blobs = {sha: value for sha, value in zip(refs, values, strict=True) if value is not None}
        try:
            return codec.decode(encoded, blobs)
        except ValueError as exc:
            raise CrawlError(f"a worker's result could not be read: {exc}") from exc

    def start(self) -> None:
        """Begin reading results and watching the queue (on the running loop); called again, it does nothing."""
        if not self._tasks and not self._closed:
            self._tasks = [asyncio.ensure_future(self._read_results()), asyncio.ensure_future(self._watch())]

    async def _read_results(self) -> None:
        """Hand each result to the run awaiting it; a result nobody awaits (late, or delivered twice) is dropped.

        A reply cut off (a dropped connection, a read timeout) leaves its entries delivered to this consumer but unread:
        after any such error, and at start, this consumer's pending entries are read again (id 0) before new ones."""
        await persist("creating the results group", float("inf"), self._ensure_groups)
        recover = True
        while not self._closed:
            start = "0" if recover else ">"
            try:
                reply = await self._bulk.xreadgroup(
                    COORDINATOR_GROUP, self._consumer, {self.names.results: start}, count=100, block=1000
                )
            except TRANSIENT as exc:
                log.warning("reading results: Redis unreachable (%s)", exc)
                recover = True
                await asyncio.sleep(0.5)
                continue
            except Exception as exc:
                if is_nogroup(exc):
                    # On the reading connection, which just answered: the other one may still hold a connection to
                    # the Redis that went away. A failure here is retried by the next round.
                    with contextlib.suppress(*TRANSIENT):
                        await self._ensure_groups(self._bulk)
                    continue
                # Any other error reply (Redis out of memory, a renamed command, ...) is logged and retried: a reader
                # that ended here would leave every run waiting for its deadline, with nothing said.
                self._reader_error = f"{type(exc).__name__}: {exc}"
                log.exception("reading results failed; retrying in 2 s")
                recover = True
                await asyncio.sleep(2.0)
                continue
            self._reader_error = None
            ids = []
            for _, entries in reply or []:
                for entry_id, fields in entries:
                    ids.append(entry_id)
                    if fields:  # None: an entry pending here was trimmed from the stream meanwhile
                        self._receive(entry_id, fields)
            if recover and not ids:
                recover = False
            if ids:
                with contextlib.suppress(*TRANSIENT):
                    pipe = self._bulk.pipeline(transaction=False)
                    pipe.xack(self.names.results, COORDINATOR_GROUP, *ids)
                    pipe.xdel(self.names.results, *ids)
                    await pipe.execute()

    def _receive(self, entry_id: Any, fields: dict[bytes, bytes]) -> None:
        """Deliver one entry; one that cannot be read is dropped with a log line (it is acknowledged with the rest,
        so it is not read again and again), and the run awaiting it, if any, fails at its deadline."""
        try:
            result = loads(fields)
        except Exception as exc:
            metrics.QUEUE_RESULTS.labels("malformed").inc()
            log.error("result entry %s dropped: it cannot be read (%s)", entry_id, exc)
            return
        self._deliver(result)

    def _deliver(self, result: dict[str, Any]) -> None:
        waiting = self._waiting.get(result.get("job", ""))
        if waiting is None or waiting[0].done():
            metrics.QUEUE_RESULTS.labels("duplicate").inc()
            log.info("result of job %s dropped: no run awaits it (late, or delivered twice)", result.get("job"))
            return
        waiting[0].set_result(result)

    async def _ensure_groups(self, client: Any = None) -> None:
        client = client or self.redis
        await ensure_group(client, self.names.results, COORDINATOR_GROUP)
        await ensure_group(client, self.names.jobs, WORKERS_GROUP)

    async def _watch(self) -> None:
        """Every second: the queue's depth and age for /metrics and /readyz, and after a Redis restart that lost
        its data, the jobs still awaited are queued again (a job may then run twice; its run is applied once)."""
        while not self._closed:
            try:
                server_id = (await self.redis.info("server"))["run_id"]
                if self._server_id is not None and server_id != self._server_id:
                    await self._resubmit()
                self._server_id = server_id
                stats = await queue_stats(self.redis, self.names)
                self.queue = {"redis": "ok", **stats}
                metrics.QUEUE_DEPTH.set(stats["depth"])
                metrics.QUEUE_TAKEN.set(stats["taken"])
                metrics.QUEUE_OLDEST_AGE.set(stats["oldest_age_seconds"])
            except TRANSIENT as exc:
                self.queue = {**self.queue, "redis": f"unreachable: {exc}"}
            await asyncio.sleep(1.0)

    async def _resubmit(self) -> None:
        await self._ensure_groups()
        for future, job in list(self._waiting.values()):
            if future.done() or "entry" not in job:
                continue
            if await self.redis.xrange(self.names.jobs, min=job["entry"], max=job["entry"]):
                continue  # the restart kept it (persistence on)
            await self._add(job)
            metrics.QUEUE_RESUBMITTED.inc()
            log.warning("Redis restarted without job %s: queued again", job["job"])

    def stalled(self) -> str | None:
        """Why the queue is not healthy for /readyz (Redis unreachable, oldest job too old), or None."""
        if self.queue["redis"] not in ("ok", "not contacted yet"):
            return f"redis {self.queue['redis']}"
        if self._reader_error is not None:
            return f"results cannot be read: {self._reader_error}"
        ended = [t for t in self._tasks if t.done()]
        if ended and not self._closed:  # never expected: both loops retry every error; said rather than hidden
            return "the results reader or the queue watcher stopped"
        if self.queue["oldest_age_seconds"] > self._dist.stall_seconds:
            return f"oldest job waited {self.queue['oldest_age_seconds']:.0f}s (> distributed.stall_seconds)"
        return None
