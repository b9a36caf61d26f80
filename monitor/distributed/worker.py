"""`scrapewatch worker`: takes crawl jobs from the Redis stream (new ones, or a silent worker's after the visibility
timeout), runs each with the project's own CrawlService, and returns the items; a job that keeps failing is
dead-lettered. At least once: a result may arrive twice, and the coordinator applies it once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
import uuid
from typing import Any

from monitor import metrics
from monitor.distributed import codec
from monitor.distributed.limiter import DomainLimiter
from monitor.distributed.queue import (
    BULK_TIMEOUT_SECONDS,
    TRANSIENT,
    WORKERS_GROUP,
    Names,
    connect,
    dumps,
    ensure_group,
    is_nogroup,
    loads,
    persist,
)
from monitor.errors import ErrorKind
from monitor.runtime.crawl import CrawlService
from monitor.settings import Settings

log = logging.getLogger(__name__)


class Worker:
    """``concurrency`` slots, each taking one job at a time; ``run()`` until ``stop()``."""

    def __init__(self, settings: Settings, concurrency: int = 1, name: str | None = None):
        self.settings, self.dist = settings, settings.distributed
        if not self.dist.redis_url:
            raise ValueError("distributed.redis_url is not set: a worker needs the coordinator's Redis")
        self.concurrency = concurrency
        self.name = name or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:4]}"
        self.names = Names.of(self.dist)
        self.redis = connect(self.dist.redis_url)
        self._bulk = connect(self.dist.redis_url, socket_timeout=BULK_TIMEOUT_SECONDS)  # results and blobs
        self.crawl = CrawlService(settings)
        self.limiter = DomainLimiter(
            self.redis, self.names, self.dist.domain_concurrency, self.dist.domain_delay_seconds,
            self.dist.visibility_timeout_seconds,
        )  # fmt: skip
        self._stop = asyncio.Event()
        self.last_contact = 0.0  # when Redis last answered (for /healthz)
        self.running: dict[str, str] = {}  # job id -> label
        self._cursor: bytes | str = "0-0"

    @property
    def _visibility_ms(self) -> int:
        return int(self.dist.visibility_timeout_seconds * 1000)

    def stop(self) -> None:
        self._stop.set()

    def healthy(self) -> tuple[bool, dict[str, Any]]:
        """Redis answered within two visibility timeouts (a blocked read answers every second)."""
        silent = time.time() - self.last_contact
        ok = silent < max(10.0, 2 * self.dist.visibility_timeout_seconds)
        return ok, {"worker": self.name, "redis_silent_seconds": round(silent, 1), "running": sorted(self.running)}

    async def run(self) -> None:
        """Take and run jobs until :meth:`stop`; then finish the jobs in hand (a stopped one is reclaimed later)."""
        await persist("creating the workers group", float("inf"), self._ensure_group)
        log.info("worker %s: %d slot(s) on %s", self.name, self.concurrency, self.names.jobs)
        slots = [asyncio.ensure_future(self._slot()) for _ in range(self.concurrency)]
        await self._stop.wait()
        grace = self.settings.scheduler.shutdown_grace_seconds
        _, pending = await asyncio.wait(slots, timeout=grace)
        if pending:
            await self.crawl.stop()
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=5)
        await self.redis.aclose()
        await self._bulk.aclose()

    async def _ensure_group(self) -> None:
        await ensure_group(self.redis, self.names.jobs, WORKERS_GROUP)

    async def _slot(self) -> None:
        while not self._stop.is_set():
            try:
                taken = await self._take()
            except TRANSIENT as exc:
                log.warning("worker %s: Redis unreachable (%s)", self.name, exc)
                await asyncio.sleep(0.5)
                continue
            except Exception as exc:
                if not is_nogroup(exc):
                    raise
                await self._ensure_group()  # Redis restarted without its data
                continue
            self.last_contact = time.time()
            if taken is not None:
                await self._handle(*taken)

    async def _take(self) -> tuple[bytes, dict[str, Any], bool] | None:
        # A job idle past the visibility timeout belongs to a worker that stopped heart-beating: take it over first.
        # The cursor walks the pending list across calls: XAUTOCLAIM looks at a bounded stretch of it per call.
        cursor, claimed, *_ = await self.redis.xautoclaim(
            self.names.jobs, WORKERS_GROUP, self.name, min_idle_time=self._visibility_ms, start_id=self._cursor, count=1
        )
        self._cursor = cursor
        if claimed:
            return claimed[0][0], loads(claimed[0][1]), True
        reply = await self.redis.xreadgroup(WORKERS_GROUP, self.name, {self.names.jobs: ">"}, count=1, block=1000)
        for _, entries in reply or []:
            for entry_id, fields in entries:
                return entry_id, loads(fields), False
        return None

    async def _handle(self, entry: bytes, job: dict[str, Any], reclaimed: bool) -> None:
        job_id, domains = job["job"], job.get("domains", [])
        attempts = await self.redis.incr(self.names.attempts(job_id))
        await self.redis.expire(self.names.attempts(job_id), int(self.dist.job_deadline_seconds) + 60)
        metrics.WORKER_TAKEN.inc()
        if reclaimed:
            metrics.WORKER_RECLAIMED.inc()
            log.warning("worker %s: reclaimed job %s (%s), attempt %d", self.name, job_id, job["label"], attempts)
        if attempts > self.dist.max_attempts:
            await self._dead_letter(entry, job, attempts - 1, "its worker stopped on every attempt")
            return
        if time.time() >= job["deadline"]:
            await self._finish(entry, job, _failure(job, ErrorKind.DEADLINE, "taken after its deadline"))
            return
        token = f"{self.name}:{job_id}"
        self.running[job_id] = job["label"]
        metrics.WORKER_RUNNING.inc()
        beat = asyncio.ensure_future(self._heartbeat(entry, domains, token))
        started = time.monotonic()
        try:
            waited = await self.limiter.acquire(domains, token, until=job["deadline"])
            metrics.WORKER_LEASE_WAIT.observe(waited)
            started = time.monotonic()
            result = await asyncio.wait_for(self._execute(job), timeout=max(0.0, job["deadline"] - time.time()))
        except TimeoutError:
            metrics.WORKER_FAILED.labels("deadline").inc()
            await self._finish(entry, job, _failure(job, ErrorKind.DEADLINE, "the crawl outlasted the job's deadline"))
        except codec.ResultTooLarge as exc:
            metrics.WORKER_FAILED.labels("too_large").inc()
            await self._finish(entry, job, _failure(job, ErrorKind.TOO_LARGE, str(exc)))
        except Exception as exc:
            metrics.WORKER_FAILED.labels("error").inc()
            detail = f"{type(exc).__name__}: {exc}"[:1000]
            log.warning("worker %s: job %s failed (attempt %d of %d): %s", self.name, job_id, attempts,
                        self.dist.max_attempts, detail)  # fmt: skip
            if attempts >= self.dist.max_attempts:
                await self._dead_letter(entry, job, attempts, detail)
            else:
                await self._retry(entry, job)
        else:
            await self._finish(entry, job, {**result, "seconds": round(time.monotonic() - started, 3)})
        finally:
            metrics.WORKER_JOB_SECONDS.labels(job.get("spider", "policy_files")).observe(time.monotonic() - started)
            beat.cancel()
            self.running.pop(job_id, None)
            metrics.WORKER_RUNNING.dec()
            with contextlib.suppress(*TRANSIENT):
                await self.limiter.release(domains, token)

    async def _execute(self, job: dict[str, Any]) -> dict[str, Any]:
        overrides = job.get("overrides") or None
        if job["kind"] == "policy":
            items: Any = await self.crawl.crawl_policy(job["label"], job["wanted"], overrides)
        else:
            spidercls = self.crawl.spider_class(job["spider"])
            if job["render"]:
                metrics.WORKER_CHROMIUM_STARTS.inc()
            items = await self.crawl.run_spider(
                spidercls, job["label"], item_type=codec.ITEM_TYPES[job["item_type"]], render=job["render"],
                overrides=overrides, **job["args"],
            )  # fmt: skip
        encoder = codec.Encoder(self.dist.inline_bytes_max, self.dist.max_result_bytes)
        encoded = encoder.encode(items)
        if encoder.blobs:
            pipe = self._bulk.pipeline(transaction=False)
            for sha, data in encoder.blobs.items():
                pipe.set(self.names.blob(sha), data, ex=self.dist.blob_ttl_seconds)
            await pipe.execute()
        return {"job": job["job"], "ok": True, "items": encoded, "worker": self.name}

    async def _heartbeat(self, entry: bytes, domains: list[str], token: str) -> None:
        """Keep the job ours (its idle time reset) and its domain leases alive while it runs."""
        while True:
            await asyncio.sleep(self.dist.visibility_timeout_seconds / 3)
            try:
                await self.redis.xclaim(self.names.jobs, WORKERS_GROUP, self.name, 0, [entry], justid=True)
                await self.limiter.renew(domains, token)
                self.last_contact = time.time()
            except TRANSIENT as exc:
                log.warning("worker %s: heartbeat failed (%s)", self.name, exc)
            except Exception as exc:  # the group is gone (a Redis restart): the result still goes out
                log.warning("worker %s: heartbeat refused (%s)", self.name, exc)

    async def _finish(self, entry: bytes, job: dict[str, Any], result: dict[str, Any]) -> None:
        """Publish the result (waiting out a Redis restart), then acknowledge and delete the job."""
        until = job["deadline"] + self.dist.visibility_timeout_seconds
        await persist(
            f"returning job {job['job']}",
            until,
            lambda: self._bulk.xadd(
                self.names.results, dumps(result), maxlen=self.dist.results_max_length, approximate=True
            ),
        )
        await self._forget(entry, job)

    async def _forget(self, entry: bytes, job: dict[str, Any]) -> None:
        try:
            pipe = self.redis.pipeline(transaction=False)
            pipe.xack(self.names.jobs, WORKERS_GROUP, entry)
            pipe.xdel(self.names.jobs, entry)
            pipe.delete(self.names.attempts(job["job"]))
            await pipe.execute(raise_on_error=False)
        except TRANSIENT as exc:  # the job stays pending: it is reclaimed, run again, and its result dropped
            log.warning("worker %s: could not acknowledge job %s (%s)", self.name, job["job"], exc)

    async def _retry(self, entry: bytes, job: dict[str, Any]) -> None:
        """Queue the job again at once (a fresh entry) rather than after the visibility timeout."""
        again = dumps(job)
        await persist(f"requeueing job {job['job']}", job["deadline"], lambda: self.redis.xadd(self.names.jobs, again))
        try:
            pipe = self.redis.pipeline(transaction=False)
            pipe.xack(self.names.jobs, WORKERS_GROUP, entry)
            pipe.xdel(self.names.jobs, entry)
            await pipe.execute(raise_on_error=False)
        except TRANSIENT:
            pass

    async def _dead_letter(self, entry: bytes, job: dict[str, Any], attempts: int, detail: str) -> None:
        metrics.WORKER_FAILED.labels("dead_letter").inc()
        log.error("worker %s: job %s dead-lettered after %d attempt(s): %s", self.name, job["job"], attempts, detail)
        dead = {**job, "attempts": attempts, "error_detail": detail, "dead_at": time.time()}
        entry_fields = dumps(dead)
        await persist(
            f"dead-lettering job {job['job']}", float("inf"), lambda: self.redis.xadd(self.names.dead, entry_fields)
        )
        message = f"dead-lettered after {attempts} attempt(s) (distributed.max_attempts); last error: {detail}"
        await self._finish(entry, job, _failure(job, ErrorKind.DEAD_LETTER, message))


def _failure(job: dict[str, Any], kind: ErrorKind, detail: str) -> dict[str, Any]:
    return {"job": job["job"], "ok": False, "error_kind": kind.value, "error_detail": detail}


async def run_worker(settings: Settings, concurrency: int, listen: str | None = None) -> None:
    """Serve /metrics and /healthz and run a :class:`Worker` until SIGTERM / SIGINT."""
    from monitor.distributed.worker_http import listen_worker

    worker = Worker(settings, concurrency)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, worker.stop)
    port = listen_worker(worker, listen or settings.distributed.worker_listen)
    try:
        await worker.run()
    finally:
        stopped = port.stopListening()
        if stopped is not None:
            await stopped.asFuture(loop)
