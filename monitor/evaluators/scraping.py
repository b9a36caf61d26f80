"""Pure evaluation of the scraping probes: what a downloader answered for a canary track, what archive indexes and
dataset hubs hold, turned into findings and evidence plans; and the cross-run rule that only new captures or
growing counts raise or update an incident. No network, database or clock (``now`` is an argument)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from monitor.incidents import SEVERITY_RANK, Finding
from monitor.signatures import (
    Catalogue,
    CatalogueTrack,
    Match,
    NetworkRequest,
    Resource,
    escalate,
    read_tags,
    scan_cdx_row,
    scan_dataset_text,
    scan_page,
)
from monitor.signatures.model import track_ref
from monitor.signatures.normalise import disposition_filename, header_values
from spiders.scraping_items import ArchivePage, CanaryFetch

MAX_CAPTURE_IDS = 2000
MAX_CAPTURES_SHOWN = 50
MAX_EVIDENCE_PER_FINDING = 20
ERROR_WORDS = re.compile(
    r"(?i)\b(?:error|failed|failure|unavailable|not found|could not|couldn't|cannot|can't|try again|went wrong"
    r"|too many requests|rate limit|blocked|captcha|forbidden|denied|maintenance|invalid)\b"
)
_TAGS = re.compile(r"(?is)<(script|style)\b.*?</\1>|<[^>]+>")
MAIN_STEPS = ("form", "submit", "api", "browser")


@dataclass(frozen=True)
class EvidencePlan:
    """One evidence row to write with a finding; the probe stores ``body``/``screenshot``/``requests`` as files."""

    dedupe_key: str
    url: str
    page_url: str
    signature: str
    severity: str
    detail: str = ""
    snippet: str = ""
    headers: dict[str, Any] = field(default_factory=dict)
    body: bytes | None = None
    body_type: str = ""
    screenshot: bytes | None = None
    requests: list[dict[str, Any]] | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Candidate:
    """A finding before it is compared with the stored incident: ``ids`` are its captures (empty for counts)."""

    finding: Finding
    evidence: list[EvidencePlan]
    ids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class CanaryResult:
    """One canary probe: ``outcome`` is delivered, not_delivered or recipe_broken (``reason`` says why)."""

    outcome: str
    reason: str
    findings: list[Finding]
    cleared: list[str]
    evidence: list[EvidencePlan]
    matches: list[Match]


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def _iso(epoch: float | None) -> str | None:
    try:
        return datetime.fromtimestamp(float(epoch), UTC).isoformat() if epoch is not None else None
    except (OverflowError, OSError, ValueError, TypeError):
        return None


def _text(body: bytes, limit: int = 65536) -> str:
    return body[:limit].decode("utf-8", "replace")


# --- canaries -------------------------------------------------------------------------------------------------------


def canary_key(service: str, canary: CatalogueTrack) -> str:
    """Dedupe key of "service delivers audio for this canary"."""
    return f"canary:{service}:{canary.id}"


def broken_key(service: str) -> str:
    """Dedupe key of "the service's recipe stopped working"."""
    return f"canary_recipe_broken:{service}"


def recipe_problem(items: list[CanaryFetch], kind: str) -> tuple[str, CanaryFetch | None] | None:
    """Why the recipe could not be followed to a result (form gone, step timed out, HTTP error), or None."""
    main = [i for i in items if i.step in MAIN_STEPS]
    if not main:
        return "the probe fetched nothing", None
    for item in main:
        if item.recipe_problem:
            return item.recipe_problem, item
        if item.status is None:
            return f"{item.step} request failed: {item.error_kind} ({item.error_detail or 'no detail'})", item
        if item.status >= 400:
            return f"{item.step} answered HTTP {item.status}", item
    result = main[-1]
    if result.step == "form":
        return "the form was never submitted", result
    if result.result_found is False:
        return "the result page lacks the recipe's result_selector (layout changed?)", result
    ctype = (result.content_type or "").lower()
    if kind == "api" and ("html" in ctype or result.body.lstrip()[:1] == b"<"):
        return f"HTML page with status {result.status} instead of the API's answer", result
    return None


def error_page(item: CanaryFetch) -> str | None:
    """The error text of an HTML result that reads as an error page ('Something went wrong…'), else None."""
    ctype = (item.content_type or "").lower()
    if "html" not in ctype and item.body.lstrip()[:1] != b"<":
        return None
    words = " ".join(_TAGS.sub(" ", _text(item.body)).split())
    m = ERROR_WORDS.search(words)
    return words[max(0, m.start() - 60) : m.end() + 60].strip() if m else None


def _resources(items: list[CanaryFetch]) -> tuple[list[Resource], list[NetworkRequest]]:
    resources, requests = [], []
    for item in items:
        if item.status is None or item.step == "form":
            continue
        kind = "audio" if item.step == "download" else "page" if "html" in (item.content_type or "") else "script"
        resources.append(
            Resource(item.final_url or item.url, kind, item.status, item.content_type or "", item.body, item.headers)
        )
        for r in item.requests:
            requests.append(
                NetworkRequest(
                    r.url,
                    r.method,
                    r.resource_type,
                    r.frame_url,
                    r.is_main_frame,
                    r.status,
                    r.content_type or "",
                    r.headers,
                )
            )
    return resources, requests


def download_facts(item: CanaryFetch) -> dict[str, Any]:
    """What a delivered file head shows: type, bytes, hash, filename, tags (as read from the head)."""
    name = next((disposition_filename(v) for v in header_values(item.headers, "content-disposition")), "")
    path = urlsplit(item.final_url or item.url).path
    filename = name or unquote(path.rsplit("/", 1)[-1])
    total = None
    for value in header_values(item.headers, "content-range") + header_values(item.headers, "content-length"):
        digits = value.rpartition("/")[2].strip()
        total = int(digits) if digits.isdigit() else total
    tags = read_tags(item.body, filename=filename, content_type=item.content_type or "", total_size=total)
    return {
        "url": item.final_url or item.url,
        "status": item.status,
        "content_type": item.content_type,
        "bytes": item.size,
        "bytes_read": len(item.body),
        "truncated": item.truncated,
        "sha256": sha256(item.body),
        "filename": filename,
        "format": tags.format,
        "tags": dict(tags.frames),
        "pictures": list(tags.pictures),
        "audio": (item.content_type or "").lower().startswith("audio/") or tags.format != "unknown",
    }


def _media_urls(matches: list[Match]) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for m in matches:
        resource = m.data.get("policy_resource")
        if resource and resource not in out:
            expiry = m.data.get("policy_expiry")
            out[resource] = {
                "url": m.snippet,
                "resource": resource,
                "expiry": expiry,
                "expires_at": _iso(expiry),
                "live": m.data.get("live"),
                "found_in": m.url,
            }
    return list(out.values())


def _fetch_evidence(key: str, item: CanaryFetch, page_url: str, matches: list[Match], severity: str) -> EvidencePlan:
    mine = [m for m in matches if m.url in (item.final_url, item.url) and SEVERITY_RANK[m.severity] > 0]
    data: dict[str, Any] = {
        "step": item.step,
        "status": item.status,
        "method": item.method,
        "bytes": item.size,
        "truncated": item.truncated,
        "sha256": sha256(item.body),
        "error": item.error_detail,
        "matches": [{"signature": m.signature, "severity": m.severity, "snippet": m.snippet[:200]} for m in mine[:20]],
    }
    if item.request_body:
        data["request_body"] = _text(item.request_body, 4096)
        data["request_headers"] = item.request_headers
    if item.step == "download":
        data.update(download_facts(item))
    requests = [vars(r) for r in item.requests] if item.requests else None
    return EvidencePlan(
        key, item.final_url or item.url, page_url, mine[0].signature if mine else f"canary:{item.step}", severity,
        detail=f"{item.method} {item.url} -> {item.status or item.error_kind}", headers=item.headers,
        body=item.body or None, body_type=item.content_type or "", screenshot=item.screenshot, requests=requests,
        data=data,
    )  # fmt: skip


def _names(m: Match, track: CatalogueTrack) -> bool:
    return m.data.get("catalogue_track", {}).get("id") == track.id


def evaluate_canary(
    service: str, kind: str, canary: CatalogueTrack, items: list[CanaryFetch], catalogue: Catalogue, now: datetime
) -> CanaryResult:
    """Did ``service`` deliver SoundCloud audio for ``canary``? A working recipe that delivers is a critical
    ``canary_delivered`` finding; one that cannot be followed (or ends on an error page) is ``probe_health``."""
    key, broken = canary_key(service, canary), broken_key(service)
    domain = (urlsplit(items[0].url).hostname or service) if items else service
    main = [i for i in items if i.step in MAIN_STEPS]
    result = main[-1] if main else None
    page_url = (result.final_url or result.url) if result else ""
    resources, requests = _resources(items)
    matches = escalate(scan_page(page_url, resources, requests, now=now), catalogue) if page_url else []
    ours = [m for m in matches if SEVERITY_RANK[m.severity] and _names(m, canary)]
    downloads = [download_facts(i) for i in items if i.step == "download" and i.status in (200, 206) and i.body]
    audio = [d for d in downloads if d["audio"]]
    mention = result is not None and any(s in _text(result.body, 2_000_000) for s in (canary.id, canary.permalink))
    delivered = bool(ours) or bool(audio and mention)
    problem = recipe_problem(items, kind)
    if problem is None and not delivered and result is not None and (text := error_page(result)):
        problem = (f"HTML error page with status {result.status}: {text[:160]!r}", result)
    if problem is not None and not delivered:
        reason, culprit = problem
        data = {
            "service": service,
            "reason": reason,
            "canary": canary.id,
            "step": culprit.step if culprit else None,
            "url": culprit.url if culprit else None,
            "status": culprit.status if culprit else None,
        }
        title = f"Canary probe of {service} no longer works: {reason}"[:200]
        finding = Finding(broken, "probe_health", "medium", domain, title, reason, data)
        evidence = [_fetch_evidence(broken, culprit, page_url, matches, "medium")] if culprit else []
        return CanaryResult("recipe_broken", reason, [finding], [], evidence, matches)
    if not delivered:
        return CanaryResult("not_delivered", "no SoundCloud audio for the canary", [], [key, broken], [], matches)
    first = audio[0] if audio else {}
    data = {
        "service": service,
        "canary": canary.summary(),
        "page_url": page_url,
        "media_urls": _media_urls(matches),
        "content_type": first.get("content_type"),
        "bytes": first.get("bytes"),
        "sha256": first.get("sha256"),
        "filename": first.get("filename") or next((d["filename"] for d in downloads), None),
        "tags": first.get("tags", {}),
        "downloads": downloads,
        "signatures": sorted({m.signature for m in ours}),
        "submitted": {"method": result.method, "url": result.url, "body": _text(result.request_body, 4096)}
        if result
        else None,
    }
    what = ", ".join(data["signatures"]) or "audio bytes"
    detail = f"{service} answered the canary {canary.permalink} with SoundCloud audio ({what})."
    title = f"{service} delivers SoundCloud audio for canary {canary.title or canary.id} ({canary.id})"
    finding = Finding(key, "canary_delivered", "critical", domain, title, detail, data)
    fetched = [i for i in items if i.step != "form" and i.status is not None]
    evidence = [_fetch_evidence(key, i, page_url, matches, "critical") for i in fetched]
    return CanaryResult("delivered", detail, [finding], [broken], evidence, matches)


# --- archives -------------------------------------------------------------------------------------------------------


def _decoded_track(m: Match) -> Match:
    """The captured URL often carries its SoundCloud link percent-encoded (``?url=https%3A%2F%2F…``)."""
    if m.track is not None and (m.track.permalink or m.track.track_id or m.track.media_token):
        return m
    return replace(m, track=track_ref(unquote(unquote(m.url))) or m.track)


def _family(m: Match) -> str:
    track = m.track
    if track and track.media_token:
        return f"token-{track.media_token}"
    if track and track.track_id:
        return f"track-{track.track_id}"
    parts = urlsplit(m.url)
    return f"url-{(parts.hostname or '').lower()}{parts.path.lower()}"[:200]


def archive_candidates(pages: list[ArchivePage], catalogue: Catalogue) -> list[Candidate]:
    """#27 audio captures and #28 downloader-page captures in archive index rows, grouped per source and family
    (a media token or track for audio, a host for downloader pages), each capture identified by its digest."""
    groups: dict[str, dict[str, Any]] = {}
    for page in pages:
        if page.kind not in ("cdx", "cc_index"):
            continue
        scan_source = "wayback" if page.source == "wayback" else (page.crawl or "cc")
        for row in page.rows:
            for m in escalate([_decoded_track(m) for m in scan_cdx_row(row, source=scan_source)], catalogue):
                if m.signature == "SC-ARCHIVE-AUDIO-CAPTURE":
                    kind, family = "archive_audio_capture", f"audio:{_family(m)}"
                elif m.signature == "SC-ARCHIVE-DOWNLOADER-PAGE":
                    kind, family = "archive_downloader_page", f"downloader:{urlsplit(m.url).hostname or '-'}"
                else:
                    continue
                key = f"archive:{page.source}:{family}"
                g = groups.setdefault(
                    key,
                    {
                        "kind": kind,
                        "family": family,
                        "severity": "info",
                        "captures": {},
                        "tracks": {},
                        "page": page,
                        "pages": {},
                        "signatures": set(),
                    },
                )
                if SEVERITY_RANK[m.severity] > SEVERITY_RANK[g["severity"]]:
                    g["severity"] = m.severity
                capture = {
                    k: m.data[k]
                    for k in (
                        "timestamp",
                        "status",
                        "mime",
                        "digest",
                        "length",
                        "offset",
                        "filename",
                        "replay_url",
                        "replayable",
                    )
                    if k in m.data
                }
                capture.update(url=m.url, crawl=page.crawl)
                cid = str(m.data.get("digest") or f"{m.data.get('timestamp')}:{m.url}")
                if cid not in g["captures"]:
                    g["captures"][cid], g["pages"][cid] = capture, page
                g["signatures"].update(m.data.get("matched", []))
                if "catalogue_track" in m.data:
                    g["tracks"][m.data["catalogue_track"]["id"]] = m.data["catalogue_track"]
    out = []
    for key, g in groups.items():
        page: ArchivePage = g["page"]
        captures = sorted(g["captures"].items(), key=lambda kv: kv[1].get("timestamp") or "")
        n, label = len(captures), page.source.replace("_", " ").title()
        host = urlsplit(page.url).hostname or page.source
        if g["kind"] == "archive_audio_capture":
            title = f"{label} holds {n} capture(s) of SoundCloud audio ({g['family'].split(':', 1)[1]})"
            domain = host
        else:
            domain = g["family"].split(":", 1)[1]
            title = f"{label} holds {n} capture(s) of downloader {domain} handling SoundCloud links"
        data = {
            "source": page.source,
            "family": g["family"],
            "count": n,
            "capture_ids": [c for c, _ in captures][-MAX_CAPTURE_IDS:],
            "captures": [c for _, c in captures][-MAX_CAPTURES_SHOWN:],
            "signatures": sorted(g["signatures"]),
            "catalogue_tracks": list(g["tracks"].values()),
        }
        finding = Finding(key, g["kind"], g["severity"], domain, title, title + ".", data)
        signature = "SC-ARCHIVE-AUDIO-CAPTURE" if g["kind"] == "archive_audio_capture" else "SC-ARCHIVE-DOWNLOADER-PAGE"
        evidence = [
            EvidencePlan(
                key,
                c["url"],
                (api := g["pages"][cid]).url,
                signature,
                g["severity"],
                detail=f"captured {c.get('timestamp')} ({c.get('status')} {c.get('mime')})",
                snippet=c["url"][:300],
                headers=api.headers,
                body=api.body or None,
                body_type=api.content_type or "",
                data={**c, "capture_id": cid, "api_sha256": sha256(api.body)},
            )
            for cid, c in captures
        ]
        out.append(Candidate(finding, evidence, frozenset(c for c, _ in captures)))
    return out


# --- datasets -------------------------------------------------------------------------------------------------------


def dataset_candidates(pages: list[ArchivePage], catalogue: Catalogue, min_listing: int) -> list[Candidate]:
    """#29 listings, #30 yt-dlp info.json traces and #31 secret tokens per dataset (card + viewer rows), with the
    count of distinct SoundCloud track references and the viewer's total row count."""
    by_dataset: dict[str, list[ArchivePage]] = {}
    for page in pages:
        if page.dataset and page.kind in ("dataset_card", "rows"):
            by_dataset.setdefault(page.dataset, []).append(page)
    out = []
    for dataset, group in by_dataset.items():
        card = next((p for p in group if p.kind == "dataset_card" and p.status == 200), None)
        rows = [r for p in group if p.kind == "rows" for r in p.rows]
        text = (
            (_text(card.body, 2_000_000) if card else "") + "\n" + "\n".join(json.dumps(r, default=str) for r in rows)
        )
        source = group[0].source
        url = card.url if card else group[0].url
        matches = [
            m
            for m in escalate(scan_dataset_text(url, text, min_listing=min_listing), catalogue)
            if SEVERITY_RANK[m.severity] > 0
        ]
        listing = next((m for m in matches if m.signature == "SC-DATASET-LISTING"), None)
        if not matches or not (listing or any(m.signature == "SC-DATASET-YTDLP-INFOJSON" for m in matches)):
            continue
        severity = max((m.severity for m in matches), key=SEVERITY_RANK.__getitem__)
        traces = sum(m.data.get("count", 0) for m in matches if m.signature == "SC-DATASET-YTDLP-INFOJSON")
        counts = {k: v for k, v in (listing.data if listing else {}).items() if k != "tracks"}
        count = max(counts.get("permalinks", 0), counts.get("track_ids", 0)) if listing else traces
        totals = [p.total for p in group if p.total is not None]
        tracks = {
            m.data["catalogue_track"]["id"]: m.data["catalogue_track"] for m in matches if "catalogue_track" in m.data
        }
        key = f"dataset:{source}:{dataset}"
        data = {
            "hub": source,
            "dataset": dataset,
            "count": count,
            "rows_total": max(totals) if totals else None,
            "rows_read": len(rows),
            "info_json_traces": traces,
            "counts": counts,
            "catalogue_tracks": list(tracks.values()),
            "signatures": sorted({m.signature for m in matches}),
        }
        host = urlsplit(url).hostname or source
        title = f"Dataset {dataset} on {source} lists {count} SoundCloud track(s)"
        detail = "; ".join(m.detail for m in matches[:3])
        evidence = [
            EvidencePlan(
                key,
                p.url,
                url,
                (listing or matches[0]).signature,
                severity,
                detail=f"{p.kind} page {p.page}",
                headers=p.headers,
                body=p.body or None,
                body_type=p.content_type or "",
                data={"kind": p.kind, "page": p.page, "rows": len(p.rows), "sha256": sha256(p.body)},
            )
            for p in group
            if p.status == 200
        ][:MAX_EVIDENCE_PER_FINDING]
        out.append(Candidate(Finding(key, "dataset_listing", severity, host, title, detail, data), evidence))
    return out


# --- errors and de-duplication across runs ---------------------------------------------------------------------------


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
