"""Downloader services for the canary probes: one that rips the canary track (a form, a JSON API and a JavaScript
app over the same backend), and one whose form is gone. Reference §2.6 (how downloaders present results) and §2.7
(the tags and filenames of what they deliver); IDs, tokens and signatures are fake."""

from __future__ import annotations

import json
from html import escape
from urllib.parse import parse_qs

from monitor.demo.exposure_media import ARTWORK_URL, PERMALINK, TRACK_ID, signed_progressive_url, tagged_reupload
from monitor.demo.sites import Request, Response, Site, html, register, text
from monitor.signatures.catalogue import normalise_permalink

RIP = "http://rip-canary.example"
FILE_PATH = f"/file/soundcloud-{TRACK_ID}.mp3"
FILENAME = "Night Drive - Example Artist (soundcloud).mp3"
_FORM = """<form id="rip" action="/rip" method="post">
    <label for="link">Paste a SoundCloud link</label>
    <input id="link" name="url" type="url" placeholder="https://soundcloud.com/artist/track" required>
    <input type="hidden" name="format" value="mp3">
    <button type="submit">Rip to MP3</button>
  </form>"""
_HOME = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rip-canary - SoundCloud to MP3</title></head>
<body><h1>SoundCloud to MP3, in one click</h1>
  {_FORM}
  <p><a href="/app">Try our new app</a></p>
</body></html>
"""
_RESULT = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Night Drive - Example Artist | rip-canary</title>
<meta property="og:image" content="{ARTWORK_URL}"></head>
<body>
  {_FORM}
  <section class="result" data-track-id="{TRACK_ID}">
    <img src="{ARTWORK_URL}" alt="">
    <h2>Night Drive</h2><p>Example Artist · 3:41 · <a href="{PERMALINK}">on SoundCloud</a></p>
    <p><a class="btn" download="{escape(FILENAME)}"
          href="{escape(signed_progressive_url())}">MP3 128 kbps (fast)</a></p>
    <p><a class="btn" href="{FILE_PATH}" download>MP3 128 kbps (our server)</a></p>
  </section>
</body></html>
"""
# A 200 answer that is an error page: a track the service cannot find.
_NOT_FOUND = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rip-canary - error</title></head>
<body>{_FORM}<div class="error"><h2>Sorry, we could not find this track.</h2>
<p>Please check the link and try again.</p></div></body></html>
"""
# The JavaScript app: the form is built by script and the result comes from the JSON API (browser recipes).
_APP = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rip-canary app</title></head>
<body><div id="app">Loading…</div>
<script>
  const app = document.getElementById("app");
  app.innerHTML = '<input id="link" type="url" placeholder="SoundCloud link"> <button id="go">Rip</button>' +
                  '<div id="out"></div>';
  document.getElementById("go").addEventListener("click", async () => {
    const link = document.getElementById("link").value;
    const answer = await (await fetch("/api/rip?url=" + encodeURIComponent(link))).json();
    const out = document.getElementById("out");
    if (answer.status !== "ok") { out.textContent = answer.error; return; }
    out.innerHTML = '<div class="result"><h2></h2><a class="dl" download></a> <a class="cdn"></a></div>';
    out.querySelector("h2").textContent = answer.title + " - " + answer.artist;
    const dl = out.querySelector(".dl");
    dl.href = answer.download_url; dl.textContent = answer.filename;
    const cdn = out.querySelector(".cdn");
    cdn.href = answer.stream_url; cdn.textContent = "fast download";
  });
</script>
</body></html>
"""


def _is_canary(link: str) -> bool:
    return normalise_permalink(link or "") == normalise_permalink(PERMALINK)


def _rip(request: Request) -> Response:
    if request.method != "POST":
        return text("method not allowed\n", 405, headers=(("Allow", "POST"),))
    link = parse_qs(request.body.decode("utf-8", "replace")).get("url", [""])[0]
    return html(_RESULT if _is_canary(link) else _NOT_FOUND)


def _api(request: Request) -> Response:
    link = parse_qs(request.query).get("url", [""])[0]
    if not _is_canary(link):
        answer = {"status": "error", "error": "track not found"}
    else:
        answer = {
            "status": "ok", "title": "Night Drive", "artist": "Example Artist", "id": TRACK_ID,
            "stream_url": signed_progressive_url(), "download_url": f"{RIP}{FILE_PATH}", "filename": FILENAME,
        }  # fmt: skip
    return text(json.dumps(answer), content_type="application/json")


register(
    Site(
        host="rip-canary.example",
        routes={
            "/": html(_HOME),
            "/rip": _rip,
            "/app": html(_APP),
            "/api/rip": _api,
            # The ripped file: tagged by the service's yt-dlp step (WOAF / TXXX:purl = the permalink, §2.7).
            FILE_PATH: Response(
                body=tagged_reupload(),
                content_type="audio/mpeg",
                headers=(("Content-Disposition", f'attachment; filename="{FILENAME}"'),),
            ),
            "/robots.txt": text("User-agent: *\nDisallow: /rip\nDisallow: /api/\n"),
        },
    )
)

# A downloader that moved to an app: the form the recipe relies on is gone (a probe-health incident, not silence).
register(
    Site(
        host="rip-broken.example",
        routes={
            "/": html(
                "<!doctype html><html><head><title>rip-broken</title></head><body><h1>We have moved!</h1>"
                "<p>Our converter now lives in our mobile app.</p></body></html>\n"
            ),
            "/robots.txt": text("User-agent: *\nDisallow:\n"),
        },
    )
)
