"""The datasets probe: search a dataset hub, read each dataset's card and viewer rows; a dataset listing SoundCloud
tracks raises an incident, updated only when its count grows (never resolved on its own)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from monitor import metrics
from monitor.evaluators.datasets import dataset_candidates
from monitor.evaluators.scraping import api_errors
from monitor.incidents import Evaluation, Evidence
from monitor.probes.base import Job, Outcome
from monitor.probes.scraping import ScrapingProbe, ScrapingReport, capped, query_index, resumed_at
from monitor.settings import DatasetHubEndpoint
from monitor.store import Applied

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DatasetJob:
    """Search one dataset hub for ``queries`` (search terms) and read the datasets it finds."""

    endpoint: DatasetHubEndpoint
    queries: tuple[str, ...]


class DatasetProbe(ScrapingProbe):
    """Searches a dataset hub and reads each dataset's card and viewer rows."""

    kind = "datasets"

    def jobs(self) -> list[Job]:
        hub = self.settings.scraping.dataset_hub
        if not hub.enabled:
            return []
        spec = DatasetJob(hub, tuple(hub.search_terms))
        return [self.job(f"datasets:{hub.name}", spec, hub.interval_seconds, self.settings.scraping.jitter_seconds)]

    def domain_of(self, spec: DatasetJob) -> str:
        return spec.endpoint.source

    async def evaluate(self, job_id: str, spec: DatasetJob) -> tuple[ScrapingReport, Evaluation, list[Evidence]]:
        hub = spec.endpoint
        pages = await query_index(self.crawl, hub, list(spec.queries), self.resume_point(job_id))
        report = ScrapingReport(job_id, self.kind, hub.source, fetched=len(pages), errors=api_errors(pages))
        report.page_cap_reached, report.resume = capped(job_id, pages), resumed_at(pages)
        emitted = self.stored(dataset_candidates(pages, self.catalogue, hub.min_listing))
        report.findings = [c.finding for c in emitted]
        for kind, detail in report.errors:
            metrics.SCRAPING_API_ERRORS.labels(hub.source, kind).inc()
            log.warning("%s: %s: %s", job_id, kind, detail)
        return report, Evaluation(f"datasets:{hub.source}", report.findings), [e for c in emitted for e in c.evidence]

    def committed(self, job: Job, outcome: Outcome, applied: Applied) -> None:
        grown = sum(max(0, f.data.get("count", 0) - f.data.get("count_before", 0)) for f in outcome.evaluation.findings)
        metrics.DATASET_ROWS.labels(job.spec.endpoint.source).inc(grown)
