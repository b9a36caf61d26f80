"""What the policy probe evaluates, purely: its fetched files as signals (the last served version of a file that
did not answer), the RSL license documents robots.txt names, and the digest of everything the audit reads."""

from __future__ import annotations

import dataclasses
import hashlib
from collections import OrderedDict

from monitor.policy.aitxt import parse_aitxt
from monitor.policy.matrix import DomainSignals
from monitor.policy.pages import is_page_file, parse_page, path_class_of, summary, unsummarise
from monitor.policy.robots import FetchPolicy, fetch_verdict
from monitor.policy.signals import RSLDocument, parse_license_lines, parse_rsl, parse_tdmrep_json
from monitor.policy.signals.groups import GroupLine
from monitor.policy.snapshot import Fetched, Previous
from spiders.items import PolicyFileItem

LICENSE_PREFIX = "license#"


# A redirect loop still carries the 3xx status of its last hop; it is not an answer about robots.txt.
NO_ANSWER = frozenset({"redirect_loop", "timeout", "dns", "refused", "tls", "connection", "proxy", "egress_refused"})


def inputs_digest(items: dict[str, PolicyFileItem]) -> str:
    """What the audit depends on, per fetched file: name, status, error kind and body (a page's summary)."""
    h = hashlib.sha256()
    for file in sorted(items):
        item = items[file]
        h.update(f"{file}\0{item.status}\0{item.error_kind}\0{len(item.body)}\0".encode())
        h.update(item.body)
    return h.hexdigest()


class _ParsedRobots:
    """The last parsed robots.txt files, least recently used dropped first. License discovery reads every robots.txt
    of a crawl chunk before the audit reads them again, so the cache must hold a whole chunk: a batch caller sizes
    it with :func:`robots_cache_at_least` (a fixed 256 parsed every file twice in 500-domain chunks)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._parsed: OrderedDict[tuple[int | None, bytes, bool], FetchPolicy] = OrderedDict()

    def get(self, key: tuple[int | None, bytes, bool]) -> FetchPolicy:
        policy = self._parsed.get(key)
        if policy is not None:
            self._parsed.move_to_end(key)
            return policy
        policy = fetch_verdict(key[0], key[1], too_many_redirects=key[2])
        self._parsed[key] = policy
        while len(self._parsed) > self.size:
            self._parsed.popitem(last=False)
        return policy

    def clear(self) -> None:
        self._parsed.clear()


ROBOTS_CACHE_MIN = 256
_robots = _ParsedRobots(ROBOTS_CACHE_MIN)


def robots_cache_at_least(files: int) -> None:
    """Let the parse cache hold ``files`` robots.txt files (a crawl chunk's domains); it never shrinks."""
    _robots.size = max(_robots.size, files)


def clear_robots_cache() -> None:
    """Forget every parsed robots.txt (a measurement of the parse itself starts from here)."""
    _robots.clear()


def robots_policy(status: int | None, body: bytes, too_many_redirects: bool) -> FetchPolicy:
    """fetch_verdict, parsed once per distinct robots.txt (license discovery and the audit both read it)."""
    return _robots.get((status, body, too_many_redirects))


def unanswered(item: PolicyFileItem) -> bool:
    """No answer about the file (5xx, 429, timeout, DNS, reset, cut body): RFC 9309's "unreachable"."""
    if item.error_kind == "redirect_loop":  # too many redirects is an answer: unavailable
        return False
    return item.status is None or item.status >= 500 or item.status == 429 or item.error_kind in NO_ANSWER


def last_served(by_file: dict[str, PolicyFileItem], previous: dict[str, Previous]) -> dict[str, PolicyFileItem]:
    """The audit's inputs: each file as fetched, or its last served version when it did not answer now."""
    out = dict(by_file)
    for file, item in by_file.items():
        body = previous[file].last_present_body if file in previous else None
        if body is None or not unanswered(item):
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


def answered_ok(item: PolicyFileItem) -> bool:
    return item.status is not None and 200 <= item.status < 300


def fetched_of(item: PolicyFileItem) -> Fetched:
    return Fetched(item.domain, item.file, item.status, item.body, item.error_kind, item.error_detail, item.truncated)


def domain_signals(by_file: dict[str, PolicyFileItem]) -> DomainSignals | None:
    """The parsed signals of one domain's fetched files; None when robots.txt was not fetched."""
    robots_item = by_file.get("robots.txt")
    if robots_item is None:
        return None
    robots = robots_policy(
        robots_item.status if robots_item.error_kind not in NO_ANSWER else None,
        robots_item.body,
        robots_item.error_kind == "redirect_loop",
    )
    ai_item, tdm_item = by_file.get("ai.txt"), by_file.get(".well-known/tdmrep.json")
    pages = {
        path_class_of(file): parse_page(item.header_values or item.headers, item.body)
        for file, item in by_file.items()
        if is_page_file(file) and answered_ok(item)
    }
    documents = [parse_rsl(i.body) for f, i in by_file.items() if f.startswith(LICENSE_PREFIX) and answered_ok(i)]
    rsl = (
        RSLDocument(tuple(c for d in documents for c in d.contents), tuple(e for d in documents for e in d.errors))
        if documents
        else None
    )
    return DomainSignals(
        robots,
        parse_aitxt(ai_item.body, ai_item.headers.get("content-type")) if ai_item and answered_ok(ai_item) else None,
        parse_tdmrep_json(tdm_item.body) if tdm_item and answered_ok(tdm_item) else None,
        pages,
        rsl,
    )


def license_urls(items: list[PolicyFileItem], limit: int) -> dict[str, str]:
    """``license#<n>`` -> URL of the first ``limit`` valid RSL License lines of a fetched robots.txt."""
    robots_item = next((i for i in items if i.file == "robots.txt"), None)
    if limit <= 0 or robots_item is None or not answered_ok(robots_item) or b"license" not in robots_item.body.lower():
        return {}
    robots = robots_policy(robots_item.status, robots_item.body, False).robots
    if robots is None:
        return {}
    refs, _ = parse_license_lines(GroupLine(r.line, r.value, ()) for r in robots.records_for("license"))
    urls = list(dict.fromkeys(ref.url for ref in refs))[:limit]
    return {f"{LICENSE_PREFIX}{n}": url for n, url in enumerate(urls, 1)}


def summarised(item: PolicyFileItem) -> PolicyFileItem:
    """A sampled page as it is kept: its signal summary instead of its (ever-changing) body."""
    if item.status is None:
        return item
    body = summary(item.status, item.header_values or item.headers, item.body)
    return dataclasses.replace(item, body=body, truncated=False)
