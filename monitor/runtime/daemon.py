"""The long-lived process: scheduler, crawls, evaluation, storage and the HTTP server on one reactor."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_SUBMITTED, JobExecutionEvent, JobSubmissionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor import metrics
from monitor.agents import RegistryError, load_registry
from monitor.alerts.sender import AlertSender
from monitor.db import check_writable, open_db
from monitor.errors import ConfigError, StartupError, StorageError
from monitor.probes.policy import PolicySnapshotProbe
from monitor.probes.scraping import ScrapingProbes, scraping_jobs
from monitor.probes.watch import ExposureProbe
from monitor.runtime.crawl import CrawlService
from monitor.settings import ProtectedDomain, Settings, WatchTarget
from monitor.signatures import load_catalogue
from monitor.store.core import Store
from monitor.store.files import EvidenceFiles
from monitor.web.server import build_site

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """One scheduled probe: its id, cadence, the domain its probe-health alerts are about, and what it runs."""

    id: str
    interval_seconds: int
    jitter_seconds: int
    domain: str
    run: Callable[[], Awaitable[Any]]


class Daemon:
    """Owns every long-lived component; ``start()`` then ``serve()`` or ``run_once()``, then ``stop()``."""

    def __init__(self, settings: Settings, crawl: CrawlService | None = None):
        self.settings = settings
        self.crawl = crawl
        self.store: Store | None = None
        self.alerts: AlertSender | None = None
        self.scheduler: AsyncIOScheduler | None = None
        self._port: Any = None
        self._collector: metrics.StoreCollector | None = None
        self._running: set[asyncio.Task] = set()
        self._last_finished: dict[str, float] = {}
        self._started = time.time()
        self._stop = asyncio.Event()
        self._scraping_jobs: list[tuple[str, int, int, Any]] = []
        self.job_failures = 0

    # ---- lifecycle ---------------------------------------------------------------------------------

    async def start(self, serve_http: bool = True) -> None:
        """Open the database (migrating it), listen on HTTP, prepare the crawler. Raises StartupError."""
        db_path = self.settings.storage.database_path
        try:
            self.settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
            self.store = Store(open_db(db_path, self.settings.storage.busy_timeout_ms))
            check_writable(self.store.db)
        except StorageError as exc:
            raise StartupError(f"{exc} (check storage.data_dir / storage.database and permissions)") from exc
        except OSError as exc:
            raise StartupError(f"cannot use data directory {self.settings.storage.data_dir}: {exc.strerror}") from exc
        if self.crawl is None:
            self.crawl = CrawlService(self.settings)
        try:
            registry = load_registry(self.settings.policy.agents_file)
        except RegistryError as exc:
            raise StartupError(f"policy.agents_file: {exc}") from exc
        self.probe = PolicySnapshotProbe(self.store, self.crawl, registry.tokens(), self.settings.policy)
        catalogue = None
        if self.settings.catalogue.path is not None:
            try:
                catalogue = load_catalogue(self.settings.catalogue.path)
            except ConfigError as exc:
                raise StartupError(f"catalogue.path: {exc}") from exc
        evidence = EvidenceFiles(self.settings.storage.data_dir / "evidence")
        self.exposure = ExposureProbe(
            self.store, self.crawl, evidence, catalogue, self.settings.watch.resolve_after_clean_runs
        )
        self.scraping = ScrapingProbes(self.store, self.crawl, evidence, self.settings, catalogue)
        try:
            self._scraping_jobs = scraping_jobs(self.settings, catalogue)
        except ConfigError as exc:
            raise StartupError(str(exc)) from exc
        try:
            self.alerts = AlertSender(self.store, self.settings)
        except ValueError as exc:  # the settings validator refuses bad URLs first; this is the last guard
            raise StartupError(f"alerts.channels: {exc}") from exc
        self._collector = metrics.StoreCollector(self._read_connection)
        metrics.REGISTRY.register(self._collector)
        if serve_http:
            self._listen()

    def _listen(self) -> None:
        from twisted.internet import reactor
        from twisted.internet.error import CannotListenError

        http = self.settings.http
        site = build_site(self._read_store, self.ready, self.settings.storage.data_dir / "evidence", http.api_token)
        try:
            self._port = reactor.listenTCP(http.listen_port, site, interface=http.listen_host)
        except CannotListenError as exc:
            raise StartupError(f"cannot listen on {http.listen}: {exc.socketError}") from exc
        log.info("HTTP server listening on http://%s:%d", http.listen_host, self.port)

    @property
    def port(self) -> int:
        return self._port.getHost().port if self._port else 0

    def _read_connection(self):
        return open_db(self.settings.storage.database_path, migrate=False).conn

    def _read_store(self) -> Store:
        return Store(open_db(self.settings.storage.database_path, self.settings.storage.busy_timeout_ms, False))

    def jobs(self) -> list[Job]:
        """Every probe job: one policy snapshot per protected domain, one exposure crawl per watch target."""
        jobs = [
            Job(f"policy_snapshot:{d.domain}", d.interval_seconds, d.jitter_seconds, d.domain, self._policy_run(d))
            for d in self.settings.protected_domains
        ]
        for t in self.settings.watch.targets:
            job_id = f"exposure_watch:{t.name}"
            host = urlsplit(t.start_urls[0]).hostname or t.name
            jitter = min(300, t.interval_seconds // 10)
            jobs.append(Job(job_id, t.interval_seconds, jitter, host, self._exposure_run(job_id, t)))
        for job_id, interval, jitter, spec in self._scraping_jobs:
            jobs.append(Job(job_id, interval, jitter, job_id.split(":", 1)[1], self._scraping_run(job_id, spec)))
        return jobs

    def _policy_run(self, domain: ProtectedDomain) -> Callable[[], Awaitable[Any]]:
        return lambda: self.probe.run(f"policy_snapshot:{domain.domain}", domain)

    def _exposure_run(self, job_id: str, target: WatchTarget) -> Callable[[], Awaitable[Any]]:
        return lambda: self.exposure.run(job_id, target)

    def _scraping_run(self, job_id: str, spec: Any) -> Callable[[], Awaitable[Any]]:
        return lambda: self.scraping.run(job_id, spec)

    async def serve(self) -> None:
        """Schedule every job and run until SIGTERM / SIGINT or ``request_stop()``."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread (tests)
                loop.add_signal_handler(sig, self.request_stop, sig)
        self.scheduler = AsyncIOScheduler(event_loop=loop, timezone=UTC)
        self.scheduler.add_listener(self._on_event, EVENT_JOB_SUBMITTED | EVENT_JOB_ERROR)
        now = datetime.now(UTC)
        for job in self.jobs():
            self.scheduler.add_job(
                self._run_job,
                IntervalTrigger(seconds=job.interval_seconds, jitter=job.jitter_seconds or None),
                args=[job],
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
        self.scheduler.start()
        log.info("scheduler started with %d job(s)", len(self.jobs()))
        await self._stop.wait()

    def _schedule_alerts(self, now: datetime) -> None:
        assert self.scheduler is not None and self.alerts is not None
        alerts = self.settings.alerts
        self.scheduler.add_job(
            self.alerts.run_job,
            IntervalTrigger(seconds=alerts.drain_interval_seconds),
            id="alerts_sender",
            name="alerts_sender",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
            next_run_time=now,
        )
        if self.alerts.digest_channels():
            self.scheduler.add_job(
                self.alerts.run_job,
                IntervalTrigger(seconds=alerts.digest_interval_seconds),
                args=["digest"],
                id="alerts_digest",
                name="alerts_digest",
                coalesce=True,
                max_instances=1,
                misfire_grace_time=None,
            )

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
        results = await asyncio.gather(*(self._run_job(job) for job in self.jobs()))
        if self.alerts is not None:
            try:
                await self.alerts.drain()
            except Exception:  # what was committed stays in the outbox for the next start
                log.exception("the alert sender failed; undelivered alerts stay in the outbox")
                return False
        return all(results)

    async def stop(self) -> None:
        """Stop scheduling, give running crawls the grace period, stop the rest, flush and close."""
        if self.scheduler is not None and self.scheduler.running:
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
        if self.alerts is not None:
            await self.alerts.stop()
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

    async def _run_job(self, job: Job) -> bool:
        """Run one probe job; every exception is logged and counted, never raised."""
        job_id = job.id
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            await job.run()
            if self.alerts is not None:
                self.alerts.check_probe_health(job_id, job.domain)
                self._nudge_sender()
        except asyncio.CancelledError:
            log.warning("job %s cancelled during shutdown", job_id)
            return False
        except Exception:
            log.exception("job %s crashed; the daemon keeps running", job_id)
            metrics.JOB_ERRORS.labels(job_id).inc()
            metrics.JOB_RUNS.labels(job_id, "error").inc()
            self.job_failures += 1
            return False
        else:
            metrics.JOB_RUNS.labels(job_id, "ok").inc()
            metrics.JOB_LAST_SUCCESS.labels(job_id).set(time.time())
            return True
        finally:
            self._last_finished[job_id] = time.time()
            if task is not None:
                self._running.discard(task)

    def _on_event(self, event: Any) -> None:
        if isinstance(event, JobSubmissionEvent) and event.scheduled_run_times:
            lag = (datetime.now(UTC) - event.scheduled_run_times[0]).total_seconds()
            metrics.JOB_LAG.observe(max(0.0, lag))
        elif isinstance(event, JobExecutionEvent) and event.exception is not None:
            # _run_job catches everything; this is the scheduler's own failure path.
            metrics.JOB_ERRORS.labels(event.job_id).inc()

    # ---- readiness ---------------------------------------------------------------------------------

    def ready(self) -> tuple[bool, dict[str, Any]]:
        """Database writable, scheduler running, and no job overdue by more than two intervals."""
        checks: dict[str, Any] = {}
        try:
            store = self._read_store()
            try:
                check_writable(store.db)
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
        return checks["database"] == "ok" and running and not overdue, checks
