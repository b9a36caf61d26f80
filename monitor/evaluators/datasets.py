"""Pure evaluation of dataset hub answers: a dataset whose card or rows list SoundCloud tracks is a finding."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from monitor.evaluators.scraping import MAX_EVIDENCE_PER_FINDING, Candidate, sha256, text_of
from monitor.incidents import SEVERITY_RANK, Evidence, Finding
from monitor.signatures import (
    Catalogue,
    escalate,
    scan_dataset_text,
)
from spiders.scraping_items import ArchivePage


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
            (text_of(card.body, 2_000_000) if card else "") + "\n" + "\n".join(json.dumps(r, default=str) for r in rows)
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
            Evidence(
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
