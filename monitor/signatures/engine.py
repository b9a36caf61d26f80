"""The signature engine's public API: scan a third-party page, an archive index row or a dataset text."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from monitor.signatures.archive import CDX_RULES, cdx_rows
from monitor.signatures.audio import AUDIO_RULES
from monitor.signatures.context import Document, PageContext, build_context
from monitor.signatures.data import SIGNATURES, Signature, signatures_table
from monitor.signatures.datasets import DATASET_RULES, page_listing, read_dataset, regex_rows
from monitor.signatures.files import FILE_RULES
from monitor.signatures.model import (
    SEVERITIES,
    Match,
    NetworkRequest,
    Resource,
    TrackRef,
    max_severity,
    severity_rank,
)
from monitor.signatures.rules import PAGE_RULES as _DIRECT_RULES
from monitor.signatures.rules import apply_pattern, escalate_page
from monitor.signatures.tags import FileTags, read_tags

__all__ = [
    "RULES",
    "SEVERITIES",
    "SIGNATURES",
    "FileTags",
    "Match",
    "NetworkRequest",
    "Resource",
    "TrackRef",
    "cdx_rows",
    "max_severity",
    "read_tags",
    "scan_cdx_row",
    "scan_dataset_text",
    "scan_page",
    "signatures_table",
]

PAGE_SCOPES = frozenset({"url", "html", "script", "playlist", "headers", "file-tags"})
MAX_PER_SIGNATURE = 200
PAGE_RULES: dict[str, Callable] = {**_DIRECT_RULES, **FILE_RULES}
RULES: dict[str, Callable] = {**PAGE_RULES, **CDX_RULES, **DATASET_RULES, **AUDIO_RULES}


def _epoch(now: datetime) -> float:
    if not isinstance(now, datetime):
        raise TypeError("now must be a datetime")
    return (now if now.tzinfo else now.replace(tzinfo=UTC)).timestamp()


def _run(sig: Signature, ctx: PageContext) -> list[Match]:
    if sig.pattern is not None:
        return apply_pattern(sig, ctx)
    return PAGE_RULES[sig.rule or ""](sig, ctx)


def _suppress(matches: list[Match], tooling: bool) -> list[Match]:
    """§4: matches seen only in a legitimate context (widget, oEmbed, podcast feed, SDK) and everything on a
    code-hosting page drop to info; the reason is kept in ``data['suppressed']``."""
    out = []
    for m in matches:
        reason = "tooling" if tooling else m.data.get("legit")
        if reason and (m.severity != "info" or "suppressed" not in m.data):
            m = replace(m, severity="info", data={**m.data, "suppressed": reason, "severity_before": m.severity})
        out.append(m)
    return out


def _finish(matches: list[Match]) -> list[Match]:
    """De-duplicate on (signature, key) keeping the most severe, cap per signature, sort by severity then id."""
    best: dict[tuple[str, str], Match] = {}
    seen_in: dict[tuple[str, str], list[str]] = {}
    for m in matches:
        key = (m.signature, str(m.data.get("_key", m.snippet)))
        seen_in.setdefault(key, [])
        if m.url not in seen_in[key] and len(seen_in[key]) < 10:
            seen_in[key].append(m.url)
        old = best.get(key)
        if old is None or severity_rank(m.severity) > severity_rank(old.severity):
            best[key] = m
    out = []
    per_sig: dict[str, int] = {}
    for key, m in best.items():
        data = {k: v for k, v in m.data.items() if k != "_key"}
        if len(seen_in[key]) > 1:
            data["seen_in"] = sorted(seen_in[key])
        out.append(replace(m, data=data))
    out.sort(key=lambda m: (-severity_rank(m.severity), m.signature, m.url, m.snippet))
    capped = []
    for m in out:
        per_sig[m.signature] = per_sig.get(m.signature, 0) + 1
        if per_sig[m.signature] <= MAX_PER_SIGNATURE:
            capped.append(m)
    return capped


_LISTING = next(s for s in SIGNATURES if s.rule == "dataset_listing")


def _listing(doc: Document) -> list[Match]:
    return page_listing(_LISTING, doc.url, doc.text, doc.prose, doc.headings, html=doc.html)


def scan_page(
    page_url: str,
    resources: Sequence[Resource],
    requests: Sequence[NetworkRequest] = (),
    *,
    now: datetime,
    site_host: str | None = None,
) -> list[Match]:
    """Every signature over one third-party page: its HTML, the scripts/playlists/audio fetched from it and the
    network log of a rendered load. Pure: ``now`` decides whether signed URLs are live; nothing is fetched.

    Steps: build the page context (URLs from every place §3.3 names, unwrapped and policy-decoded; requests and
    resources of SoundCloud frames dropped), run the direct rows, apply per-match severity rules and the §4
    suppression, run the composite rows (#9, #21) on what was found and #29 on the page itself (a dataset card
    or CSV/JSONL listing served by any site, ``datasets.page_listing``), escalate co-occurring signals (§3.2), then
    de-duplicate and sort (most severe first). SoundCloud's own pages return []. Never raises on bad input.
    """
    ctx = build_context(page_url, resources or (), requests or (), _epoch(now), site_host)
    if ctx is None:
        return []
    direct: list[Match] = []
    for sig in SIGNATURES:
        if not sig.composite and PAGE_SCOPES & set(sig.applies):
            direct.extend(_run(sig, ctx))
    ctx.matches = _suppress(direct, False)
    composite = [m for sig in SIGNATURES if sig.composite for m in _run(sig, ctx)]
    composite += [m for doc in ctx.documents for m in _listing(doc)]
    matches = escalate_page(ctx.matches + _suppress(composite, False), ctx)
    return _finish(_suppress(matches, ctx.tooling))


def scan_cdx_row(row: Mapping[str, str], *, source: str) -> list[Match]:
    """#27/#28 (and the #1-#7 rows of the captured URL) for one archive index row.

    ``row`` uses Wayback names (``original``, ``mimetype``, ``statuscode``) or Common Crawl names (``url``,
    ``mime``, ``mime-detected``, ``status``); ``source`` names the index (``wayback``, ``CC-MAIN-2026-21``…).
    """
    if not isinstance(row, Mapping):
        return []
    out: list[Match] = []
    for sig in SIGNATURES:
        if "cdx-row" in sig.applies and sig.rule in CDX_RULES:
            out.extend(CDX_RULES[sig.rule](sig, row, str(source)))
    return _finish(out)


def scan_dataset_text(url: str, text: str, *, min_listing: int = 20) -> list[Match]:
    """#29/#30/#31 over a dataset card, CSV, JSONL or sidecar text (first 2 MiB). #29's ``data`` holds the
    counts: permalinks, track ids/URNs, secret tokens, all-rights-reserved rows, audio present, columns."""
    ds = read_dataset(str(url), text if isinstance(text, str) else "")
    out: list[Match] = []
    for sig in SIGNATURES:
        if "dataset-text" not in sig.applies:
            continue
        if sig.rule:
            out.extend(DATASET_RULES[sig.rule](sig, ds, min_listing))
        else:
            out.extend(regex_rows(sig, ds))
    return _finish(out)
