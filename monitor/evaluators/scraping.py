"""What the three scraping evaluators share: candidates, bounded capture lists, API errors, and the cross-run rule
that only new captures or growing counts raise or update an incident. No network, database or clock."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from monitor.incidents import SEVERITY_RANK, Evidence, Finding
from spiders.scraping_items import ArchivePage

MAX_CAPTURE_IDS = 2000


MAX_CAPTURES_SHOWN = 50


MAX_EVIDENCE_PER_FINDING = 20


@dataclass(frozen=True)
class Candidate:
    """A finding before it is compared with the stored incident: ``ids`` are its captures (empty for counts)."""

    finding: Finding
    evidence: list[Evidence]
    ids: frozenset[str] = frozenset()


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def text_of(body: bytes, limit: int = 65536) -> str:
    return body[:limit].decode("utf-8", "replace")


def api_errors(pages: list[ArchivePage]) -> list[tuple[str, str]]:
    """(kind, detail) of every problem the endpoint's answers had: rate limits, HTTP and network errors,
    malformed JSON, gzip that is not, truncated NDJSON, pagination loops."""
    out: list[tuple[str, str]] = []
    for p in pages:
        where = f"{p.kind} {p.query!r} page {p.page}"
        if p.kind == "dataset_card" and p.status == 404:
            continue  # many datasets have no card; their rows are still read
        if p.stop == "rate_limited":
            out.append(("rate_limited", f"{where}: HTTP {p.status} after {p.attempts} attempts"))
        elif p.error_kind:
            out.append((p.error_kind, f"{where}: {p.error_detail}"))
        if p.parse_error:
            kind = (
                "malformed_json"
                if "JSON" in p.parse_error
                else "bad_encoding"
                if "gzip" in p.parse_error
                else ("bad_format")
            )
            out.append((kind, f"{where}: {p.parse_error}"))
        if p.bad_lines:
            out.append(("truncated", f"{where}: {p.bad_lines} unreadable NDJSON line(s)"))
        if p.stop == "loop":
            out.append(("pagination_loop", f"{where}: the same page or resume key came back"))
    return out


def new_or_grown(candidates: Iterable[Candidate], stored: dict[str, dict[str, Any]]) -> list[Candidate]:
    """Only candidates that are new, hold captures not seen before, count more, or are more severe than the
    stored incident; their data merged with it (capture ids united, ``new`` listing what is new)."""
    out = []
    for c in candidates:
        old = stored.get(c.finding.dedupe_key)
        if old is None:
            data = {**c.finding.data, "new": sorted(c.ids)[:100]}
            out.append(Candidate(replace(c.finding, data=data), c.evidence[-MAX_EVIDENCE_PER_FINDING:], c.ids))
            continue
        before: dict[str, Any] = old.get("data") or {}
        known = set(before.get("capture_ids") or [])
        fresh = c.ids - known
        count, was = c.finding.data.get("count", 0), before.get("count", 0)
        total, was_total = c.finding.data.get("rows_total"), before.get("rows_total")
        grew = bool(fresh) or count > was or (total is not None and was_total is not None and total > was_total)
        if not grew and SEVERITY_RANK[c.finding.severity] <= SEVERITY_RANK.get(old.get("severity", "info"), 0):
            continue
        data = {**c.finding.data, "count_before": was, "new": sorted(fresh)[:100]}
        if c.ids:
            merged = sorted(known | c.ids)
            data["capture_ids"] = merged[-MAX_CAPTURE_IDS:]
            data["count"] = max(len(merged), was + len(fresh))
        evidence = [e for e in c.evidence if not c.ids or e.data.get("capture_id") in fresh] or c.evidence[:1]
        out.append(Candidate(replace(c.finding, data=data), evidence[:MAX_EVIDENCE_PER_FINDING], c.ids))
    return out
