"""The exposure probe: crawl a watch target, scan its pages for SoundCloud audio signatures, keep the evidence,
apply incident changes in one transaction, update metrics."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from monitor import metrics
from monitor.evaluators.watch import AUDIO_OUTCOMES, TargetResult, evaluate_crawl, request_log, scope
from monitor.runtime.crawl import CrawlError, CrawlService
from monitor.settings import WatchTarget
from monitor.signatures import Catalogue
from monitor.store.core import Applied, EvidenceRow, ProbeRun, Store, utcnow
from monitor.store.files import EvidenceFiles, StoredFile

log = logging.getLogger(__name__)
PROBE = "exposure_watch"
NDJSON = "application/x-ndjson"


class ExposureProbe:
    """Crawls watch targets (static or rendered) and turns what SoundCloud audio they expose into incidents."""

    def __init__(
        self,
        store: Store,
        crawl: CrawlService,
        files: EvidenceFiles,
        catalogue: Catalogue | None = None,
        resolve_after: int = 3,
    ):
        self.store = store
        self.crawl = crawl
        self.files = files
        self.catalogue = catalogue
        self.resolve_after = resolve_after

    async def scan(self, target: WatchTarget) -> TargetResult:
        """Crawl and evaluate ``target`` without recording anything."""
        items = await self.crawl.crawl_watch_target(target)
        return evaluate_crawl(
            target.name, items, now=datetime.now(UTC), catalogue=self.catalogue, resolve_after=self.resolve_after
        )

    async def run(self, job: str, target: WatchTarget, *, clear: bool = True) -> Applied:
        """One scheduled crawl of ``target``; ``clear`` counts absent findings as clean runs (not for one-off scans)."""
        started, t0 = utcnow(), time.monotonic()
        try:
            result = await self.scan(target)
        except CrawlError:
            metrics.EXPOSURE_TARGET_UP.labels(target.name).set(0)
            raise
        return self.record(job, target, result, started, t0, clear=clear)

    def record(
        self, job: str, target: WatchTarget, result: TargetResult, started: str, t0: float, *, clear: bool = True
    ) -> Applied:
        evaluation = result.evaluation
        if clear and result.healthy:  # an unreachable site is not a clean one
            found = {f.dedupe_key for f in evaluation.findings}
            evaluation.cleared.extend(k for k in self.store.active_keys(scope(target.name)) if k not in found)
        rows = self._evidence(result)
        run = ProbeRun(
            job=job,
            probe=PROBE,
            domain=target.name,
            started_at=started,
            finished_at=utcnow(),
            outcome="success" if result.healthy else "failure",
            error_kind=None if result.healthy else "no_page",
            duration_seconds=time.monotonic() - t0,
        )
        with metrics.DB_WRITE_SECONDS.time():
            applied = self.store.apply_exposure_run(run, evaluation, rows)
        for m in result.matches:
            metrics.EXPOSURE_MATCHES.labels(m.signature, m.severity).inc()
        _crawl_metrics(target.name, result)
        metrics.count_transitions(applied.transitions)
        log.info(
            "%s: %s, %d page(s) scanned, %d failed, %d finding(s), %d transition(s)",
            job,
            run.outcome,
            result.pages_ok,
            result.pages_failed,
            len(evaluation.findings),
            len([t for t in applied.transitions if t.action != "clean"]),
        )
        return applied

    def _evidence(self, result: TargetResult) -> list[EvidenceRow]:
        """Write the evidence files (once per content) and describe the rows that reference them."""
        kept: dict[tuple[int, str], StoredFile | None] = {}

        def keep(obj: object, content: bytes | None, kind: str, ctype: str = "") -> StoredFile | None:
            if not content:
                return None
            key = (id(obj), kind)
            if key not in kept:
                kept[key] = self.files.put(content, kind, ctype)
            return kept[key]

        rows = []
        for plan in result.evidence:
            res, page, m = plan.resource, plan.page, plan.match
            rows.append(
                EvidenceRow(
                    dedupe_key=plan.dedupe_key,
                    url=m.url,
                    page_url=page.final_url or page.url,
                    signature=m.signature,
                    severity=m.severity,
                    detail=m.detail,
                    snippet=m.snippet,
                    headers=res.headers if res is not None else {},
                    body=keep(res, res.body, "body", res.content_type or "") if res is not None else None,
                    screenshot=keep(page, page.screenshot, "screenshot", "image/png"),
                    requests=keep(
                        page, request_log(page) if page.requests else None, "requests", "application/x-ndjson"
                    ),
                    data={k: v for k, v in m.data.items() if k != "tracks"},
                )
            )
        return rows


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
