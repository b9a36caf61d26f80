"""Pure evaluation of archive index answers (Wayback CDX, Common Crawl): audio captures of SoundCloud media and
downloader pages carrying SoundCloud links, grouped into findings."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import unquote, urlsplit

from monitor.evaluators.scraping import MAX_CAPTURE_IDS, MAX_CAPTURES_SHOWN, Candidate, sha256
from monitor.incidents import SEVERITY_RANK, Evidence, Finding
from monitor.signatures import (
    Catalogue,
    Match,
    escalate,
    scan_cdx_row,
)
from monitor.signatures.model import track_ref
from spiders.scraping_items import ArchivePage


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
            Evidence(
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
