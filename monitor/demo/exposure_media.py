"""What the exposure demo sites share: MPEG frames, a tagged re-upload, artwork, CloudFront policies, sitemaps."""

from __future__ import annotations

import base64
import io
import json
from html import escape

from mutagen.id3 import APIC, COMM, ID3, TIT2, TPE1, TXXX, WOAF

from monitor.demo.model import Response, text

# An 8x8 baseline JPEG in SoundCloud orange (drawn once by Chromium's canvas): stands in for i1.sndcdn.com artwork.
ARTWORK_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/4gHYSUNDX1BST0ZJTEUAAQEAAAHIAAAAAAQwAABtbnRyUkdCIFhZWiAH4AABAAEAAAAAAABhY3Nw"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQAA9tYAAQAAAADTLQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAlkZXNjAAAA8AAAACRyWFlaAAABFAAAABRnWFlaAAABKAAAABRiWFlaAAABPAAAABR3dHB0AAABUAAAABRyVFJD"
    "AAABZAAAAChnVFJDAAABZAAAAChiVFJDAAABZAAAAChjcHJ0AAABjAAAADxtbHVjAAAAAAAAAAEAAAAMZW5VUwAAAAgAAAAcAHMAUgBH"
    "AEJYWVogAAAAAAAAb6IAADj1AAADkFhZWiAAAAAAAABimQAAt4UAABjaWFlaIAAAAAAAACSgAAAPhAAAts9YWVogAAAAAAAA9tYAAQAA"
    "AADTLXBhcmEAAAAAAAQAAAACZmYAAPKnAAANWQAAE9AAAApbAAAAAAAAAABtbHVjAAAAAAAAAAEAAAAMZW5VUwAAACAAAAAcAEcAbwBv"
    "AGcAbABlACAASQBuAGMALgAgADIAMAAxADb/2wBDABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERXRTc4UG1R"
    "V19iZ2hnPk1xeXBkeFxlZ2P/2wBDARESEhgVGC8aGi9jQjhCY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2Nj"
    "Y2NjY2NjY2P/wAARCAAIAAgDASIAAhEBAxEB/8QAFQABAQAAAAAAAAAAAAAAAAAAAAH/xAAUEAEAAAAAAAAAAAAAAAAAAAAA/8QAFAEB"
    "AAAAAAAAAAAAAAAAAAAABv/EABQRAQAAAAAAAAAAAAAAAAAAAAD/2gAMAwEAAhEDEQA/AIAPFb//2Q=="
)

# MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, no padding: 144 * 128000 / 44100 = 417 bytes a frame (silence).
MP3_FRAME = b"\xff\xfb\x90\x64" + bytes(413)
FRAMES_PER_SECOND = 44100 / 1152

PERMALINK = "https://soundcloud.com/example-artist/night-drive"
TRACK_ID = 1234567890
MEDIA_TOKEN = "Ab3dEf6hIj9K"
TRANSCODING_UUID = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
KEY_PAIR_ID = "APKAEXAMPLE000000000"
ARTWORK_URL = "https://i1.sndcdn.com/artworks-Qx7TzLm2Rk0aBcDe-9fGhIj-t500x500.jpg"
JPEG = "image/jpeg"
# 2100-01-01T00:00:00Z: the signed URLs on the demo sites are live whenever the demo runs (§2.5).
LIVE_EXPIRY = 4_102_444_800


def mp3_frames(seconds: float) -> bytes:
    """An untagged CBR 128 kbit/s MP3 of ``seconds`` of silence: what a raw SoundCloud transcode looks like."""
    return MP3_FRAME * max(1, round(seconds * FRAMES_PER_SECOND))


def tagged_reupload(seconds: float = 19.0) -> bytes:
    """An MP3 tagged the way scdl / yt-dlp tag SoundCloud downloads (§2.7): WOAF, TXXX:purl, COMM, APIC."""
    buffer = io.BytesIO(mp3_frames(seconds))
    tags = ID3()
    tags.add(TIT2(encoding=3, text="Night Drive"))
    tags.add(TPE1(encoding=3, text="Example Artist"))
    tags.add(WOAF(url=PERMALINK))
    tags.add(TXXX(encoding=3, desc="purl", text=PERMALINK))
    tags.add(COMM(encoding=3, lang="eng", desc="", text=f"Night Drive by Example Artist. {PERMALINK}"))
    tags.add(APIC(encoding=3, mime="image/jpeg", type=3, desc="Cover (front)", data=ARTWORK_JPEG))
    tags.save(buffer, v2_version=3)
    return buffer.getvalue()


def cloudfront_policy(resource: str, expires: int = LIVE_EXPIRY) -> str:
    """A CloudFront custom policy in its URL-safe base64 form (``+``→``-``, ``=``→``_``, ``/``→``~``)."""
    statement = {"Statement": [{"Resource": resource, "Condition": {"DateLessThan": {"AWS:EpochTime": expires}}}]}
    encoded = base64.b64encode(json.dumps(statement, separators=(",", ":")).encode()).decode("ascii")
    return encoded.replace("+", "-").replace("=", "_").replace("/", "~")


def signed_progressive_url() -> str:
    """A live signed cf-media 128 kbit/s MP3 URL (signature #1 + #8)."""
    policy = cloudfront_policy(f"*://cf-media.sndcdn.com/{MEDIA_TOKEN}.128.mp3*")
    return (
        f"https://cf-media.sndcdn.com/{MEDIA_TOKEN}.128.mp3"
        f"?Policy={policy}&Signature=FAKEsig~abc-def__&Key-Pair-Id={KEY_PAIR_ID}"
    )


def aac_base() -> str:
    """The AAC HLS directory of the demo track on playback.media-streaming.soundcloud.cloud."""
    return f"https://playback.media-streaming.soundcloud.cloud/{MEDIA_TOKEN}/aac_160k/{TRANSCODING_UUID}"


def signed_aac_playlist_url() -> str:
    """A live signed AAC playlist URL (signature #5 + #8), ``expires=`` differing from the Policy time."""
    resource = f"{aac_base()}/playlist.m3u8?expires={LIVE_EXPIRY + 100}"
    policy = cloudfront_policy(resource)
    return f"{resource}&Policy={policy}&Signature=FAKEsig~aac-def__&Key-Pair-Id={KEY_PAIR_ID}"


# A minimal ISO-BMFF head (ftyp + an empty moov): what an m4a download starts with.
M4A_HEAD = (
    b"\x00\x00\x00\x1cftypM4A \x00\x00\x02\x00M4A isomiso2"
    + b"\x00\x00\x00\x08moov"
    + b"\x00\x00\x00\x10mdat"
    + bytes(8)
)


def sitemap(*urls: str) -> Response:
    """A sitemaps.org urlset listing ``urls``."""
    entries = "".join(f"<url><loc>{escape(url)}</loc></url>" for url in urls)
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>\n'
    return text(body, content_type="application/xml")


def sitemap_index(*urls: str) -> Response:
    """A sitemaps.org sitemap index pointing at the sitemaps ``urls``."""
    entries = "".join(f"<sitemap><loc>{escape(url)}</loc></sitemap>" for url in urls)
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</sitemapindex>\n'
    )
    return text(body, content_type="application/xml")
