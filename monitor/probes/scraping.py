"""Scraping probe jobs: canary tracks submitted to downloader services, archive index queries and dataset hub
queries. Each run fetches through the crawler, evaluates purely (monitor.scraping), writes the run, incident changes
and evidence in one transaction (Store.apply_exposure_run) and updates the metrics."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from monitor import metrics
from monitor.errors import ConfigError
from monitor.evaluators.scraping import (
    Candidate,
    EvidencePlan,
    api_errors,
    archive_candidates,
    dataset_candidates,
    evaluate_canary,
    new_or_grown,
)
from monitor.incidents import Evaluation, Finding
from monitor.runtime.crawl import CrawlService
from monitor.settings import CommonCrawlEndpoint, DatasetHubEndpoint, DownloaderRecipe, Settings, WaybackEndpoint
from monitor.signatures import Catalogue, CatalogueTrack, load_catalogue
from monitor.store.core import Applied, EvidenceRow, ProbeRun, Store, utcnow
from monitor.store.files import EvidenceFiles

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CanaryJob:
    """Submit each canary to one downloader service."""

    recipe: DownloaderRecipe
    canaries: tuple[CatalogueTrack, ...]


@dataclass(frozen=True)
class ArchiveJob:
    """Query one archive index (Wayback or Common Crawl) for ``queries`` (URL patterns)."""

    endpoint: WaybackEndpoint | CommonCrawlEndpoint
    queries: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class DatasetJob:
    """Search one dataset hub for ``queries`` (search terms) and read the datasets it finds."""

    endpoint: DatasetHubEndpoint
    queries: tuple[str, ...]


Spec = CanaryJob | ArchiveJob | DatasetJob


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
    applied: Applied | None = None

    def as_json(self) -> dict[str, Any]:
        """The report as plain data (CLI --json)."""
        return {
            "job": self.job,
            "probe": self.probe,
            "domain": self.domain,
            "fetched": self.fetched,
            "page_cap_reached": self.page_cap_reached,
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


# --- configuration -> jobs ----------------------------------------------------------------------------------------


def scraping_catalogue(settings: Settings) -> Catalogue:
    """The protected catalogue (``catalogue.path``), empty when none is configured; raises ConfigError."""
    return load_catalogue(settings.catalogue.path) if settings.catalogue.path else Catalogue()


def canary_tracks(settings: Settings, catalogue: Catalogue) -> tuple[CatalogueTrack, ...]:
    """``scraping.canaries`` resolved in the catalogue, or every catalogue track marked canary; raises ConfigError."""
    wanted = settings.scraping.canaries
    if not wanted:
        return tuple(t for t in catalogue.tracks if t.canary and t.permalink)
    missing = [c for c in wanted if c not in catalogue.by_id]
    if missing:
        raise ConfigError([("scraping.canaries", f"not in the catalogue ({settings.catalogue.path}): {missing}")])
    unlinked = [c for c in wanted if not catalogue.by_id[c].permalink]
    if unlinked:
        raise ConfigError([("scraping.canaries", f"catalogue tracks without a permalink to submit: {unlinked}")])
    return tuple(catalogue.by_id[c] for c in wanted)


def downloader_hosts(settings: Settings) -> list[str]:
    """Hosts of the configured downloader recipes plus ``scraping.downloader_domains``."""
    hosts = [
        urlsplit(r.url or (r.url_template or "").replace("{url}", "x")).hostname or ""
        for r in settings.scraping.downloaders
    ]
    return list(dict.fromkeys(h.lower() for h in [*hosts, *settings.scraping.downloader_domains] if h))


def archive_queries(settings: Settings, catalogue: Catalogue, kind: str) -> tuple[dict[str, Any], ...]:
    """The URL patterns looked up in an archive index: the catalogue's media tokens (protected tracks first),
    SoundCloud's media hosts (200 audio captures), and downloader hosts (captures carrying SoundCloud links)."""
    wayback = kind == "wayback"
    tracks = sorted(catalogue.tracks, key=lambda t: not (t.no_ai or t.canary))
    queries: list[dict[str, Any]] = []
    for token in dict.fromkeys(tok for t in tracks for tok in t.media_tokens):
        queries.append({"url": f"cf-media.sndcdn.com/{token}", "match_type": "prefix", "filters": []})
    audio = (
        ["statuscode:200", "mimetype:(audio/.*|application/vnd.apple.mpegurl)"]
        if wayback
        else ["=status:200", "~mime-detected:(audio/.*|application/vnd.apple.mpegurl)"]
    )
    for host in settings.scraping.media_hosts:
        queries.append({"url": f"{host}/", "match_type": "prefix", "filters": audio})
    carried = ["original:.*soundcloud.*"] if wayback else ["url:soundcloud"]
    for host in downloader_hosts(settings):
        queries.append({"url": host, "match_type": "domain", "filters": carried})
    return tuple(queries)


def scraping_jobs(settings: Settings, catalogue: Catalogue | None = None) -> list[tuple[str, int, int, Spec]]:
    """Every configured scraping job as ``(job_id, interval_seconds, jitter_seconds, spec)``; pass ``spec`` to
    :meth:`ScrapingProbes.run`. Raises ConfigError when downloaders are configured but no canary track is."""
    scraping = settings.scraping
    catalogue = catalogue if catalogue is not None else scraping_catalogue(settings)
    jitter = scraping.jitter_seconds
    jobs: list[tuple[str, int, int, Spec]] = []
    if scraping.downloaders:
        canaries = canary_tracks(settings, catalogue)
        if not canaries:
            raise ConfigError(
                [
                    (
                        "scraping.downloaders",
                        "no canary track: mark catalogue tracks canary: true "
                        "(catalogue.path) or list them in scraping.canaries",
                    )
                ]
            )
        for recipe in scraping.downloaders:
            jobs.append((f"canary:{recipe.name}", recipe.interval_seconds, jitter, CanaryJob(recipe, canaries)))
    for endpoint in (scraping.wayback, scraping.common_crawl):
        if endpoint.enabled:
            queries = archive_queries(settings, catalogue, endpoint.kind)
            jobs.append((f"archives:{endpoint.kind}", endpoint.interval_seconds, jitter, ArchiveJob(endpoint, queries)))
    hub = scraping.dataset_hub
    if hub.enabled:
        jobs.append((f"datasets:{hub.name}", hub.interval_seconds, jitter, DatasetJob(hub, tuple(hub.search_terms))))
    return jobs


# --- probes -------------------------------------------------------------------------------------------------------


class _ScrapingProbe:
    probe = ""

    def __init__(
        self,
        store: Store | None,
        crawl: CrawlService,
        evidence: EvidenceFiles | None,
        settings: Settings,
        catalogue: Catalogue | None = None,
    ):
        self.store = store
        self.crawl = crawl
        self.evidence = evidence
        self.settings = settings
        self.catalogue = catalogue if catalogue is not None else scraping_catalogue(settings)

    async def run(self, job_id: str, spec: Any) -> Applied:
        """Fetch, evaluate and record one run; the Applied result of its transaction."""
        report = await self.execute(job_id, spec, record=True)
        assert report.applied is not None
        return report.applied

    async def execute(self, job_id: str, spec: Any, *, record: bool) -> ScrapingReport:
        raise NotImplementedError

    def _stored(self, candidates: list[Candidate], record: bool) -> list[Candidate]:
        """Candidates that are new or grew since the stored incidents (all of them when nothing is recorded)."""
        if not record or self.store is None:
            return candidates
        return new_or_grown(candidates, self.store.incident_data([c.finding.dedupe_key for c in candidates]))

    def _record(
        self, report: ScrapingReport, evaluation: Evaluation, plans: list[EvidencePlan], t0: float, started: str
    ) -> Applied:
        if self.store is None or self.evidence is None:
            raise RuntimeError("recording needs a store and an evidence directory")
        rows = [self._row(plan) for plan in plans if plan.dedupe_key in {f.dedupe_key for f in evaluation.findings}]
        failed = report.errors[0][0] if report.errors else None
        run = ProbeRun(
            job=report.job,
            probe=self.probe,
            domain=report.domain,
            started_at=started,
            finished_at=utcnow(),
            outcome="failure" if failed else "success",
            error_kind=failed,
            duration_seconds=time.monotonic() - t0,
        )
        with metrics.DB_WRITE_SECONDS.time():
            applied = self.store.apply_exposure_run(run, evaluation, rows)
        metrics.count_transitions(applied.transitions)
        log.info(
            "%s: %s, %d finding(s), %d transition(s), %d problem(s)",
            report.job,
            run.outcome,
            len(evaluation.findings),
            len(applied.transitions),
            len(report.errors),
        )
        return applied

    def _row(self, plan: EvidencePlan) -> EvidenceRow:
        assert self.evidence is not None
        body = self.evidence.put(plan.body, "body", plan.body_type) if plan.body else None
        shot = self.evidence.put(plan.screenshot, "screenshot", "image/png") if plan.screenshot else None
        requests = None
        if plan.requests is not None:
            log_json = json.dumps(plan.requests, default=str).encode()
            requests = self.evidence.put(log_json, "requests", "application/json")
        return EvidenceRow(
            plan.dedupe_key,
            plan.url,
            plan.page_url,
            plan.signature,
            plan.severity,
            plan.detail,
            plan.snippet,
            plan.headers,
            body,
            shot,
            requests,
            plan.data,
        )


class CanaryProbe(_ScrapingProbe):
    """Submits the canary tracks to one downloader; "delivers SoundCloud audio" is critical, a broken recipe a
    probe-health incident. Canary incidents resolve after ``scraping.canary_resolve_after_clean_runs`` clean runs."""

    probe = "canary"

    async def execute(self, job_id: str, spec: CanaryJob, *, record: bool) -> ScrapingReport:
        started, t0 = utcnow(), time.monotonic()
        service = spec.recipe.name
        report = ScrapingReport(job_id, self.probe, service)
        plans: list[EvidencePlan] = []
        for canary in spec.canaries:
            items = await self.crawl.run_canary(spec.recipe, canary.permalink)
            result = evaluate_canary(service, spec.recipe.kind, canary, items, self.catalogue, datetime.now(UTC))
            report.fetched += len(items)
            report.outcomes.append((canary.id, result.outcome, result.reason))
            if result.outcome == "recipe_broken":
                report.errors.append(("recipe_broken", result.reason))
            known = {f.dedupe_key for f in report.findings}
            report.findings.extend(f for f in result.findings if f.dedupe_key not in known)
            report.cleared.extend(result.cleared)
            plans.extend(result.evidence)
            metrics.CANARY_PROBES.labels(service, result.outcome).inc()
            log.info("%s: canary %s -> %s (%s)", job_id, canary.id, result.outcome, result.reason)
        if record:
            evaluation = Evaluation(
                f"canary:{service}",
                report.findings,
                report.cleared,
                self.settings.scraping.canary_resolve_after_clean_runs,
            )
            report.applied = self._record(report, evaluation, plans, t0, started)
        return report


class ArchiveProbe(_ScrapingProbe):
    """Queries Wayback or Common Crawl; new audio or downloader-page captures raise or update incidents, which
    never resolve on their own (an archived capture does not go away)."""

    probe = "archives"

    async def execute(self, job_id: str, spec: ArchiveJob, *, record: bool) -> ScrapingReport:
        started, t0 = utcnow(), time.monotonic()
        source = spec.endpoint.source
        pages = await self.crawl.query_archives(spec.endpoint, list(spec.queries))
        report = ScrapingReport(job_id, self.probe, source, fetched=len(pages), errors=api_errors(pages))
        report.page_cap_reached = _capped(job_id, pages)
        emitted = self._stored(archive_candidates(pages, self.catalogue), record)
        report.findings = [c.finding for c in emitted]
        for kind, detail in report.errors:
            metrics.SCRAPING_API_ERRORS.labels(source, kind).inc()
            log.warning("%s: %s: %s", job_id, kind, detail)
        if record:
            new = sum(len(c.finding.data.get("new", [])) for c in emitted)
            metrics.ARCHIVE_CAPTURES.labels(source).inc(new)
            evaluation = Evaluation(f"archives:{source}", report.findings)
            report.applied = self._record(report, evaluation, [e for c in emitted for e in c.evidence], t0, started)
        return report


class DatasetProbe(_ScrapingProbe):
    """Searches a dataset hub and reads each dataset's card and viewer rows; a dataset listing SoundCloud tracks
    raises an incident, updated only when its count grows (never resolved on its own)."""

    probe = "datasets"

    async def execute(self, job_id: str, spec: DatasetJob, *, record: bool) -> ScrapingReport:
        started, t0 = utcnow(), time.monotonic()
        hub = spec.endpoint
        pages = await self.crawl.query_archives(hub, list(spec.queries))
        report = ScrapingReport(job_id, self.probe, hub.source, fetched=len(pages), errors=api_errors(pages))
        report.page_cap_reached = _capped(job_id, pages)
        emitted = self._stored(dataset_candidates(pages, self.catalogue, hub.min_listing), record)
        report.findings = [c.finding for c in emitted]
        for kind, detail in report.errors:
            metrics.SCRAPING_API_ERRORS.labels(hub.source, kind).inc()
            log.warning("%s: %s: %s", job_id, kind, detail)
        if record:
            grown = sum(max(0, c.finding.data.get("count", 0) - c.finding.data.get("count_before", 0)) for c in emitted)
            metrics.DATASET_ROWS.labels(hub.source).inc(grown)
            evaluation = Evaluation(f"datasets:{hub.source}", report.findings)
            report.applied = self._record(report, evaluation, [e for c in emitted for e in c.evidence], t0, started)
        return report


def _capped(job_id: str, pages: list[Any]) -> bool:
    capped = any(p.stop == "page_cap" for p in pages)
    if capped:
        log.info(
            "%s: stopped at max_pages_per_run (%d requests); later pages wait for the next run", job_id, len(pages)
        )
    return capped


class ScrapingProbes:
    """The daemon's entry point: ``run(job_id, spec)`` for every job :func:`scraping_jobs` returns."""

    def __init__(
        self,
        store: Store | None,
        crawl: CrawlService,
        evidence: EvidenceFiles | None,
        settings: Settings,
        catalogue: Catalogue | None = None,
    ):
        catalogue = catalogue if catalogue is not None else scraping_catalogue(settings)
        args = (store, crawl, evidence, settings, catalogue)
        self.canary, self.archives, self.datasets = CanaryProbe(*args), ArchiveProbe(*args), DatasetProbe(*args)

    def probe_for(self, spec: Spec) -> _ScrapingProbe:
        """The probe that runs ``spec``."""
        if isinstance(spec, CanaryJob):
            return self.canary
        if isinstance(spec, ArchiveJob):
            return self.archives
        if isinstance(spec, DatasetJob):
            return self.datasets
        raise TypeError(f"not a scraping job: {spec!r}")

    async def run(self, job_id: str, spec: Spec) -> Applied:
        """Run one scheduled scraping job and record it."""
        return await self.probe_for(spec).run(job_id, spec)

    async def execute(self, job_id: str, spec: Spec, *, record: bool) -> ScrapingReport:
        """Run one job; with ``record`` False nothing is written (the CLI's dry look)."""
        return await self.probe_for(spec).execute(job_id, spec, record=record)
