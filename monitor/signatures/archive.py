"""Archive index rows (Wayback CDX, Common Crawl CDXJ): #27 audio captures and #28 downloader pages, plus the
CDN-URL rows (#1-#7) the captured URL itself matches."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from urllib.parse import unquote, urlsplit

from monitor.net import host_of, is_soundcloud_host
from monitor.signatures.data import BY_ID, Signature
from monitor.signatures.model import SNIPPET_CHARS, Match, track_ref
from monitor.signatures.normalise import canonical_url, decode_body, signed_info, unwrap
from monitor.signatures.rules import DL_NAME

CDN_IDS = ("SC-CDN-PROGRESSIVE", "SC-CDN-ORIGINAL", "SC-CDN-HLS-MP3", "SC-CDN-HLS-OPUS", "SC-CDN-AAC")
CDN_IDS += ("SC-CDN-PREVIEW", "SC-CDN-LEGACY")
MAX_ROW_CHARS = 16384


def _field(row: Mapping[str, str], *names: str) -> str:
    for name in names:
        value = row.get(name)
        if isinstance(value, str | int) and str(value).strip():
            return str(value).strip()[:MAX_ROW_CHARS]
    return ""


def _row_facts(row: Mapping[str, str], source: str) -> dict:
    url = _field(row, "original", "url")
    mimes = [_field(row, n).lower() for n in ("mimetype", "mime", "mime-detected")]
    status = _field(row, "statuscode", "status")
    audio = status == "200" and any(m.startswith("audio/") or "mpegurl" in m for m in mimes)
    ts = _field(row, "timestamp")
    src = source.lower()
    wayback = any(k in src for k in ("wayback", "archive.org", "internet-archive")) or src in ("ia", "ia-cdx")
    commoncrawl = "commoncrawl" in src or "cc-main" in src or src == "cc"
    facts = {"source": source, "timestamp": ts, "status": status, "mime": next((m for m in mimes if m), "")}
    for name in ("digest", "length", "offset", "filename"):
        if _field(row, name):
            facts[name] = _field(row, name)
    if wayback and ts and url:
        facts["replay_url"] = f"https://web.archive.org/web/{ts}id_/{url}"
    # Wayback replays a 200 capture; a Common Crawl record is fetchable by Range from its WARC.
    facts["replayable"] = bool(wayback or (commoncrawl and {"filename", "offset", "length"} <= facts.keys()))
    return {"url": url, "audio": audio, "facts": facts}


def _path(url: str) -> str:
    try:
        return urlsplit(url).path
    except ValueError:
        return ""


def _match(sig: Signature, url: str, snippet: str, severity: str, detail: str, data: dict) -> Match:
    return Match(sig.id, sig.family, severity, url, detail, snippet[:SNIPPET_CHARS], track_ref(snippet, url), data)


def archive_audio_capture(sig: Signature, row: Mapping[str, str], source: str) -> list[Match]:
    """#27 (plus the #1-#7 rows of the captured URL): a 200 audio capture of SoundCloud media, or of a file named
    like a downloader's output (§6.4's Common Crawl example) on a third-party host."""
    info = _row_facts(row, source)
    url = canonical_url(info["url"])
    if not url or url.lower() in ("original", "url"):  # the header row of a Wayback JSON answer
        return []
    facts, audio = info["facts"], info["audio"]
    cands = [url] + [inner for inner, _ in unwrap(url)]
    out: list[Match] = []
    cdn = []
    for cid in CDN_IDS:
        cdn_sig = BY_ID[cid]
        m = next((m for c in cands if cdn_sig.pattern and (m := cdn_sig.pattern.search(c))), None)
        if m is None:
            continue
        cdn.append(cid)
        sev = cdn_sig.severity
        if cid == "SC-CDN-LEGACY" and audio:
            sev = "high"  # "high if an archive shows a 200 audio capture"
        elif not audio and sev == "high":
            sev = "low"  # the archive holds the URL, not the audio (403, XML error body…)
        data = dict(facts)
        signed = signed_info(url)
        if signed and signed.policy:
            data["policy_resource"], data["policy_expiry"] = signed.policy.resource, signed.policy.epoch_expiry
        detail = f"{cdn_sig.explanation} Captured by {source} ({facts['status'] or '?'} {facts['mime'] or '?'})."
        out.append(_match(cdn_sig, url, m.group(0), sev, detail, data))
    file_name = DL_NAME.search(unquote(_path(url))) if not is_soundcloud_host(host_of(url)) else None
    if audio and (cdn or file_name):
        sev = "critical" if facts["replayable"] else sig.severity
        what = "SoundCloud media" if cdn else f"downloader output file {file_name.group(0) if file_name else ''}"
        detail = f"{source} holds a 200 {facts['mime']} capture of {what}" + (
            " that anyone can replay." if facts["replayable"] else "."
        )
        out.append(_match(sig, url, url, sev, detail, {**facts, "matched": cdn or ["SC-DL-FILENAME"]}))
    if file_name:
        dl = BY_ID["SC-DL-FILENAME"]
        out.append(_match(dl, url, file_name.group(0), dl.severity, dl.explanation, dict(facts)))
    return out


def archive_downloader_page(sig: Signature, row: Mapping[str, str], source: str) -> list[Match]:
    """#28: a third-party URL whose query carries a soundcloud.com / on.soundcloud.com link. Raise to high by
    fetching the capture and running scan_page on it (#21); the row alone cannot tell."""
    info = _row_facts(row, source)
    url = canonical_url(info["url"])
    host = host_of(url)
    if not host or is_soundcloud_host(host):
        return []
    try:
        query = unquote(unquote(urlsplit(url).query)).lower()
    except ValueError:
        return []
    if "soundcloud.com" not in query:
        return []
    detail = f"{source} captured {host} handling a SoundCloud link ({info['facts']['timestamp'] or 'no timestamp'})."
    return [_match(sig, url, url, sig.severity, detail, dict(info["facts"]))]


CDX_RULES: dict[str, Callable[[Signature, Mapping[str, str], str], list[Match]]] = {
    "archive_audio_capture": archive_audio_capture,
    "archive_downloader_page": archive_downloader_page,
}


def cdx_rows(payload: str | bytes) -> list[dict[str, str]]:
    """Rows of a CDX answer as dicts: Wayback ``output=json`` (array of arrays, header first) or Common Crawl
    NDJSON (one object per line). Unparsable lines are skipped; never raises."""
    text = decode_body(payload).strip()
    if not text:
        return []
    if text.startswith("[["):
        try:
            rows = json.loads(text)
        except ValueError:
            return []
        if not rows or not isinstance(rows[0], list):
            return []
        header = [str(h) for h in rows[0]]
        return [dict(zip(header, map(str, r), strict=False)) for r in rows[1:] if isinstance(r, list)]
    out = []
    for line in text.splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            out.append({str(k): str(v) for k, v in obj.items()})
    return out
