"""The policy probe: fetch a protected domain's robots.txt, ai.txt, TDMRep, RSL licenses and sampled pages,
keep every distinct version, audit the verdict matrix of every AI agent, and judge changes."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import time
from functools import lru_cache

from monitor import metrics
from monitor.incidents import Evaluation
from monitor.policy.aitxt import parse_aitxt
from monitor.policy.audit import Expectation, audit
from monitor.policy.matrix import DomainSignals, compute
from monitor.policy.pages import is_page_file, page_file, parse_page, path_class_of, summary, unsummarise
from monitor.policy.robots import FetchPolicy, FetchState, fetch_verdict
from monitor.policy.signals import RSLDocument, parse_license_lines, parse_rsl, parse_tdmrep_json
from monitor.policy.signals.groups import GroupLine
from monitor.policy.snapshot import Fetched, FileVerdict, Previous, evaluate
from monitor.probes.base import Context, Job, Outcome, ProbeBase, record
from monitor.runtime.crawl import CrawlService
from monitor.settings import PolicySettings, ProtectedDomain
from monitor.store import Applied, Store, utcnow
from spiders.items import PolicyFileItem

log = logging.getLogger(__name__)
PROBE = "policy_snapshot"
LICENSE_PREFIX = "license#"


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
        return self._evaluate(domain, items)

    async def run_many(self, jobs: list[tuple[str, ProtectedDomain]], chunk: int = 500) -> list[Applied]:
        """:meth:`run` for many (job, domain) pairs, fetching ``chunk`` domains per crawl; results in job order.

        A run's start time and duration are those of its chunk's crawl plus its own evaluation.
        """
        if chunk < 1:
            raise ValueError("chunk must be at least 1")
        applied: list[Applied] = []
        for at in range(0, len(jobs), chunk):
            batch = jobs[at : at + chunk]
            started, t0 = utcnow(), time.monotonic()
            domains = [domain for _, domain in batch]
            fetched = await self.crawl.fetch_policy_files_many(
                domains, extra={d.domain: self.pages(d) for d in domains}
            )
            licenses = {d.domain: lic for d in domains if (lic := self.licenses(fetched[d.domain]))}
            if licenses:
                more = await self.crawl.fetch_policy_files_many(
                    [_bare(d) for d in domains if d.domain in licenses], extra=licenses
                )
                for name, items in more.items():
                    fetched[name] = fetched[name] + items
            for job, domain in batch:
                outcome = self._evaluate(domain, fetched[domain.domain])
                applied.append(record(self, self.job(job, domain), outcome, started, t0))
                await asyncio.sleep(0)  # evaluation is CPU work: let the daemon's other tasks breathe
        return applied

    def _evaluate(self, domain: ProtectedDomain, items: list[PolicyFileItem]) -> Outcome:
        """Everything after the fetch: evaluate each file and audit the matrix (the store writes it)."""
        assert self.store is not None, "the policy probe reads the previous versions from the store"
        by_file = {i.file: i for i in items}
        urls = {file: domain.url(file) for file in domain.files} | self.pages(domain)
        for file, url in urls.items():  # a spider that yielded nothing for a file must not hide it
            if file not in by_file:
                by_file[file] = PolicyFileItem(
                    domain.domain, file, url, error_kind="other", error_detail="no result from crawl"
                )
        evaluation = Evaluation(scope=f"{PROBE}:{domain.domain}")
        # The audit reads the pages as fetched; what is kept of a page is only its signal summary.
        kept = {file: _summarised(item) if is_page_file(file) else item for file, item in by_file.items()}
        previous = {file: self.store.previous_file(domain.domain, file) for file in kept}
        digest = _digest(kept)
        cached = self._unchanged.get(domain.domain)
        if cached is not None and cached[0] == digest:
            cells = previous_cells = None
            evaluation.findings.extend(cached[1])
            evaluation.cleared.extend(cached[2])
        else:
            audited = by_file
            robots = by_file.get("robots.txt")
            if robots is not None and _unanswered(robots):  # its last served version still names its licenses
                known = {r["file"] for r in self.store.snapshots(domain.domain) if r["file"].startswith(LICENSE_PREFIX)}
                extra = {f: self.store.previous_file(domain.domain, f) for f in known - set(by_file)}
                missing = {f: PolicyFileItem(domain.domain, f, "", error_kind="other") for f in extra}
                audited, previous = {**by_file, **missing}, {**previous, **extra}
            cells, previous_cells = self._audit(domain, _last_served(audited, previous), previous, evaluation)
        files: list[tuple[PolicyFileItem, FileVerdict]] = []
        for file, item in kept.items():
            verdict = evaluate(_fetched(item), previous[file])
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
            report=digest,
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
        previous_files: dict[str, Previous],
        evaluation: Evaluation,
    ):
        """The verdict matrix to store and the verdicts it replaces; (None, None) when nothing is stored.

        ``by_file`` holds the last served version of any file that did not answer now (:func:`_last_served`), so a
        transient failure changes nothing here: it is the file's own unreachable finding. A robots.txt that never
        answered holds the audit (nothing raised or cleared); a missing or unparseable one is judged for breaches
        and lints but is not stored, so it never becomes the baseline of a regression.
        """
        robots_item = by_file.get("robots.txt")
        if robots_item is None or _unanswered(robots_item):
            return None, None
        signals = _signals(by_file)
        assert signals is not None
        policy = signals.robots
        cells = compute(domain.domain, signals, self.agents, self.policy.path_classes)
        lints = (
            [(lint.line, lint.code, lint.message) for lint in policy.robots.lints]
            if policy.robots is not None
            else None
        )
        served = policy.state == FetchState.PARSED and not any(code == "html" for _, code, _ in lints or ())
        # One job per domain runs at a time (max_instances=1), so these stay current until the write.
        assert self.store is not None
        previous = self.store.current_verdicts(domain.domain)
        robots_prev = previous_files.get("robots.txt")
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
            open_regressions=self.store.open_regressions(domain.domain),
            judge_changes=served,
            baseline=baseline,
        )
        evaluation.findings.extend(result.findings)
        evaluation.cleared.extend(result.cleared)
        for cell in result.newly_disallowed:
            log.info("%s: %s is newly disallowed on %s (%s)", domain.domain, cell.agent, cell.path_class, cell.sample)
        return (cells, previous) if served else (None, None)


# A redirect loop still carries the 3xx status of its last hop; it is not an answer about robots.txt.
_NO_ANSWER = frozenset({"redirect_loop", "timeout", "dns", "refused", "tls", "connection", "proxy", "egress_refused"})


# Audit findings that depend only on the current matrix; a regression is a change between two matrices, so with
# unchanged inputs there is none to replay.
_AUDIT_KEYS = ("policy_breach:", "policy_contradiction:", "policy_lint:")


def _digest(items: dict[str, PolicyFileItem]) -> str:
    """What the audit depends on, per fetched file: name, status, error kind and body (a page's summary)."""
    h = hashlib.sha256()
    for file in sorted(items):
        item = items[file]
        h.update(f"{file}\0{item.status}\0{item.error_kind}\0{len(item.body)}\0".encode())
        h.update(item.body)
    return h.hexdigest()


@lru_cache(maxsize=256)
def _robots(status: int | None, body: bytes, too_many_redirects: bool) -> FetchPolicy:
    """fetch_verdict, parsed once per distinct robots.txt (license discovery and the audit both read it)."""
    return fetch_verdict(status, body, too_many_redirects=too_many_redirects)


def _unanswered(item: PolicyFileItem) -> bool:
    """No answer about the file (5xx, 429, timeout, DNS, reset, cut body): RFC 9309's "unreachable"."""
    if item.error_kind == "redirect_loop":  # too many redirects is an answer: unavailable
        return False
    return item.status is None or item.status >= 500 or item.status == 429 or item.error_kind in _NO_ANSWER


def _last_served(by_file: dict[str, PolicyFileItem], previous: dict[str, Previous]) -> dict[str, PolicyFileItem]:
    """The audit's inputs: each file as fetched, or its last served version when it did not answer now."""
    out = dict(by_file)
    for file, item in by_file.items():
        body = previous[file].last_present_body if file in previous else None
        if body is None or not _unanswered(item):
            continue
        status, headers = 200, {}
        if is_page_file(file):  # a page is kept as its signal summary
            status, values, body = unsummarise(body)
            headers = {name: v[0] for name, v in values.items()}
            out[file] = dataclasses.replace(item, status=status, body=body, headers=headers, header_values=values,
                                            error_kind=None, error_detail=None)  # fmt: skip
            continue
        out[file] = dataclasses.replace(item, status=status, body=body, headers=headers, error_kind=None,
                                        error_detail=None)  # fmt: skip
    return out


def _ok(item: PolicyFileItem) -> bool:
    return item.status is not None and 200 <= item.status < 300


def _fetched(item: PolicyFileItem) -> Fetched:
    return Fetched(item.domain, item.file, item.status, item.body, item.error_kind, item.error_detail, item.truncated)


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
    signals = _signals({i.file: i for i in items})
    assert signals is not None  # ProtectedDomain's default files include robots.txt
    return items, compute(host, signals, agents, policy.path_classes), signals.robots


def _signals(by_file: dict[str, PolicyFileItem]) -> DomainSignals | None:
    """The parsed signals of one domain's fetched files; None when robots.txt was not fetched."""
    robots_item = by_file.get("robots.txt")
    if robots_item is None:
        return None
    robots = _robots(
        robots_item.status if robots_item.error_kind not in _NO_ANSWER else None,
        robots_item.body,
        robots_item.error_kind == "redirect_loop",
    )
    ai_item, tdm_item = by_file.get("ai.txt"), by_file.get(".well-known/tdmrep.json")
    pages = {
        path_class_of(file): parse_page(item.header_values or item.headers, item.body)
        for file, item in by_file.items()
        if is_page_file(file) and _ok(item)
    }
    documents = [parse_rsl(i.body) for f, i in by_file.items() if f.startswith(LICENSE_PREFIX) and _ok(i)]
    rsl = (
        RSLDocument(tuple(c for d in documents for c in d.contents), tuple(e for d in documents for e in d.errors))
        if documents
        else None
    )
    return DomainSignals(
        robots,
        parse_aitxt(ai_item.body, ai_item.headers.get("content-type")) if ai_item and _ok(ai_item) else None,
        parse_tdmrep_json(tdm_item.body) if tdm_item and _ok(tdm_item) else None,
        pages,
        rsl,
    )


def license_urls(items: list[PolicyFileItem], limit: int) -> dict[str, str]:
    """``license#<n>`` -> URL of the first ``limit`` valid RSL License lines of a fetched robots.txt."""
    robots_item = next((i for i in items if i.file == "robots.txt"), None)
    if limit <= 0 or robots_item is None or not _ok(robots_item) or b"license" not in robots_item.body.lower():
        return {}
    robots = _robots(robots_item.status, robots_item.body, False).robots
    if robots is None:
        return {}
    refs, _ = parse_license_lines(GroupLine(r.line, r.value, ()) for r in robots.records_for("license"))
    urls = list(dict.fromkeys(ref.url for ref in refs))[:limit]
    return {f"{LICENSE_PREFIX}{n}": url for n, url in enumerate(urls, 1)}


def _bare(domain: ProtectedDomain) -> ProtectedDomain:
    """``domain`` with no policy files of its own: fetches only the extra URLs it is given."""
    return domain.model_copy(update={"files": []})


def _summarised(item: PolicyFileItem) -> PolicyFileItem:
    """A sampled page as it is kept: its signal summary instead of its (ever-changing) body."""
    if item.status is None:
        return item
    body = summary(item.status, item.header_values or item.headers, item.body)
    return dataclasses.replace(item, body=body, truncated=False)
