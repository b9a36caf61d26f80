"""The long-lived process: scheduler, crawls, evaluation, storage and the HTTP server on one reactor."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_SUBMITTED, JobExecutionEvent, JobSubmissionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from apscheduler.util import undefined

from monitor import metrics
from monitor.alerts.sender import AlertSender
from monitor.db import check_writable, open_db
from monitor.errors import ConfigError, StartupError
from monitor.probes.base import Job, Probe, run_probe
from monitor.probes.registry import all_jobs, build_probes
from monitor.runtime import components, loop_health
from monitor.runtime.crawl import CrawlService
from monitor.runtime.takedown import TakedownCheck
from monitor.settings import Settings
from monitor.store import Store
from monitor.web.limits import HttpLimits
from monitor.web.server import build_site, case_action_settings

log = logging.getLogger(__name__)


class Daemon:
    """Owns every long-lived component; ``start()`` then ``serve()`` or ``run_once()``, then ``stop()``."""

    def __init__(self, settings: Settings, crawl: CrawlService | None = None):
        self.settings = settings
        self.crawl = crawl
        self.store: Store | None = None
        self.alerts: AlertSender | None = None
        self.takedown: TakedownCheck | None = None
        self.scheduler: AsyncIOScheduler | None = None
        self.probes: list[Probe] = []
        self._jobs: list[tuple[Probe, Job]] = []
        self._port: Any = None
        self._collector: metrics.StoreCollector | None = None
        self._catalogue = None  # the protected catalogue, once start() built it
        self._running: set[asyncio.Task] = set()
        self._last_finished: dict[str, float] = {}  # job id -> when a run last finished without crashing
        self._crashes: dict[str, int] = {}  # job id -> runs in a row that raised
        self._started = time.time()
        self._stop = asyncio.Event()
        self.job_failures = 0

    # ---- lifecycle ---------------------------------------------------------------------------------

    @property
    def catalogue(self):
        """The protected catalogue start() loaded (None before, or without one)."""
        return self._catalogue

    async def start(self, serve_http: bool = True) -> None:
        """Open the database (migrating it), build the probes, listen on HTTP. Raises StartupError."""
        if self.crawl is None and self.settings.distributed.redis_url:
            from monitor.distributed.coordinator import RemoteCrawlService

            self.crawl = RemoteCrawlService(self.settings)  # crawls go to `scrapewatch worker` processes
        ctx = components.build(self.settings, crawl=self.crawl)
        self.store, self.crawl = ctx.store, ctx.crawl
        self._catalogue = ctx.catalogue  # describes the tracks on the case pages
        if hasattr(self.crawl, "stalled"):
            self.crawl.start()
        self.probes = build_probes(ctx)
        try:
            self._jobs = all_jobs(self.probes)
        except ConfigError as exc:
            raise StartupError(str(exc)) from exc
        try:
            self.alerts = AlertSender(self.store, self.settings)
        except ValueError as exc:  # the settings validator refuses bad URLs first; this is the last guard
            raise StartupError(f"alerts.channels: {exc}") from exc
        self.takedown = TakedownCheck(self.store, self.crawl, ctx.catalogue, self.settings.cases)
        self._collector = metrics.StoreCollector(self._read_connection)
        metrics.REGISTRY.register(self._collector)
        if serve_http:
            self._listen()

    def _listen(self) -> None:
        from twisted.internet import reactor
        from twisted.internet.error import CannotListenError

        http = self.settings.http
        limits = HttpLimits(http.request_timeout_seconds, http.idle_timeout_seconds, http.max_request_bytes)
        site = build_site(
            self._read_store,
            self.ready,
            self.settings.storage.data_dir / "evidence",
            http.api_token,
            limits,
            catalogue=self._catalogue,
            case_actions=case_action_settings(self.settings),
        )
        try:
            self._port = reactor.listenTCP(http.listen_port, site, interface=http.listen_host)
        except CannotListenError as exc:
            raise StartupError(f"cannot listen on {http.listen}: {exc.socketError}") from exc
        log.info("HTTP server listening on http://%s:%d", http.listen_host, self.port)
        if self.alerts is not None:  # alert links name the bound port, not a configured port 0
            self.alerts.listening_at(f"http://{http.listen.rpartition(':')[0]}:{self.port}")

    @property
    def port(self) -> int:
        return self._port.getHost().port if self._port else 0

    def _read_connection(self):
        return open_db(self.settings.storage.database_path, migrate=False).conn

    def _read_store(self) -> Store:
        return Store(open_db(self.settings.storage.database_path, self.settings.storage.busy_timeout_ms, False))

    def jobs(self) -> list[Job]:
        """Every probe job of every kind (see monitor.probes.registry)."""
        return [job for _, job in self._jobs]

    async def serve(self) -> None:
        """Schedule every job and run until SIGTERM / SIGINT or ``request_stop()``."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread (tests)
                loop.add_signal_handler(sig, self.request_stop, sig)
        self.scheduler = AsyncIOScheduler(event_loop=loop, timezone=UTC)
        self.scheduler.add_listener(self._on_event, EVENT_JOB_SUBMITTED | EVENT_JOB_ERROR)
        now = datetime.now(UTC)
        for probe, job in self._jobs:
            self.scheduler.add_job(
                self._scheduled_run,
                IntervalTrigger(seconds=job.interval_seconds, jitter=job.jitter_seconds or None),
                args=[probe, job],
                id=job.id,
                name=job.id,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=self.settings.scheduler.misfire_grace_seconds,
                # Spread the first runs over a few seconds so four domains do not start in one burst.
                next_run_time=now + timedelta(seconds=random.uniform(0, min(5, job.jitter_seconds or 0))),
            )
            metrics.JOB_INTERVAL.labels(job.id).set(job.interval_seconds)
        self._schedule_alerts(now)
        if self.takedown is not None:  # cases with a notice sent: their URLs fetched again when due
            self._every("takedown_recheck", self.takedown.run_job, self.settings.cases.recheck_interval_seconds, now)
        self.scheduler.start()
        loop_health.start(until=self._stop)
        log.info("scheduler started with %d job(s)", len(self.jobs()))
        await self._stop.wait()

    def _every(self, name: str, func: Any, seconds: float, first: Any = undefined, args: tuple = ()) -> None:
        """A housekeeping job (alerts, digests, takedown re-checks): one run at a time, missed runs merged into one,
        never dropped for being late; ``first``: its first run (default: one interval from now)."""
        assert self.scheduler is not None
        self.scheduler.add_job(
            func,
            IntervalTrigger(seconds=seconds),
            args=list(args),
            id=name,
            name=name,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
            next_run_time=first,
        )

    def _schedule_alerts(self, now: datetime) -> None:
        assert self.alerts is not None
        alerts = self.settings.alerts
        self._every("alerts_sender", self.alerts.run_job, alerts.drain_interval_seconds, now)
        if self.alerts.digest_channels():
            self._every("alerts_digest", self.alerts.run_job, alerts.digest_interval_seconds, args=("digest",))

    def _nudge_sender(self) -> None:
        """Send a probe's new alerts now rather than at the next drain interval."""
        if self.alerts is None:
            return
        if self.alerts.busy:
            self.alerts.drain_again()
            return
        job = self.scheduler.get_job("alerts_sender") if self.scheduler and self.scheduler.running else None
        if job is not None:
            job.modify(next_run_time=datetime.now(UTC))

    def request_stop(self, sig: int | None = None) -> None:
        if sig is not None:
            log.info("received %s: stopping", signal.Signals(sig).name)
        self._stop.set()

    async def run_once(self) -> bool:
        """Run every job once (concurrently); True when none crashed."""
        results = await asyncio.gather(*(self._run_job(probe, job) for probe, job in self._jobs))
        if self.alerts is not None:
            try:
                await self.alerts.drain()
            except Exception:  # what was committed stays in the outbox for the next start
                log.exception("the alert sender failed; undelivered alerts stay in the outbox")
                return False
        return all(results)

    async def stop(self) -> None:
        """Stop scheduling, give running jobs the grace period to finish and commit, then stop their crawls,
        cancel what is left, flush and close."""
        if self.scheduler is not None and self.scheduler.running:
            # This cancels the scheduler's own tasks (AsyncIOExecutor.shutdown); the runs themselves are separate
            # tasks (see _scheduled_run) and are drained below.
            self.scheduler.shutdown(wait=False)
        grace = self.settings.scheduler.shutdown_grace_seconds
        if self._running:
            log.info("waiting up to %.0fs for %d running job(s)", grace, len(self._running))
            _, pending = await asyncio.wait(set(self._running), timeout=grace)
            if pending:
                log.warning("%d job(s) still running after %.0fs: stopping their crawls", len(pending), grace)
                if self.crawl is not None:
                    await self.crawl.stop()
                _, pending = await asyncio.wait(pending, timeout=5)
                for task in pending:
                    task.cancel()
                if pending:  # let each cancelled run record itself (run_probe) before the store closes
                    await asyncio.wait(pending, timeout=5)
        if self.alerts is not None:
            await self.alerts.stop()
        if hasattr(self.crawl, "close"):
            await self.crawl.close()
        if self._port is not None:
            stopped = self._port.stopListening()
            if stopped is not None:
                await stopped.asFuture(asyncio.get_running_loop())
            self._port = None
        if self._collector is not None:
            metrics.REGISTRY.unregister(self._collector)
            self._collector = None
        if self.store is not None:
            self.store.db.close()
            self.store = None
        log.info("stopped")

    # ---- jobs --------------------------------------------------------------------------------------

    async def _scheduled_run(self, probe: Probe, job: Job) -> None:
        """The scheduler's job: the run is a task of its own, awaited shielded. APScheduler's AsyncIOScheduler
        cancels every job task it started on ``shutdown()``, which would throw away a run in flight before the
        shutdown grace began; shielded, the run carries on and ``stop()`` decides when it is stopped."""
        task = asyncio.ensure_future(self._run_job(probe, job))
        self._running.add(task)  # at once: stop() may run before the task's first step
        task.add_done_callback(self._running.discard)
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            log.debug("job %s: the scheduler stopped; the run in progress is drained by stop()", job.id)

    async def _run_job(self, probe: Probe, job: Job) -> bool:
        """Run one probe job through run_probe (which records a run even when the probe raises); only a failure
        to record (the database) escapes it, and that is logged and counted here, never raised."""
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            applied = await run_probe(probe, job)
            self._nudge_sender()
        except asyncio.CancelledError:
            log.warning("job %s cancelled during shutdown", job.id)
            return False
        except Exception:
            log.exception("job %s could not be recorded; the daemon keeps running", job.id)
            metrics.JOB_ERRORS.labels(job.id).inc()
            metrics.JOB_RUNS.labels(job.id, "error").inc()
            crashed = True
        else:
            crashed = applied.outcome == "error"
        finally:
            if task is not None:
                self._running.discard(task)
        if crashed:
            self.job_failures += 1
            self._crashes[job.id] = self._crashes.get(job.id, 0) + 1
            return False
        self._crashes.pop(job.id, None)
        self._last_finished[job.id] = time.time()
        return True

    def _on_event(self, event: Any) -> None:
        if isinstance(event, JobSubmissionEvent) and event.scheduled_run_times:
            lag = (datetime.now(UTC) - event.scheduled_run_times[0]).total_seconds()
            metrics.JOB_LAG.observe(max(0.0, lag))
        elif isinstance(event, JobExecutionEvent) and event.exception is not None:
            # _run_job catches everything; this is the scheduler's own failure path.
            metrics.JOB_ERRORS.labels(event.job_id).inc()

    # ---- readiness ---------------------------------------------------------------------------------

    def ready(self) -> tuple[bool, dict[str, Any]]:
        """Database writable, scheduler running, no job overdue by more than two intervals (a run that crashed does
        not count as done) and none that crashed ``alerts.probe_failures`` runs in a row."""
        checks: dict[str, Any] = {}
        try:
            store = self._read_store()
            try:
                check_writable(store.db, self.settings.storage.min_free_bytes)
            finally:
                store.db.close()
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"error: {exc}"
        running = self.scheduler is not None and self.scheduler.running
        checks["scheduler"] = "running" if running else "stopped"
        now = time.time()
        overdue = [
            job.id
            for job in self.jobs()
            if now - self._last_finished.get(job.id, self._started) > 2 * job.interval_seconds + job.jitter_seconds
        ]
        checks["overdue_jobs"] = overdue
        threshold = self.settings.alerts.probe_failures
        crashing = sorted(job for job, n in self._crashes.items() if n >= threshold)
        checks["crashing_jobs"] = crashing
        stalled = None
        if hasattr(self.crawl, "stalled"):  # crawls on workers: the queue must be moving
            stalled = self.crawl.stalled()
            checks["queue"] = {**self.crawl.queue, "stalled": stalled}
        return checks["database"] == "ok" and running and not overdue and not crashing and not stalled, checks
