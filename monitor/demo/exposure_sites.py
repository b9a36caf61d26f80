"""Third-party sites exposing SoundCloud audio, for the watchlist spider to find (the legitimate case: embed_sites).

Each site reproduces a section of reference/soundcloud-signatures.md; all IDs, tokens and signatures are fake,
and every signed URL carries a Policy that expires in 2100 so that it reads as live whenever the demo runs.
"""

from __future__ import annotations

import json
from html import escape
from urllib.parse import quote

from monitor.demo.exposure_media import (
    ARTWORK_JPEG,
    ARTWORK_URL,
    JPEG,
    KEY_PAIR_ID,
    M4A_HEAD,
    PERMALINK,
    TRACK_ID,
    TRANSCODING_UUID,
    aac_base,
    cloudfront_policy,
    mp3_frames,
    signed_aac_playlist_url,
    signed_progressive_url,
    sitemap,
    tagged_reupload,
)
from monitor.demo.sites import Request, Response, Site, html, redirect, register, text

CLIENT_ID = "Zq8xLm3Np7Rt2Vw9Yb4Cd6Ef1Gh5Jk0M"
# The player and the mirror are one operator's: both hard-code the same registered-app client_id (not SoundCloud's
# web client_id above), which the case grouping reads as operator evidence and merges their cases.
OPERATOR_CLIENT_ID = "Rk4Tn8Wq2Zx6Bv1Mc5Lp9Hd3Jf7Gs0Ay"
_OPERATOR_API = (
    '<script>var scApi = {base: "https://api-v2.soundcloud.com", client_id: "' + OPERATOR_CLIENT_ID + '"};</script>'
)
HLS_PATH = "/relay/hls/example-artist/night-drive/aac_160k/playlist.m3u8"
M3U8 = "application/vnd.apple.mpegurl"


def _track_json() -> dict:
    """The api-v2 track object of §6.5 (what mirrors and hydration copies carry)."""
    base = f"https://api-v2.soundcloud.com/media/soundcloud:tracks:{TRACK_ID}"
    return {
        "id": TRACK_ID,
        "kind": "track",
        "urn": f"soundcloud:tracks:{TRACK_ID}",
        "permalink_url": PERMALINK,
        "policy": "ALLOW",
        "downloadable": False,
        "has_downloads_left": False,
        "duration": 221306,
        "track_authorization": "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJnZW8iOiJVUyJ9.FAKE",
        "artwork_url": ARTWORK_URL.replace("t500x500", "large"),
        "media": {
            "transcodings": [
                {
                    "url": f"{base}/{TRANSCODING_UUID}/stream/hls",
                    "preset": "aac_160k",
                    "duration": 221306,
                    "snipped": False,
                    "format": {"protocol": "hls", "mime_type": 'audio/mp4; codecs="mp4a.40.2"'},
                    "quality": "sq",
                    "is_legacy_transcoding": False,
                },
                {
                    "url": f"{base}/5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9/stream/progressive",
                    "preset": "mp3_0_0",
                    "duration": 221306,
                    "snipped": False,
                    "format": {"protocol": "progressive", "mime_type": "audio/mpeg"},
                    "quality": "sq",
                    "is_legacy_transcoding": True,
                },
            ]
        },
    }


def _hydration() -> str:
    """``window.__sc_hydration`` as soundcloud.com pages carry it (§2.2, signature #20)."""
    return json.dumps(
        [
            {"hydratable": "apiClient", "data": {"id": CLIENT_ID, "isExpiring": False}},
            {"hydratable": "sound", "data": _track_json()},
        ],
        separators=(",", ":"),
    )


# --- sc2mp3-fast.example: a "SoundCloud to MP3" downloader (§6.1, §2.6) ------------------------------

_SC2MP3 = "http://sc2mp3-fast.example"
_DL_PHP = f"/dl.php?u={quote(signed_aac_playlist_url(), safe='')}&name=soundcloud_{TRACK_ID}_audio.m4a"
_CONVERT_FORM = f"""<form id="convert" action="/convert" method="post">
    <label for="u">Paste a SoundCloud track link</label>
    <input id="u" name="url" type="url" value="{PERMALINK}"
           placeholder="https://soundcloud.com/artist/track or https://on.soundcloud.com/…">
    <button type="submit">Convert to MP3</button>
  </form>"""
_SC2MP3_HOME = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>SoundCloud to MP3 Downloader - fast &amp; free | sc2mp3-fast.example</title></head>
<body>
  <h1>SoundCloud to MP3</h1>
  {_CONVERT_FORM}
  <h2>Recent conversions</h2>
  <ul><li><a href="/soundcloud/example-artist/night-drive">Night Drive - Example Artist</a></li></ul>
  <p><a href="/admin/history">Conversion history (staff)</a></p>
</body></html>
"""
_SC2MP3_RESULT = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Night Drive - Download SoundCloud MP3 | sc2mp3-fast.example</title>
  <meta property="og:image" content="{ARTWORK_URL}">
</head>
<body>
  {_CONVERT_FORM}

  <section class="result" data-source="soundcloud" data-track-id="{TRACK_ID}">
    <img class="thumb" src="{ARTWORK_URL}" alt="">
    <h2>Night Drive</h2>
    <p class="meta">Example Artist · 3:41 · <a href="{PERMALINK}">view on SoundCloud</a></p>
    <table class="formats">
      <tr><td>MP3</td><td>128 kbps</td><td>3.5 MB</td>
        <td><a class="btn" download="Night Drive - Example Artist (soundcloud).mp3"
               href="{escape(signed_progressive_url())}">Download</a></td></tr>
      <tr><td>MP3</td><td>320 kbps (HQ)</td><td>8.4 MB</td>
        <td><a class="btn" href="/system/storage/temp/soundcloud-{TRACK_ID}.mp3" download>Download</a></td></tr>
      <tr><td>M4A</td><td>160 kbps</td><td>4.4 MB</td>
        <td><a class="btn" href="{escape(_DL_PHP)}">Download</a></td></tr>
    </table>
    <p><a href="/stream/{TRACK_ID}">Play in your browser</a></p>
  </section>

  <script>
    const SC_CLIENT_ID = "{CLIENT_ID}"; // 32 chars
    async function lookup(u) {{
      const r = await fetch(`https://api-v2.soundcloud.com/resolve?url=${{encodeURIComponent(u)}}&client_id=${{SC_CLIENT_ID}}`);
      return r.json();
    }}
  </script>
</body>
</html>
"""
# Disallowed by robots.txt: a crawl that obeys it must not see the private link below.
_SC2MP3_HISTORY = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Conversion history</title></head>
<body><h1>Last conversions</h1><ol>
  <li>https://soundcloud.com/another-producer/unreleased-demo/s-Xy12Ab → soundcloud-1234500001.mp3</li>
  <li>https://soundcloud.com/example-artist/night-drive → soundcloud-1234567890.mp3</li>
</ol></body></html>
"""
_SC2MP3_FAQ = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>FAQ - sc2mp3-fast.example</title></head>
<body><h1>FAQ</h1>
<p>Is it legal? We only convert public SoundCloud tracks. Files are kept for 24 hours.</p></body></html>
"""


def _dl_php(request: Request) -> Response:
    # The server-side relay of §2.6: fetches the signed AAC stream and hands it over as an attachment.
    if "u=" not in request.query:
        return text("missing u\n", 400)
    return Response(
        body=M4A_HEAD,
        content_type="audio/mp4",
        headers=(("Content-Disposition", f'attachment; filename="soundcloud_{TRACK_ID}_audio.m4a"'),),
    )


register(
    Site(
        host="sc2mp3-fast.example",
        aliases=("www.sc2mp3-fast.example",),
        routes={
            "/": html(_SC2MP3_HOME),
            "/soundcloud/example-artist/night-drive": html(_SC2MP3_RESULT),
            "/convert": html(_SC2MP3_RESULT),
            "/admin/history": html(_SC2MP3_HISTORY),
            "/faq": html(_SC2MP3_FAQ),
            "/dl.php": _dl_php,
            # cobalt's "redirect" answer (§2.6): straight to the signed CDN URL.
            f"/stream/{TRACK_ID}": redirect(signed_progressive_url(), status=302),
            # Server-side merge of HLS segments into one untagged file (§2.6, §2.7: no ID3 at all).
            f"/system/storage/temp/soundcloud-{TRACK_ID}.mp3": text(mp3_frames(3.0), content_type="audio/mpeg"),
            "/robots.txt": text(f"User-agent: *\nDisallow: /admin/\n\nSitemap: {_SC2MP3}/sitemap.xml\n"),
            # /faq is linked from nowhere: only a crawl that reads the sitemap finds it.
            "/sitemap.xml": sitemap(
                f"{_SC2MP3}/", f"{_SC2MP3}/faq", f"{_SC2MP3}/soundcloud/example-artist/night-drive"
            ),
        },
    )
)


# --- scplayer.example: a JS player streaming SoundCloud HLS through its own relay (§6.2) --------------

_SEGMENT_BASE = quote(aac_base(), safe="")
_INIT_POLICY = cloudfront_policy(aac_base() + "/*")
_SCPLAYER_M3U8 = f"""#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:10
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-MAP:URI="/relay/seg?u={_SEGMENT_BASE}%2Finit.mp4&Policy={_INIT_POLICY}&Key-Pair-Id={KEY_PAIR_ID}"
#EXTINF:9.985,
/relay/seg?u={_SEGMENT_BASE}%2Fsegment-1.m4s
#EXTINF:9.985,
/relay/seg?u={_SEGMENT_BASE}%2Fsegment-2.m4s
#EXT-X-ENDLIST
"""
_SCPLAYER_TRACK = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Night Drive - Example Artist | scplayer</title></head>
<body>
<div class="player" data-permalink="example-artist/night-drive">
  <img src="/img?src={quote(ARTWORK_URL, safe="")}" alt="">
  <audio id="track" controls preload="none"
         src="{HLS_PATH}"></audio>
  <script src="/static/hls.min.js"></script>
  <script>
    // page state copied from soundcloud.com
    window.__sc_hydration = {_hydration()};
  </script>
  {_OPERATOR_API}
  <script>
    // hls.js stand-in: load the playlist the <audio> element points at.
    fetch(document.getElementById("track").getAttribute("src")).then((r) => r.text());
  </script>
</div>
</body></html>
"""
_SCPLAYER_HOME = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>scplayer - listen without the SoundCloud app</title></head>
<body><h1>Trending</h1><ul><li><a href="/example-artist/night-drive">Night Drive</a></li></ul></body></html>
"""
_HLS_JS = "/* hls.js stand-in */ window.Hls = function () {}; window.Hls.isSupported = function () { return true; };\n"

register(
    Site(
        host="scplayer.example",
        routes={
            "/": html(_SCPLAYER_HOME),
            "/example-artist/night-drive": html(_SCPLAYER_TRACK),
            HLS_PATH: text(_SCPLAYER_M3U8, content_type=M3U8),
            "/relay/seg": Response(body=M4A_HEAD, content_type="video/mp4"),
            "/static/hls.min.js": text(_HLS_JS, content_type="application/javascript"),
            "/img": Response(body=ARTWORK_JPEG, content_type=JPEG),
            "/robots.txt": text("User-agent: *\nAllow: /\n"),
        },
    )
)


# --- reupload.example: a re-hosted scdl/yt-dlp download with its tags (§2.7, signatures #24, #25) ------

_REUPLOAD_HOME = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>free synthwave downloads</title></head>
<body><h1>This week's free downloads</h1>
<p><a href="/uploads/night-drive.mp3">Example Artist - Night Drive (320k)</a></p>
<audio controls src="/uploads/night-drive.mp3"></audio>
</body></html>
"""

register(
    Site(
        host="reupload.example",
        routes={
            "/": html(_REUPLOAD_HOME),
            "/uploads/night-drive.mp3": Response(body=tagged_reupload(), content_type="audio/mpeg"),
            "/robots.txt": text("User-agent: *\nDisallow:\n"),
        },
    )
)


# --- scmirror.example: a mirror storing SoundCloud page state and API payloads (§6.2 script, §6.5) -----

_TRACK_JSON = json.dumps(_track_json(), separators=(",", ":"))
_SCMIRROR_TRACK = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Night Drive by Example Artist | scmirror</title>
<meta property="twitter:app:url:googleplay" content="soundcloud://sounds:{TRACK_ID}"></head>
<body>
<h1>Night Drive</h1><p>Mirrored from <a href="{PERMALINK}">{PERMALINK}</a></p>
<script>window.__sc_hydration = {_hydration()};</script>
{_OPERATOR_API}
<script type="application/json" id="track-json">{_TRACK_JSON}</script>
<p><a href="/api/tracks/{TRACK_ID}.json">raw JSON</a></p>
</body></html>
"""
_SCMIRROR_HOME = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>scmirror</title></head>
<body><ul><li><a href="/example-artist/night-drive">example-artist/night-drive</a></li></ul></body></html>
"""

register(
    Site(
        host="scmirror.example",
        routes={
            "/": html(_SCMIRROR_HOME),
            "/example-artist/night-drive": html(_SCMIRROR_TRACK),
            f"/api/tracks/{TRACK_ID}.json": text(_TRACK_JSON, content_type="application/json"),
        },
    )
)
