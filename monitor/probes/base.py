"""The one boundary every probe kind runs through: ``run_probe`` times a run, records it even when the probe
raises, applies it in one transaction (probe health included), and updates the metrics."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from monitor import metrics
from monitor.audio.identify import AudioIdentifier
from monitor.errors import ErrorKind
from monitor.incidents import Evaluation, Evidence
from monitor.policy.matrix import Cell
from monitor.policy.snapshot import FileVerdict
from monitor.runtime.crawl import CURRENT_RUN, CrawlService, RunTag
from monitor.settings import Settings
from monitor.signatures import Catalogue
from monitor.store import Applied, ProbeRun, Store, utcnow
from spiders.items import PolicyFileItem

__all__ = ["Context", "Job", "Outcome", "Probe", "ProbeBase", "record", "run_probe"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Context:
    """What probes are built from; ``monitor.runtime.components.build`` makes one for the daemon, the CLI and
    benchmarks alike. ``store`` is None for probes that only look (``scan``, ``probe --dry-run``)."""

    settings: Settings
    crawl: CrawlService
    store: Store | None
    catalogue: Catalogue
    agents: tuple[str, ...]
    audio: AudioIdentifier | None = None  # None when the catalogue has no indexed reference audio


@dataclass(frozen=True)
class Job:
    """One scheduled unit of work of a probe kind: its id (``kind:name``), the domain its incidents and
    probe-health alerts are about, its cadence, and the kind-specific ``spec`` the probe runs."""

    id: str
    kind: str
    domain: str
    interval_seconds: int
    jitter_seconds: int
    spec: Any


@dataclass
class Outcome:
    """What one observation produced, before it is stored: findings, and the failure that makes the run a failed
    one (``error_kind``: the target did not answer, a recipe broke). The policy probe adds the files it fetched
    and the verdict matrix; ``report`` is the kind's own result, handed to ``committed`` and to callers.
    ``state`` is where the job's next run resumes, stored with the run (None: the stored point is kept)."""

    evaluation: Evaluation
    error_kind: str | None = None
    error_detail: str | None = None
    evidence: list[Evidence] = field(default_factory=list)
    files: list[tuple[PolicyFileItem, FileVerdict]] = field(default_factory=list)
    cells: list[Cell] | None = None
    previous_cells: dict[tuple[str, str], Cell] | None = None
    report: Any = None
    state: dict[str, Any] | None = None
    # A kind's own rows, written in the run's transaction: callables of the store (e.g. monitor.store.intel.write).
    writes: list[Callable[[Any, str], None]] = field(default_factory=list)


@runtime_checkable
class Probe(Protocol):
    """A probe kind: builds its jobs from the settings and observes one job (fetch, then evaluate purely)."""

    kind: ClassVar[str]
    store: Store | None
    health_threshold: int | None

    def jobs(self) -> list[Job]: ...

    async def observe(self, job: Job) -> Outcome: ...

    def committed(self, job: Job, outcome: Outcome, applied: Applied) -> None: ...


class ProbeBase(ABC):
    """What the probe kinds share: no jobs by default, nothing to do after a commit, ``run(job_id, spec)``."""

    kind: ClassVar[str] = ""
    store: Store | None = None
    health_threshold: int | None = None

    def jobs(self) -> list[Job]:
        return []

    @abstractmethod
    def domain_of(self, spec: Any) -> str:
        """The domain a job of this spec is about (its incidents' and probe-health alerts' domain)."""

    @abstractmethod
    async def observe(self, job: Job) -> Outcome:
        """Fetch and evaluate one job (no writes: the boundary records the outcome)."""

    def job(self, job_id: str, spec: Any, interval_seconds: int = 0, jitter_seconds: int = 0) -> Job:
        return Job(job_id, self.kind, self.domain_of(spec), interval_seconds, jitter_seconds, spec)

    def committed(self, job: Job, outcome: Outcome, applied: Applied) -> None:  # noqa: B027 (optional hook)
        """Called after the run's transaction committed (metrics, caches that must match the stored state)."""

    async def run(self, job_id: str, spec: Any) -> Applied:
        """Observe and record one run of ``spec`` now (through :func:`run_probe`)."""
        return await run_probe(self, self.job(job_id, spec))  # type: ignore[arg-type]


async def run_probe(probe: Probe, job: Job) -> Applied:
    """Run ``job`` once and record it; a probe that raises still records a run, outcome ``error`` with the
    exception's class and message, so that probe health and readiness see a job that crashes on every run."""
    started, t0 = utcnow(), time.monotonic()
    tag = CURRENT_RUN.set(RunTag(uuid.uuid4().hex))
    try:
        return await _observe_and_record(probe, job, started, t0)
    finally:
        CURRENT_RUN.reset(tag)


async def _observe_and_record(probe: Probe, job: Job, started: str, t0: float) -> Applied:
    try:
        outcome = await probe.observe(job)
    except asyncio.CancelledError:
        # Only the daemon's shutdown cancels a run, after the grace period: the run still happened and is
        # recorded (outcome 'error', kind 'shutdown'), then the cancellation goes on.
        detail = "stopped by the daemon's shutdown before it finished (scheduler.shutdown_grace_seconds)"
        outcome = Outcome(Evaluation(scope=f"{job.kind}:{job.domain}"), ErrorKind.SHUTDOWN.value, detail)
        try:
            record(probe, job, outcome, started, t0, status="error")
        except Exception:
            log.exception("%s: the run stopped at shutdown could not be recorded", job.id)
        raise
    except Exception as exc:
        log.exception("%s raised; the run is recorded as an error", job.id)
        detail = f"{type(exc).__name__}: {exc}"[:1000]
        # A remote crawl past its deadline or dead-lettered says so (error_kind); anything else is a crash.
        kind = getattr(exc, "error_kind", None) or ErrorKind.CRASH.value
        outcome = Outcome(Evaluation(scope=f"{job.kind}:{job.domain}"), kind, detail)
        return record(probe, job, outcome, started, t0, status="error")
    return record(probe, job, outcome, started, t0)


def record(probe: Probe, job: Job, outcome: Outcome, started: str, t0: float, status: str | None = None) -> Applied:
    """Apply ``outcome`` as one run of ``job`` in one transaction, then update the metrics."""
    if probe.store is None:
        raise RuntimeError(f"{job.id}: recording a run needs a store")
    run = ProbeRun(
        job=job.id,
        probe=job.kind,
        domain=job.domain,
        started_at=started,
        finished_at=utcnow(),
        outcome=status or ("failure" if outcome.error_kind else "success"),
        error_kind=outcome.error_kind,
        duration_seconds=time.monotonic() - t0,
        error_detail=outcome.error_detail,
        key=tag.key if (tag := CURRENT_RUN.get()) is not None and tag.crawls else None,
    )
    with metrics.DB_WRITE_SECONDS.time():
        applied = probe.store.apply(
            run,
            outcome.evaluation,
            evidence=outcome.evidence,
            files=outcome.files,
            cells=outcome.cells,
            previous_cells=outcome.previous_cells,
            health_threshold=probe.health_threshold,
            state=outcome.state,
            writes=outcome.writes,
        )
    metrics.count_transitions(applied.transitions)
    if run.outcome == "error":
        metrics.JOB_RUNS.labels(job.id, "error").inc()
        metrics.JOB_ERRORS.labels(job.id).inc()
    else:
        metrics.JOB_RUNS.labels(job.id, "ok").inc()
        metrics.JOB_LAST_SUCCESS.labels(job.id).set(time.time())
        probe.committed(job, outcome, applied)
    log.info(
        "%s: %s%s in %.2fs, %d finding(s), %d transition(s)",
        job.id,
        run.outcome,
        f" ({run.error_kind})" if run.error_kind else "",
        run.duration_seconds,
        len(outcome.evaluation.findings),
        len([t for t in applied.transitions if t.action != "clean"]),
    )
    return applied
