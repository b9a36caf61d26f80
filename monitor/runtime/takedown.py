"""The takedown re-check: after a notice, the daemon fetches a case's URLs again with the watch spider and records
"taken down" (every URL gone: 404/410, no answer, or no SoundCloud signature any more) or "still up after N days"."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from monitor.errors import CrawlError, StorageError
from monitor.evaluators.watch import evaluate_crawl
from monitor.probes.watch import crawl_target
from monitor.runtime.crawl import CrawlService
from monitor.settings import CaseSettings, WatchTarget
from monitor.signatures import Catalogue
from monitor.store import Store, case_actions, utcnow
from spiders.watch_items import WatchResource

log = logging.getLogger(__name__)
MAX_URLS_PER_CASE = 50


@dataclass
class RecheckReport:
    """What one pass did: case id -> the recorded result (``recheck`` / ``taken_down``) and the URLs still up."""

    results: dict[int, str] = field(default_factory=dict)
    up: dict[int, list[str]] = field(default_factory=dict)


def still_up(urls: list[str], items: list[WatchResource], flagged: set[str]) -> list[str]:
    """The URLs that still serve the material: they answered below 400 and either are audio or a signature
    (severity low and up) was found there. Gone: 404/410 and other errors, no answer (DNS, refused), or clean."""
    by_url: dict[str, WatchResource] = {}
    for item in items:
        by_url.setdefault(item.url, item)
    up = []
    for url in urls:
        item = by_url.get(url)
        if item is None or item.status is None or item.status >= 400:
            continue
        final = item.final_url or item.url
        if (item.content_type or "").lower().startswith("audio/") or url in flagged or final in flagged:
            up.append(url)
    return up


class TakedownCheck:
    """The scheduler job: every case in notice_sent whose ``next_check_at`` is due is re-crawled and recorded."""

    def __init__(self, store: Store, crawl: CrawlService, catalogue: Catalogue | None, settings: CaseSettings):
        self.store = store
        self.crawl = crawl
        self.catalogue = catalogue
        self.settings = settings

    async def check(self, case_id: int, urls: list[str]) -> list[str]:
        """Fetch ``urls`` once (no links followed, robots.txt obeyed) and return those still up."""
        target = WatchTarget(name=f"case-{case_id}-recheck", start_urls=urls, max_depth=0, max_pages=len(urls),
                             follow_sitemap=False)  # fmt: skip
        items = await crawl_target(self.crawl, target)
        result = evaluate_crawl(target.name, items, now=datetime.now(UTC), catalogue=self.catalogue)
        flagged = {u for e in result.evidence for u in (e.url, e.page_url)}
        return still_up(urls, items, flagged)

    async def run(self) -> RecheckReport:
        """One pass over the due cases; a case whose crawl fails is left for the next pass."""
        report = RecheckReport()
        for case in case_actions.due_rechecks(self.store, utcnow()):
            urls = [u for u in case["urls"] if re.match(r"^https?://", u)][:MAX_URLS_PER_CASE]
            if not urls:
                log.warning("case #%d has no URL of its own to re-check; it waits for a person", case["id"])
                continue
            try:
                up = await self.check(case["id"], urls)
            except CrawlError as exc:
                log.warning("case #%d: the re-check crawl failed (%s); it is tried again next pass", case["id"], exc)
                continue
            report.up[case["id"]] = up
            report.results[case["id"]] = case_actions.record_recheck(
                self.store, case["id"], up, urls, self.settings.recheck_after_seconds
            )
            log.info("case #%d re-checked: %s (%d of %d URL(s) up)", case["id"], report.results[case["id"]],
                     len(up), len(urls))  # fmt: skip
        return report

    async def run_job(self) -> None:
        """The scheduler's entry: a failure is logged and the cases stay due for the next pass."""
        try:
            await asyncio.shield(self.run())
        except asyncio.CancelledError:
            log.debug("takedown re-check: the scheduler stopped; the pass in progress finishes on its own")
        except (StorageError, CrawlError, OSError) as exc:
            log.error("takedown re-check failed: %s; due cases are tried again next pass", exc)
