"""The watch probe: crawl a watch target (static or rendered), scan its pages for SoundCloud audio signatures and
turn what it exposes into incidents with evidence."""

from __future__ import annotations

import asyncio
import functools
import logging
from datetime import UTC, datetime
from urllib.parse import urlsplit

from monitor import metrics
from monitor.audio.identify import AudioIdentifier
from monitor.evaluators.watch import AUDIO_OUTCOMES, TargetResult, evaluate_crawl, scope
from monitor.probes.base import Context, Job, Outcome, ProbeBase
from monitor.runtime.crawl import CrawlError, CrawlService
from monitor.settings import WatchTarget
from monitor.signatures import Catalogue
from monitor.store import Applied, Store
from spiders.spiders.watch import WatchSpider
from spiders.watch_items import WatchResource

PROBE = "exposure_watch"
THREAD_ABOVE_BYTES = 262_144  # pages per crawl above which the scan runs in a worker thread
log = logging.getLogger(__name__)


class ExposureProbe(ProbeBase):
    """Crawls watch targets (static or rendered) and turns what SoundCloud audio they expose into incidents."""

    kind = PROBE

    def __init__(
        self,
        store: Store | None,
        crawl: CrawlService,
        catalogue: Catalogue | None = None,
        resolve_after: int = 3,
        targets: list[WatchTarget] | None = None,
        health_threshold: int | None = None,
        audio: AudioIdentifier | None = None,
    ):
        self.audio = audio
        self.store = store
        self.crawl = crawl
        self.catalogue = catalogue
        self.resolve_after = resolve_after
        self.targets = targets or []
        self.health_threshold = health_threshold

    @classmethod
    def build(cls, ctx: Context) -> ExposureProbe:
        watch = ctx.settings.watch
        return cls(
            ctx.store,
            ctx.crawl,
            ctx.catalogue,
            watch.resolve_after_clean_runs,
            watch.targets,
            ctx.settings.alerts.probe_failures,
            ctx.audio,
        )

    def jobs(self) -> list[Job]:
        return [
            self.job(f"{PROBE}:{t.name}", t, t.interval_seconds, min(300, t.interval_seconds // 10))
            for t in self.targets
        ]

    def domain_of(self, spec: WatchTarget) -> str:
        return urlsplit(spec.start_urls[0]).hostname or spec.name

    async def scan(self, target: WatchTarget) -> TargetResult:
        """Crawl and evaluate ``target`` without recording anything."""
        items = await crawl_target(self.crawl, target)
        heard = await identify_audio(self.audio, items, target.name)
        scan = functools.partial(evaluate_crawl, target.name, items, now=datetime.now(UTC), catalogue=self.catalogue,
                                 resolve_after=self.resolve_after, audio_matches=heard)  # fmt: skip
        if sum(len(item.body) for item in items) > THREAD_ABOVE_BYTES:
            # A signature scan of big pages (a bundle of several MB) blocks for hundreds of ms: off the loop.
            # evaluate_crawl is pure and reads only its arguments and the read-only catalogue.
            return await asyncio.to_thread(scan)
        return scan()

    async def observe(self, job: Job) -> Outcome:
        target: WatchTarget = job.spec
        try:
            result = await self.scan(target)
        except CrawlError:
            metrics.EXPOSURE_TARGET_UP.labels(target.name).set(0)
            raise
        return self.outcome(target, result)

    def outcome(self, target: WatchTarget, result: TargetResult, *, clear: bool = True) -> Outcome:
        """What a crawl's result writes; ``clear`` counts absent findings as clean runs (not for one-off scans)."""
        evaluation = result.evaluation
        if clear and result.healthy and self.store is not None:  # an unreachable site is not a clean one
            found = {f.dedupe_key for f in evaluation.findings}
            evaluation.cleared.extend(k for k in self.store.active_keys(scope(target.name)) if k not in found)
        return Outcome(
            evaluation,
            error_kind=None if result.healthy else "no_page",
            evidence=result.evidence,
            report=result,
        )

    def committed(self, job: Job, outcome: Outcome, applied: Applied) -> None:
        result: TargetResult = outcome.report
        for m in result.matches:
            metrics.EXPOSURE_MATCHES.labels(m.signature, m.severity).inc()
        _crawl_metrics(job.spec.name, result)


async def crawl_target(crawl: CrawlService, target: WatchTarget) -> list[WatchResource]:
    """Crawl one watchlist site (rendered when ``target.render``): every WatchResource the watch spider yielded."""
    spider_target = target.model_dump(exclude={"interval_seconds"})
    return await crawl.run_spider(
        WatchSpider, target.name, item_type=WatchResource, render=target.render, target=spider_target
    )


async def identify_audio(
    identifier: AudioIdentifier | None, items: list[WatchResource], target: str
) -> dict[str, dict]:
    """``audio URL -> match`` for the audio heads the crawl fetched, identified against the catalogue in a worker
    thread (decoding takes seconds; the reactor's loop keeps serving the other crawls)."""
    heads = {
        i.url: i.body
        for i in items
        if i.kind == "audio" and i.body and i.status in (200, 206) and i.error_kind != "robots_disallowed"
    }
    if identifier is None or not heads:
        return {}
    results = await identifier.identify_async(heads)
    unusable = sorted({r.reason for r in results.values() if r.reason})
    matched = sum(r.match is not None for r in results.values())
    extra = f"; unusable: {unusable}" if unusable else ""
    log.info("%s: %d audio file(s) fingerprinted, %d matched%s", target, len(results), matched, extra)
    return {url: r.match.as_dict() for url, r in results.items() if r.match is not None}


def _crawl_metrics(target: str, result: TargetResult) -> None:
    """What one crawl of ``target`` fetched and how it went (labels: configured target names, closed lists)."""
    metrics.EXPOSURE_PAGES.labels(target, "ok").inc(result.pages_ok)
    metrics.EXPOSURE_PAGES.labels(target, "failed").inc(result.pages_failed)
    for kind, size in result.bytes_by_kind.items():
        metrics.EXPOSURE_BYTES.labels(target, kind).inc(size)
    for seconds in result.render_seconds:
        metrics.EXPOSURE_RENDER_SECONDS.labels(target).observe(seconds)
    for outcome in AUDIO_OUTCOMES:
        metrics.EXPOSURE_AUDIO_FILES.labels(target, outcome).inc(result.audio_outcomes.get(outcome, 0))
    metrics.EXPOSURE_TARGET_UP.labels(target).set(1 if result.healthy else 0)
