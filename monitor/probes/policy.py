"""The policy probe: fetch a protected domain's robots.txt, ai.txt, TDMRep, RSL licenses and sampled pages,
keep every distinct version, audit the verdict matrix of every AI agent, and judge changes against what was served."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Mapping
from typing import Any

from monitor import metrics
from monitor.evaluators.policy import (
    LICENSE_PREFIX,
    domain_signals,
    fetched_of,
    inputs_digest,
    last_served,
    license_urls,
    robots_cache_at_least,
    summarised,
    unanswered,
)
from monitor.incidents import Evaluation
from monitor.policy.audit import Expectation, audit
from monitor.policy.matrix import compute
from monitor.policy.pages import is_page_file, page_file
from monitor.policy.robots import FetchPolicy, FetchState
from monitor.policy.snapshot import FileVerdict, Previous, evaluate
from monitor.probes.base import Context, Job, Outcome, ProbeBase, record
from monitor.runtime.crawl import CrawlService
from monitor.settings import PolicySettings, ProtectedDomain
from monitor.store import Applied, Store, utcnow
from spiders.items import PolicyFileItem

log = logging.getLogger(__name__)


PROBE = "policy_snapshot"


# Above this many fetched bytes a domain's evaluation runs in a worker thread (a 64 KiB robots.txt already
# takes a few milliseconds to parse and audit); below it the thread hand-off would cost more than it saves.
THREAD_ABOVE_BYTES = 65_536


@dataclasses.dataclass(frozen=True)
class _Inputs:
    """A domain's fetched files and what the store knew before them, read on the loop thread."""

    by_file: dict[str, PolicyFileItem]
    kept: dict[str, PolicyFileItem]
    digest: str
    cached: tuple[str, list, list[str]] | None  # the audit's last findings when the inputs are unchanged
    verdicts: dict | None  # the verdict matrix in force; None when the audit is replayed from ``cached``
    previous: dict[str, Previous]
    # What the audit reads when it runs: the files (with the license documents a robots.txt that did not answer named
    # when it was last served), their previous versions, and the regressions still open.
    audited: dict[str, PolicyFileItem]
    audit_previous: dict[str, Previous]
    open_regressions: dict[str, list[str]]


class PolicySnapshotProbe(ProbeBase):
    """Fetches a protected domain's policy files, keeps every distinct version, raises incidents on change,
    disappearance or unreachability."""

    kind = PROBE

    def __init__(
        self,
        store: Store | None,
        crawl: CrawlService,
        agents: list[str] | tuple[str, ...],
        policy: PolicySettings,
        domains: list[ProtectedDomain] | None = None,
        health_threshold: int | None = None,
    ):
        self.store = store
        self.crawl = crawl
        self.agents = list(agents)
        self.policy = policy
        self.domains = domains or []
        self.health_threshold = health_threshold
        expect = policy.expect
        self.expectation = Expectation(
            None if expect.agents == "all" else list(expect.agents),
            tuple(expect.disallowed_on),
            expect.training_reserved,
        )
        # domain -> (digest of everything the audit read, its breach/contradiction/lint findings and cleared keys).
        # When a domain's inputs are unchanged its matrix is too: the audit's findings are replayed and the
        # stored verdicts are left alone, instead of recomputing and comparing every agent x path class cell.
        self._unchanged: dict[str, tuple[str, list, list[str]]] = {}

    @classmethod
    def build(cls, ctx: Context) -> PolicySnapshotProbe:
        s = ctx.settings
        return cls(ctx.store, ctx.crawl, ctx.agents, s.policy, s.protected_domains, s.alerts.probe_failures)

    def jobs(self) -> list[Job]:
        return [self.job(f"{PROBE}:{d.domain}", d, d.interval_seconds, d.jitter_seconds) for d in self.domains]

    def domain_of(self, spec: ProtectedDomain) -> str:
        return spec.domain

    def pages(self, domain: ProtectedDomain) -> dict[str, str]:
        """The sampled pages fetched with ``domain``'s policy files: ``page:<class>`` -> URL of its first sample."""
        base = f"{domain.scheme}://{domain.domain}"
        return {page_file(c): base + self.policy.path_classes[c][0] for c in self.policy.page_samples}

    def licenses(self, items: list[PolicyFileItem]) -> dict[str, str]:
        """``license#<n>`` -> URL for the RSL License lines of a fetched robots.txt (at most ``max_licenses``)."""
        return license_urls(items, self.policy.max_licenses)

    async def observe(self, job: Job) -> Outcome:
        domain: ProtectedDomain = job.spec
        items = await self.crawl.fetch_policy_files(domain, self.pages(domain))
        licenses = self.licenses(items)
        if licenses:  # a second, small fetch: the documents robots.txt names
            items += await self.crawl.fetch_policy_files(_bare(domain), licenses)
        return await self._evaluate(domain, items)

    async def run_many(
        self,
        jobs: list[tuple[str, ProtectedDomain]],
        chunk: int = 500,
        overrides: Mapping[str, Any] | None = None,
    ) -> list[Applied]:
        """:meth:`run` for many (job, domain) pairs, fetching ``chunk`` domains per crawl; results in job order.

        The next chunk is fetched while this one is evaluated: with workers, their crawl and the coordinator's
        evaluation use two processes; in one process the crawl takes the loop between two domains' evaluations.
        Still one crawl at a time. A run's start time is its chunk's crawl start; its duration runs to its own record.
        ``overrides`` are Scrapy settings for these crawls (they travel with the job when a worker crawls).
        """
        if chunk < 1:
            raise ValueError("chunk must be at least 1")
        # Two chunks' robots.txt files are parsed before the first of them is audited (license discovery runs in the
        # next chunk's fetch): the cache holds three chunks.
        robots_cache_at_least(3 * chunk)
        batches = [jobs[at : at + chunk] for at in range(0, len(jobs), chunk)]

        def fetch(batch: list[tuple[str, ProtectedDomain]]) -> tuple[asyncio.Future, str, float]:
            domains = [domain for _, domain in batch]
            return asyncio.ensure_future(self._fetch_chunk(domains, overrides)), utcnow(), time.monotonic()

        applied: list[Applied] = []
        pending = fetch(batches[0]) if batches else None
        try:
            for n, batch in enumerate(batches):
                assert pending is not None
                task, started, t0 = pending
                fetched = await task
                pending = fetch(batches[n + 1]) if n + 1 < len(batches) else None
                for job, domain in batch:
                    outcome = await self._evaluate(domain, fetched[domain.domain])
                    applied.append(record(self, self.job(job, domain), outcome, started, t0))
                    await asyncio.sleep(0)  # evaluation is CPU work: let the crawl and the daemon's tasks breathe
        finally:
            if pending is not None and not pending[0].done():
                pending[0].cancel()  # stops the next chunk's crawl (or its job's wait) when this run fails
        return applied

    async def _fetch_chunk(
        self, domains: list[ProtectedDomain], overrides: Mapping[str, Any] | None
    ) -> dict[str, list[PolicyFileItem]]:
        """A chunk's policy files and sampled pages (one crawl), then the licenses their robots.txt name (one more)."""
        fetched = await self.crawl.fetch_policy_files_many(
            domains, extra={d.domain: self.pages(d) for d in domains}, overrides=overrides
        )
        licenses = {d.domain: lic for d in domains if (lic := self.licenses(fetched[d.domain]))}
        if licenses:
            more = await self.crawl.fetch_policy_files_many(
                [_bare(d) for d in domains if d.domain in licenses], extra=licenses, overrides=overrides
            )
            for name, items in more.items():
                fetched[name] = fetched[name] + items
        return fetched

    async def _evaluate(self, domain: ProtectedDomain, items: list[PolicyFileItem]) -> Outcome:
        """Everything after the fetch: evaluate each file and audit the matrix (the store writes it).

        The store is read here, on the loop thread that owns its connection; parsing and auditing are pure and,
        for large inputs (a robots.txt of hundreds of KiB takes a noticeable time to parse), run in a worker
        thread so that the loop keeps serving HTTP and other jobs meanwhile.
        """
        inputs = self._inputs(domain, items)
        if sum(len(i.body) for i in items) > THREAD_ABOVE_BYTES:
            return await asyncio.to_thread(self._judge, domain, inputs)
        return self._judge(domain, inputs)

    def _inputs(self, domain: ProtectedDomain, items: list[PolicyFileItem]) -> _Inputs:
        """What the evaluation needs besides the fetch: the previous versions and verdicts (store reads)."""
        assert self.store is not None, "the policy probe reads the previous versions from the store"
        by_file = {i.file: i for i in items}
        urls = {file: domain.url(file) for file in domain.files} | self.pages(domain)
        for file, url in urls.items():  # a spider that yielded nothing for a file must not hide it
            if file not in by_file:
                by_file[file] = PolicyFileItem(
                    domain.domain, file, url, error_kind="other", error_detail="no result from crawl"
                )
        # The audit reads the pages as fetched; what is kept of a page is only its signal summary.
        kept = {file: summarised(item) if is_page_file(file) else item for file, item in by_file.items()}
        previous = {file: self.store.previous_file(domain.domain, file) for file in kept}
        digest = inputs_digest(kept)
        cached = self._unchanged.get(domain.domain)
        if cached is not None and cached[0] != digest:
            cached = None
        # One job per domain runs at a time (max_instances=1), so these stay current until the write.
        verdicts = self.store.current_verdicts(domain.domain) if cached is None else None
        previous = {file: self.store.previous_file(domain.domain, file) for file in kept}
        audited, audit_previous, open_regressions = by_file, previous, {}
        if cached is None:
            open_regressions = self.store.open_regressions(domain.domain)
            robots = by_file.get("robots.txt")
            if robots is not None and unanswered(robots):  # its last served version still names its licenses
                known = {r["file"] for r in self.store.snapshots(domain.domain) if r["file"].startswith(LICENSE_PREFIX)}
                extra = {f: self.store.previous_file(domain.domain, f) for f in known - set(by_file)}
                missing = {f: PolicyFileItem(domain.domain, f, "", error_kind="other") for f in extra}
                audited, audit_previous = {**by_file, **missing}, {**previous, **extra}
        return _Inputs(by_file, kept, digest, cached, verdicts, previous, audited, audit_previous, open_regressions)

    def _judge(self, domain: ProtectedDomain, inputs: _Inputs) -> Outcome:
        """The pure part of the evaluation (no store, no shared state written): safe in a worker thread."""
        evaluation = Evaluation(scope=f"{PROBE}:{domain.domain}")
        if inputs.cached is not None:
            cells = previous_cells = None
            evaluation.findings.extend(inputs.cached[1])
            evaluation.cleared.extend(inputs.cached[2])
        else:
            audited = last_served(inputs.audited, inputs.audit_previous)
            cells, previous_cells = self._audit(domain, audited, inputs, evaluation)
        files: list[tuple[PolicyFileItem, FileVerdict]] = []
        for file, item in inputs.kept.items():
            verdict = evaluate(fetched_of(item), inputs.previous[file])
            files.append((item, verdict))
            evaluation.findings.extend(verdict.findings)
            evaluation.cleared.extend(verdict.cleared)
        failed = [i for i, v in files if v.state == "unreachable"]
        return Outcome(
            evaluation,
            error_kind=failed[0].error_kind if failed else None,
            files=files,
            cells=cells,
            previous_cells=previous_cells,
            report=inputs.digest,
        )

    def committed(self, job: Job, outcome: Outcome, applied: Applied) -> None:
        domain = job.domain
        if outcome.cells is not None:  # the stored matrix now matches these inputs
            evaluation = outcome.evaluation
            self._unchanged[domain] = (
                outcome.report,
                [f for f in evaluation.findings if f.dedupe_key.startswith(_AUDIT_KEYS)],
                [k for k in evaluation.cleared if k.startswith(_AUDIT_KEYS)],
            )
        _observe(domain, outcome.files)
        log.debug("%s: %s", job.id, ", ".join(f"{i.file}={i.status or i.error_kind}" for i, _ in outcome.files))

    def _audit(
        self,
        domain: ProtectedDomain,
        by_file: dict[str, PolicyFileItem],
        inputs: _Inputs,
        evaluation: Evaluation,
    ):
        """The verdict matrix to store and the verdicts it replaces; (None, None) when nothing is stored.

        ``by_file`` holds the last served version of any file that did not answer now (:func:`last_served`), so a
        transient failure changes nothing here: it is the file's own unreachable finding. A robots.txt that never
        answered holds the audit (nothing raised or cleared); a missing or unparseable one is judged for breaches
        and lints but is not stored, so it never becomes the baseline of a regression. Pure: what the store knew
        came with ``inputs``, read on the loop thread.
        """
        robots_item = by_file.get("robots.txt")
        if robots_item is None or unanswered(robots_item):
            return None, None
        signals = domain_signals(by_file)
        assert signals is not None
        policy = signals.robots
        cells = compute(domain.domain, signals, self.agents, self.policy.path_classes)
        lints = (
            [(lint.line, lint.code, lint.message) for lint in policy.robots.lints]
            if policy.robots is not None
            else None
        )
        served = policy.state == FetchState.PARSED and not any(code == "html" for _, code, _ in lints or ())
        previous = inputs.verdicts or {}
        robots_prev = inputs.previous.get("robots.txt")
        baseline = (
            f"the robots.txt last served before this run (sha256 {robots_prev.last_present_sha256[:12]})"
            if robots_prev is not None and robots_prev.last_present_sha256
            else ""
        )
        result = audit(
            domain.domain,
            cells,
            previous,
            self.expectation,
            lints,
            open_regressions=inputs.open_regressions,
            judge_changes=served,
            baseline=baseline,
        )
        evaluation.findings.extend(result.findings)
        evaluation.cleared.extend(result.cleared)
        for cell in result.newly_disallowed:
            log.info("%s: %s is newly disallowed on %s (%s)", domain.domain, cell.agent, cell.path_class, cell.sample)
        return (cells, previous) if served else (None, None)


# Audit findings that depend only on the current matrix; a regression is a change between two matrices, so with
# unchanged inputs there is none to replay.
_AUDIT_KEYS = ("policy_breach:", "policy_contradiction:", "policy_lint:")


def _observe(domain: str, files: list[tuple[PolicyFileItem, FileVerdict]]) -> None:
    for item, verdict in files:
        ok = verdict.state != "unreachable"
        metrics.PROBE_SUCCESS.labels(item.file, domain).set(1 if ok else 0)
        metrics.PROBE_DURATION.labels(item.file, domain).set(item.duration_seconds)
        metrics.PROBE_STATUS.labels(item.file, domain).set(item.status or 0)
        metrics.PROBE_LATENCY.labels(item.file).observe(item.duration_seconds)
        metrics.PROBES.labels(item.file, "success" if ok else (item.error_kind or "other")).inc()
        if verdict.new_version:
            metrics.POLICY_SNAPSHOTS.labels(item.file, domain).inc()


async def audit_once(
    crawl: CrawlService, host: str, agents: list[str], policy: PolicySettings, scheme: str = "https"
) -> tuple[list[PolicyFileItem], list, FetchPolicy]:
    """Fetch and audit any host once, recording nothing (analysts, watchlist sites): items, matrix, robots policy."""
    domain = ProtectedDomain(domain=host, scheme=scheme, interval_seconds=3600, jitter_seconds=0)
    items = await crawl.fetch_policy_files(domain)
    signals = domain_signals({i.file: i for i in items})
    assert signals is not None  # ProtectedDomain's default files include robots.txt
    return items, compute(host, signals, agents, policy.path_classes), signals.robots


def _bare(domain: ProtectedDomain) -> ProtectedDomain:
    """``domain`` with no policy files of its own: fetches only the extra URLs it is given."""
    return domain.model_copy(update={"files": []})
