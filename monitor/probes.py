"""Probe families: fetch through the crawler, evaluate purely, apply in one transaction, update metrics."""

from __future__ import annotations

import logging
import time

from monitor import metrics
from monitor.config import ProtectedDomain
from monitor.crawl import CrawlService
from monitor.incidents import Evaluation
from monitor.policy.snapshot import Fetched, FileVerdict, evaluate
from monitor.store import Applied, ProbeRun, Store, utcnow
from spiders.items import PolicyFileItem

log = logging.getLogger(__name__)
PROBE = "policy_snapshot"


class PolicySnapshotProbe:
    """Fetches a protected domain's policy files, keeps every distinct version, raises incidents on change,
    disappearance or unreachability."""

    def __init__(self, store: Store, crawl: CrawlService):
        self.store = store
        self.crawl = crawl

    async def run(self, job: str, domain: ProtectedDomain) -> Applied:
        started, t0 = utcnow(), time.monotonic()
        items = await self.crawl.fetch_policy_files(domain)
        by_file = {i.file: i for i in items}
        for file in domain.files:  # a spider that yielded nothing for a file must not hide it
            if file not in by_file:
                by_file[file] = PolicyFileItem(
                    domain.domain, file, domain.url(file), error_kind="other", error_detail="no result from crawl"
                )
        files: list[tuple[PolicyFileItem, FileVerdict]] = []
        evaluation = Evaluation(scope=f"{PROBE}:{domain.domain}")
        for file in domain.files:
            item = by_file[file]
            verdict = evaluate(_fetched(item), self.store.previous_file(domain.domain, file))
            files.append((item, verdict))
            evaluation.findings.extend(verdict.findings)
            evaluation.cleared.extend(verdict.cleared)
        failed = [i for i, v in files if v.state == "unreachable"]
        run = ProbeRun(
            job=job,
            probe=PROBE,
            domain=domain.domain,
            started_at=started,
            finished_at=utcnow(),
            outcome="failure" if failed else "success",
            error_kind=failed[0].error_kind if failed else None,
            duration_seconds=time.monotonic() - t0,
        )
        with metrics.DB_WRITE_SECONDS.time():
            applied = self.store.apply_policy_run(run, files, evaluation)
        _observe(domain.domain, files, applied)
        log.info(
            "%s: %s (%s) in %.2fs, %d transition(s)",
            job,
            run.outcome,
            ", ".join(f"{i.file}={i.status or i.error_kind}" for i, _ in files),
            run.duration_seconds,
            len(applied.transitions),
        )
        return applied


def _fetched(item: PolicyFileItem) -> Fetched:
    return Fetched(item.domain, item.file, item.status, item.body, item.error_kind, item.error_detail, item.truncated)


def _observe(domain: str, files: list[tuple[PolicyFileItem, FileVerdict]], applied: Applied) -> None:
    for item, verdict in files:
        ok = verdict.state != "unreachable"
        metrics.PROBE_SUCCESS.labels(item.file, domain).set(1 if ok else 0)
        metrics.PROBE_DURATION.labels(item.file, domain).set(item.duration_seconds)
        metrics.PROBE_STATUS.labels(item.file, domain).set(item.status or 0)
        metrics.PROBE_LATENCY.labels(item.file).observe(item.duration_seconds)
        metrics.PROBES.labels(item.file, "success" if ok else (item.error_kind or "other")).inc()
        if verdict.new_version:
            metrics.POLICY_SNAPSHOTS.labels(item.file, domain).inc()
    for t in applied.transitions:
        metrics.INCIDENT_TRANSITIONS.labels(t.action).inc()
        if t.action in ("opened", "reopened"):
            metrics.INCIDENTS_OPENED.labels(t.finding.kind if t.finding else "unknown", t.severity).inc()
