"""Pure evaluation of a canary probe: what a downloader service answered for a canary track (delivered, not
delivered, or the recipe broke), as findings with evidence."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from monitor.audio.model import AudioResult
from monitor.evaluators.scraping import sha256, text_of
from monitor.incidents import SEVERITY_RANK, Evidence, Finding
from monitor.signatures import (
    Catalogue,
    CatalogueTrack,
    Match,
    NetworkRequest,
    Resource,
    escalate,
    read_tags,
    scan_page,
)
from monitor.signatures.normalise import disposition_filename, header_values
from spiders.scraping_items import CanaryFetch

ERROR_WORDS = re.compile(
    r"(?i)\b(?:error|failed|failure|unavailable|not found|could not|couldn't|cannot|can't|try again|went wrong"
    r"|too many requests|rate limit|blocked|captcha|forbidden|denied|maintenance|invalid)\b"
)


_TAGS = re.compile(r"(?is)<(script|style)\b.*?</\1>|<[^>]+>")


MAIN_STEPS = ("form", "submit", "api", "browser")


@dataclass(frozen=True)
class CanaryResult:
    """One canary probe: ``outcome`` is delivered, delivered_unknown (audio that is not the canary), not_delivered
    or recipe_broken (``reason`` says why)."""

    outcome: str
    reason: str
    findings: list[Finding]
    cleared: list[str]
    evidence: list[Evidence]
    matches: list[Match]


def _iso(epoch: float | None) -> str | None:
    try:
        return datetime.fromtimestamp(float(epoch), UTC).isoformat() if epoch is not None else None
    except (OverflowError, OSError, ValueError, TypeError):
        return None


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
    words = " ".join(_TAGS.sub(" ", text_of(item.body)).split())
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


def _fetch_evidence(key: str, item: CanaryFetch, page_url: str, matches: list[Match], severity: str) -> Evidence:
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
        data["request_body"] = text_of(item.request_body, 4096)
        data["request_headers"] = item.request_headers
    if item.step == "download":
        data.update(download_facts(item))
    requests = json.dumps([vars(r) for r in item.requests], default=str).encode() if item.requests else None
    return Evidence(
        key, item.final_url or item.url, page_url, mine[0].signature if mine else f"canary:{item.step}", severity,
        detail=f"{item.method} {item.url} -> {item.status or item.error_kind}", headers=item.headers,
        body=item.body or None, body_type=item.content_type or "", screenshot=item.screenshot, requests=requests,
        data=data, requests_type="application/json",
    )  # fmt: skip


def _names(m: Match, track: CatalogueTrack) -> bool:
    return m.data.get("catalogue_track", {}).get("id") == track.id


def unknown_key(service: str, canary: CatalogueTrack) -> str:
    """Dedupe key of "service answers the canary with audio that is not the canary"."""
    return f"canary_unknown:{service}:{canary.id}"


def evaluate_canary(
    service: str,
    kind: str,
    canary: CatalogueTrack,
    items: list[CanaryFetch],
    catalogue: Catalogue,
    now: datetime,
    audio: Mapping[str, AudioResult] | None = None,
) -> CanaryResult:
    """Did ``service`` deliver SoundCloud audio for ``canary``? A working recipe that delivers is a critical
    ``canary_delivered`` finding; one that cannot be followed (or ends on an error page) is ``probe_health``.

    ``audio`` holds what the probe's matcher made of each downloaded file (by URL after redirects, as
    ``download_facts`` reports it): a fingerprint match of the canary confirms a delivery whatever the tags say;
    fingerprinted audio that is not the canary (no match, or another track) is ``canary_unknown_audio``, high:
    the service answers with audio we cannot vouch for."""
    key, broken, unknown = canary_key(service, canary), broken_key(service), unknown_key(service, canary)
    heard = {u: r for u, r in (audio or {}).items() if r.usable}
    confirmed = {u: r.match for u, r in heard.items() if r.match is not None and r.match.track == canary.id}
    domain = (urlsplit(items[0].url).hostname or service) if items else service
    main = [i for i in items if i.step in MAIN_STEPS]
    result = main[-1] if main else None
    page_url = (result.final_url or result.url) if result else ""
    resources, requests = _resources(items)
    matches = escalate(scan_page(page_url, resources, requests, now=now), catalogue) if page_url else []
    ours = [m for m in matches if SEVERITY_RANK[m.severity] and _names(m, canary)]
    downloads = [download_facts(i) for i in items if i.step == "download" and i.status in (200, 206) and i.body]
    audio_files = [d for d in downloads if d["audio"] or d["url"] in confirmed]
    mention = result is not None and any(s in text_of(result.body, 2_000_000) for s in (canary.id, canary.permalink))
    delivered = bool(ours) or bool(audio_files and mention) or bool(confirmed)
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
    if not delivered and heard and problem is None:
        return _unknown_audio(service, canary, domain, page_url, items, heard, matches, now)
    if not delivered:
        return CanaryResult(
            "not_delivered", "no SoundCloud audio for the canary", [], [key, broken, unknown], [], matches
        )
    # The file the fingerprint confirmed is the one whose facts the finding carries.
    first = next((d for d in audio_files if d["url"] in confirmed), audio_files[0] if audio_files else {})
    fingerprint = confirmed.get(first.get("url", ""))
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
        "fingerprint": fingerprint.as_dict() if fingerprint else None,
        "submitted": {"method": result.method, "url": result.url, "body": text_of(result.request_body, 4096)}
        if result
        else None,
    }
    what = ", ".join(data["signatures"]) or "audio bytes"
    if fingerprint:
        what = f"{what}; fingerprint match of the canary, score {fingerprint.score:.2f}"
    detail = f"{service} answered the canary {canary.permalink} with SoundCloud audio ({what})."
    title = f"{service} delivers SoundCloud audio for canary {canary.title or canary.id} ({canary.id})"
    finding = Finding(key, "canary_delivered", "critical", domain, title, detail, data)
    fetched = [i for i in items if i.step != "form" and i.status is not None]
    evidence = [_fetch_evidence(key, i, page_url, matches, "critical") for i in fetched]
    return CanaryResult("delivered", detail, [finding], [broken, unknown], evidence, matches)


def _unknown_audio(
    service: str, canary: CatalogueTrack, domain: str, page_url: str, items: list[CanaryFetch],
    heard: Mapping[str, AudioResult], matches: list[Match], now: datetime,
) -> CanaryResult:  # fmt: skip
    """The service answered with decodable audio that is not the canary: high (it rips something, maybe ours)."""
    key = unknown_key(service, canary)
    files = [i for i in items if i.step == "download" and (i.final_url or i.url) in heard]
    facts = []
    for i in files:
        found = heard[i.final_url or i.url].match
        facts.append(download_facts(i) | {"audio_match": found.as_dict() if found else None})
    other = next((f["audio_match"]["track"] for f in facts if f["audio_match"]), None)
    first = facts[0]
    data = {
        "service": service, "canary": canary.summary(), "page_url": page_url, "content_type": first["content_type"],
        "bytes": first["bytes"], "sha256": first["sha256"], "filename": first["filename"], "tags": first["tags"],
        "downloads": facts, "matched_track": other,
    }  # fmt: skip
    what = f"catalogue track {other}" if other else "audio that matches no catalogue track"
    detail = f"{service} answered the canary {canary.permalink} with {what}, not the canary ({first['filename']})."
    title = f"{service} delivers unknown audio for canary {canary.title or canary.id} ({canary.id})"
    finding = Finding(key, "canary_unknown_audio", "high", domain, title, detail, data)
    evidence = [_fetch_evidence(key, i, page_url, matches, "high") for i in files]
    return CanaryResult("delivered_unknown", detail, [finding], [broken_key(service)], evidence, matches)
