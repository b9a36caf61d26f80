"""The archives probe: query Wayback's CDX API or Common Crawl's indexes for captures of SoundCloud media and of
downloader pages; new captures raise or update incidents, which never resolve on their own."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from monitor import metrics
from monitor.evaluators.archives import archive_candidates
from monitor.evaluators.scraping import api_errors
from monitor.incidents import Evaluation, Evidence
from monitor.probes.base import Job, Outcome
from monitor.probes.scraping import ScrapingProbe, ScrapingReport, capped, downloader_hosts, query_index, resumed_at
from monitor.settings import CommonCrawlEndpoint, Settings, WaybackEndpoint
from monitor.signatures import Catalogue
from monitor.store import Applied

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArchiveJob:
    """Query one archive index (Wayback or Common Crawl) for ``queries`` (URL patterns)."""

    endpoint: WaybackEndpoint | CommonCrawlEndpoint
    queries: tuple[dict[str, Any], ...]


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


class ArchiveProbe(ScrapingProbe):
    """Queries Wayback or Common Crawl; new audio or downloader-page captures raise or update incidents, which
    never resolve on their own (an archived capture does not go away)."""

    kind = "archives"

    def jobs(self) -> list[Job]:
        scraping = self.settings.scraping
        return [
            self.job(
                f"archives:{e.kind}",
                ArchiveJob(e, archive_queries(self.settings, self.catalogue, e.kind)),
                e.interval_seconds,
                scraping.jitter_seconds,
            )
            for e in (scraping.wayback, scraping.common_crawl)
            if e.enabled
        ]

    def domain_of(self, spec: ArchiveJob) -> str:
        return spec.endpoint.source

    async def evaluate(self, job_id: str, spec: ArchiveJob) -> tuple[ScrapingReport, Evaluation, list[Evidence]]:
        source = spec.endpoint.source
        pages = await query_index(self.crawl, spec.endpoint, list(spec.queries), self.resume_point(job_id))
        report = ScrapingReport(job_id, self.kind, source, fetched=len(pages), errors=api_errors(pages))
        report.page_cap_reached, report.resume = capped(job_id, pages), resumed_at(pages)
        emitted = self.stored(archive_candidates(pages, self.catalogue))
        report.findings = [c.finding for c in emitted]
        for kind, detail in report.errors:
            metrics.SCRAPING_API_ERRORS.labels(source, kind).inc()
            log.warning("%s: %s: %s", job_id, kind, detail)
        return report, Evaluation(f"archives:{source}", report.findings), [e for c in emitted for e in c.evidence]

    def committed(self, job: Job, outcome: Outcome, applied: Applied) -> None:
        new = sum(len(f.data.get("new", [])) for f in outcome.evaluation.findings)
        metrics.ARCHIVE_CAPTURES.labels(job.spec.endpoint.source).inc(new)
