"""File-tag rules (#24-#26) over the audio files a page served: permalinks in tags, cover art, raw-stream shape."""

from __future__ import annotations

import re
from collections.abc import Callable

from monitor.signatures.context import PageContext
from monitor.signatures.data import Signature
from monitor.signatures.model import Match
from monitor.signatures.rules import hit

FILE_PERMALINK = re.compile(r"(?i)https?://(?:www\.|m\.)?soundcloud\.com/[\w-]+/[\w-]+(?:/s-[A-Za-z0-9]+)?")
PURL_FRAMES = ("WOAF", "WOAS", "COMM", "TXXX:purl", "WXXX", "WWWAUDIOFILE", "PURL", "COMMENT", "©cmt", "purl")
PURL_FRAMES += ("----:com.apple.iTunes:WWWAUDIOFILE",)


def file_purl(sig: Signature, ctx: PageContext) -> list[Match]:
    """#24: a SoundCloud permalink in the tags scdl/yt-dlp write; critical when it carries an s- secret token."""
    out = []
    for url, tags in ctx.audio:
        for frame, value in tags.frames.items():
            if frame not in PURL_FRAMES and frame.lower() != "txxx:purl":
                continue
            m = FILE_PERMALINK.search(value)
            if m:
                secret = "/s-" in m.group(0)
                data = {"frame": frame, "format": tags.format, "secret_token": secret}
                sev = "critical" if secret else sig.severity
                detail = f"{tags.format} file tag {frame} holds SoundCloud permalink {m.group(0)[:120]}."
                out.append(hit(sig, url, m.group(0), ctx, severity=sev, detail=detail, data=data, key=url))
                break
    return out


def file_cover(sig: Signature, ctx: PageContext) -> list[Match]:
    """#25 (reduced): an embedded picture described 'Cover' or 'Cover (front)'. No perceptual hash is computed."""
    out = []
    for url, tags in ctx.audio:
        desc = next((p for p in tags.pictures if p.strip().lower() in ("cover", "cover (front)")), None)
        if desc is not None:
            out.append(hit(sig, url, f"APIC {desc}", ctx, data={"picture": desc, "format": tags.format}, key=url))
    return out


def file_raw_transcode(sig: Signature, ctx: PageContext) -> list[Match]:
    """#26: no ID3 + CBR 128k MP3, or ~64k Opus, or ~160k AAC. The ±50 ms duration check needs SoundCloud's
    duration and belongs to the fingerprinting stage; this is the pre-filter."""
    out = []
    for url, tags in ctx.audio:
        rate = tags.bitrate or 0
        shaped = (
            (tags.format == "mp3" and not tags.has_id3 and rate == 128000 and tags.bitrate_mode in ("cbr", None))
            or (tags.format == "opus" and 54000 <= rate <= 74000 and not tags.frames.get("WWWAUDIOFILE"))
            or (tags.format == "mp4" and 140000 <= rate <= 180000)
        )
        if shaped:
            data = {"format": tags.format, "bitrate": rate, "bitrate_mode": tags.bitrate_mode, "has_id3": tags.has_id3}
            out.append(hit(sig, url, f"{tags.format} {rate // 1000} kbit/s", ctx, data=data, key=url))
    return out


FILE_RULES: dict[str, Callable[[Signature, PageContext], list[Match]]] = {
    "file_purl": file_purl,
    "file_cover": file_cover,
    "file_raw_transcode": file_raw_transcode,
}
