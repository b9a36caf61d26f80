"""The canary probe: submit canary tracks to a downloader service through its recipe (form, API or browser steps);
a service that delivers SoundCloud audio is critical, a broken recipe a probe-health failure."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from monitor import metrics
from monitor.audio.identify import AudioIdentifier
from monitor.audio.model import AudioResult
from monitor.errors import ConfigError
from monitor.evaluators.canary import evaluate_canary
from monitor.incidents import Evaluation, Evidence
from monitor.probes.base import Job
from monitor.probes.scraping import ScrapingProbe, ScrapingReport
from monitor.runtime.crawl import CrawlService
from monitor.settings import DownloaderRecipe, Settings
from monitor.signatures import Catalogue, CatalogueTrack
from spiders.scraping_items import CanaryFetch
from spiders.spiders.canary import CanarySpider

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CanaryJob:
    """Submit each canary to one downloader service."""

    recipe: DownloaderRecipe
    canaries: tuple[CatalogueTrack, ...]


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


async def submit_canary(crawl: CrawlService, recipe: DownloaderRecipe, canary_url: str) -> list[CanaryFetch]:
    """Submit ``canary_url`` to one downloader as ``recipe`` says (browser recipes in Chromium): every fetch."""
    spider_recipe = recipe.model_dump(exclude={"interval_seconds"})
    return await crawl.run_spider(
        CanarySpider,
        recipe.name,
        item_type=CanaryFetch,
        render=recipe.kind == "browser",
        recipe=spider_recipe,
        canary_url=canary_url,
    )


async def identify_downloads(identifier: AudioIdentifier | None, items: list[CanaryFetch]) -> dict[str, AudioResult]:
    """``download URL (after redirects) -> result`` for the file heads a downloader delivered, identified in a
    worker thread (the decoder runs for seconds; the reactor's loop must keep serving). Empty without references."""
    downloads = [i for i in items if i.step == "download" and i.status in (200, 206) and i.body]
    heads = {(i.final_url or i.url): i.body for i in downloads}
    if identifier is None or not heads:
        return {}
    return await identifier.identify_async(heads)


class CanaryProbe(ScrapingProbe):
    """Submits the canary tracks to one downloader; "delivers SoundCloud audio" is critical, a broken recipe a
    probe-health incident. Canary incidents resolve after ``scraping.canary_resolve_after_clean_runs`` clean runs."""

    kind = "canary"

    def jobs(self) -> list[Job]:
        """One job per downloader recipe; raises ConfigError when recipes exist but no canary track does."""
        scraping = self.settings.scraping
        if not scraping.downloaders:
            return []
        canaries = canary_tracks(self.settings, self.catalogue)
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
        return [
            self.job(f"canary:{r.name}", CanaryJob(r, canaries), r.interval_seconds, scraping.jitter_seconds)
            for r in scraping.downloaders
        ]

    def domain_of(self, spec: CanaryJob) -> str:
        return spec.recipe.name

    async def evaluate(self, job_id: str, spec: CanaryJob) -> tuple[ScrapingReport, Evaluation, list[Evidence]]:
        service = spec.recipe.name
        report = ScrapingReport(job_id, self.kind, service)
        evidence: list[Evidence] = []
        for canary in spec.canaries:
            items = await submit_canary(self.crawl, spec.recipe, canary.permalink)
            heard = await identify_downloads(self.audio, items)
            result = evaluate_canary(
                service, spec.recipe.kind, canary, items, self.catalogue, datetime.now(UTC), audio=heard
            )
            report.fetched += len(items)
            report.outcomes.append((canary.id, result.outcome, result.reason))
            if result.outcome == "recipe_broken":
                report.errors.append(("recipe_broken", result.reason))
            known = {f.dedupe_key for f in report.findings}
            report.findings.extend(f for f in result.findings if f.dedupe_key not in known)
            report.cleared.extend(result.cleared)
            evidence.extend(result.evidence)
            metrics.CANARY_PROBES.labels(service, result.outcome).inc()
            log.info("%s: canary %s -> %s (%s)", job_id, canary.id, result.outcome, result.reason)
        evaluation = Evaluation(
            f"canary:{service}", report.findings, report.cleared, self.settings.scraping.canary_resolve_after_clean_runs
        )
        return report, evaluation, evidence
