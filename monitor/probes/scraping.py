"""What the three scraping probe kinds (canary, archives, datasets) share: their report, the protected catalogue
and the downloader hosts they ask about, and the base that turns a report into a run."""

from __future__ import annotations

import logging
import time
from abc import abstractmethod
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from monitor.audio.identify import AudioIdentifier
from monitor.evaluators.scraping import Candidate, new_or_grown
from monitor.incidents import Evaluation, Evidence, Finding
from monitor.probes.base import Context, Job, Outcome, ProbeBase, record
from monitor.runtime.crawl import CrawlService
from monitor.settings import Settings
from monitor.settings.scraping import Endpoint
from monitor.signatures import Catalogue, load_catalogue
from monitor.store import Applied, Store, utcnow
from spiders.scraping_items import ArchivePage
from spiders.spiders.archives import ArchivesSpider

log = logging.getLogger(__name__)


@dataclass
class ScrapingReport:
    """What one run found: the findings written (or, unrecorded, that would be), problems and outcomes."""

    job: str
    probe: str
    domain: str
    findings: list[Finding] = field(default_factory=list)
    cleared: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    outcomes: list[tuple[str, str, str]] = field(default_factory=list)  # canaries: (track id, outcome, reason)
    fetched: int = 0
    page_cap_reached: bool = False
    resume: dict[str, Any] | None = None  # archives and datasets: where the next run starts
    applied: Applied | None = None

    def as_json(self) -> dict[str, Any]:
        """The report as plain data (CLI --json)."""
        return {
            "job": self.job,
            "probe": self.probe,
            "domain": self.domain,
            "fetched": self.fetched,
            "page_cap_reached": self.page_cap_reached,
            "resume": self.resume,
            "outcomes": [{"canary": c, "outcome": o, "reason": r} for c, o, r in self.outcomes],
            "errors": [{"kind": k, "detail": d} for k, d in self.errors],
            "findings": [
                {
                    "dedupe_key": f.dedupe_key,
                    "kind": f.kind,
                    "severity": f.severity,
                    "domain": f.domain,
                    "title": f.title,
                    "detail": f.detail,
                    "data": f.data,
                }
                for f in self.findings
            ],
            "recorded": self.applied is not None,
            "transitions": [
                {"action": t.action, "dedupe_key": t.dedupe_key, "severity": t.severity}
                for t in (self.applied.transitions if self.applied else [])
            ],
        }


def scraping_catalogue(settings: Settings) -> Catalogue:
    """The protected catalogue (``catalogue.path``), empty when none is configured; raises ConfigError."""
    return load_catalogue(settings.catalogue.path)


def downloader_hosts(settings: Settings) -> list[str]:
    """Hosts of the configured downloader recipes plus ``scraping.downloader_domains``."""
    hosts = [
        urlsplit(r.url or (r.url_template or "").replace("{url}", "x")).hostname or ""
        for r in settings.scraping.downloaders
    ]
    return list(dict.fromkeys(h.lower() for h in [*hosts, *settings.scraping.downloader_domains] if h))


class ScrapingProbe(ProbeBase):
    """A scraping probe kind: ``evaluate`` fetches and evaluates one job into a report; the base records it."""

    def __init__(
        self,
        store: Store | None,
        crawl: CrawlService,
        settings: Settings,
        catalogue: Catalogue | None = None,
        audio: AudioIdentifier | None = None,
    ):
        self.audio = audio  # the canary probe identifies what downloaders deliver
        self.store = store
        self.crawl = crawl
        self.settings = settings
        self.catalogue = catalogue if catalogue is not None else scraping_catalogue(settings)
        self.health_threshold = settings.alerts.probe_failures

    @classmethod
    def build(cls, ctx: Context) -> ScrapingProbe:
        return cls(ctx.store, ctx.crawl, ctx.settings, ctx.catalogue, ctx.audio)

    @abstractmethod
    async def evaluate(self, job_id: str, spec: Any) -> tuple[ScrapingReport, Evaluation, list[Evidence]]:
        """Fetch and evaluate one job: its report, what it found, and the evidence of what it found."""

    async def observe(self, job: Job) -> Outcome:
        report, evaluation, evidence = await self.evaluate(job.id, job.spec)
        found = {f.dedupe_key for f in evaluation.findings}
        return Outcome(
            evaluation,
            error_kind=report.errors[0][0] if report.errors else None,
            evidence=[e for e in evidence if e.dedupe_key in found],
            report=report,
            state=report.resume,
        )

    async def execute(self, job_id: str, spec: Any, *, record_run: bool) -> ScrapingReport:
        """One run of ``spec``, recorded or not (``scrapewatch probe --dry-run``): its report."""
        job = self.job(job_id, spec)
        started, t0 = utcnow(), time.monotonic()
        if not record_run:
            return (await self.evaluate(job_id, spec))[0]
        outcome = await self.observe(job)
        report: ScrapingReport = outcome.report
        report.applied = record(self, job, outcome, started, t0)
        return report

    def resume_point(self, job_id: str) -> dict[str, Any] | None:
        """Where the last recorded run of ``job_id`` left off (None: from the start, or nothing is stored)."""
        return self.store.probe_state(job_id) if self.store is not None else None

    def stored(self, candidates: list[Candidate]) -> list[Candidate]:
        """Candidates that are new or grew since the stored incidents (all of them when nothing is stored)."""
        if self.store is None:
            return candidates
        return new_or_grown(candidates, self.store.incident_data([c.finding.dedupe_key for c in candidates]))

    def committed(self, job: Job, outcome: Outcome, applied: Applied) -> None:
        report: ScrapingReport = outcome.report
        log.info("%s: %d problem(s), %d fetched", job.id, len(report.errors), report.fetched)


async def query_index(
    crawl: CrawlService, endpoint: Endpoint, queries: list[Any], resume: dict[str, Any] | None = None
) -> list[ArchivePage]:
    """Query one archive or dataset endpoint: every ArchivePage, in order (``queries`` are URL patterns as
    ``{"url", "match_type", "filters"}`` for the archive indexes, search terms for a dataset hub).

    One request at a time through one download slot, ``rate_limit_seconds`` apart, at most ``max_pages_per_run``;
    queries (per crawl) and datasets are taken round-robin from ``resume``, and the last page's ``resume`` says
    where the next run starts.
    """
    spec = {
        "kind": endpoint.kind, "source": endpoint.source, "base_url": endpoint.base_url,
        "max_pages": endpoint.max_pages_per_run, "max_retries": endpoint.max_retries,
        "max_retry_wait": endpoint.max_retry_wait_seconds, "rate_limit": endpoint.rate_limit_seconds,
    }  # fmt: skip
    for name in ("viewer_url", "page_size", "crawls", "max_datasets", "rows_page_size", "datasets"):
        if hasattr(endpoint, name):
            spec[name] = getattr(endpoint, name)
    return await crawl.run_spider(
        ArchivesSpider, endpoint.source, item_type=ArchivePage, endpoint=spec, queries=queries, resume=resume
    )


def resumed_at(pages: list[ArchivePage]) -> dict[str, Any] | None:
    """Where the next run starts, as the run's last page reported it (None: keep the stored point)."""
    return pages[-1].resume if pages else None


def capped(job_id: str, pages: list[Any]) -> bool:
    """True when a paginated query stopped at ``max_pages_per_run``."""
    is_capped = any(p.stop == "page_cap" for p in pages)
    if is_capped:
        at = resumed_at(pages) or {}
        log.info(
            "%s: stopped at max_pages_per_run (%d requests); the next run resumes at %s %s",
            job_id,
            len(pages),
            at.get("chain", "the first query"),
            at.get("position") or "",
        )
    return is_capped
