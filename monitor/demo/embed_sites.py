"""The legitimate case (§4): a blog embedding SoundCloud's widget, and the widget and CDN stand-ins it loads.

A rendered crawl of the blog sees SoundCloud media requested from INSIDE the w.soundcloud.com frame, never by
the blog's own document: the pattern that must not raise an incident. Chromium reaches these SoundCloud names
over https (CONNECT) only: it upgrades them through HSTS preloading.
"""

from __future__ import annotations

import json
from html import escape

from monitor.demo.exposure_media import (
    ARTWORK_JPEG,
    ARTWORK_URL,
    JPEG,
    PERMALINK,
    TRACK_ID,
    mp3_frames,
    signed_progressive_url,
    sitemap,
    sitemap_index,
)
from monitor.demo.sites import Response, Site, html, redirect, register, text

WIDGET_URL = (
    f"https://w.soundcloud.com/player/?url=https%3A//api.soundcloud.com/tracks/{TRACK_ID}"
    "&color=%23ff5500&auto_play=false&hide_related=false&show_comments=true&show_user=true"
    "&show_reposts=false&show_teaser=true&visual=true"
)
RSS_ENCLOSURE = f"https://feeds.soundcloud.com/stream/{TRACK_ID}-example-artist-night-drive.mp3"


# --- indie-blog.example: the legitimate case, which must produce no incident (§4) ----------------------

_BLOG = "http://indie-blog.example"
_POST_PATH = "/2026/05/night-drive-premiere/"
_SHARE_LINK = escape(f"{PERMALINK}?si=0a1b2c3d4e5f&utm_source=clipboard&utm_medium=text&utm_campaign=social_sharing")
_BLOG_POST = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Premiere: Example Artist - Night Drive | indie blog</title>
<meta property="og:image" content="{ARTWORK_URL}">
<link rel="alternate" type="application/rss+xml" title="Example Artist podcast"
      href="https://feeds.soundcloud.com/users/soundcloud:users:123456/sounds.rss">
</head>
<body>
<article>
  <h1>Premiere: Night Drive</h1>
  <img src="{ARTWORK_URL}" alt="Night Drive cover" width="250">
  <p>Example Artist's new single, streaming on SoundCloud:</p>
  <iframe id="sc-widget" width="100%" height="166" scrolling="no" frameborder="no" allow="autoplay"
          src="{escape(WIDGET_URL)}"></iframe>
  <script src="https://w.soundcloud.com/player/api.js"></script>
  <script>
    var widget = SC.Widget(document.getElementById("sc-widget"));
    widget.bind(SC.Widget.Events.READY, function () {{}});
  </script>
  <p>Share: <a href="{_SHARE_LINK}">{PERMALINK}</a>
     · <a href="https://on.soundcloud.com/AbCdEfGh12">on.soundcloud.com/AbCdEfGh12</a></p>
  <p>Podcast episode: <a href="{RSS_ENCLOSURE}">listen (MP3, via the official feed)</a></p>
</article>
<p><a href="/">more posts</a></p>
</body></html>
"""
_BLOG_HOME = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>indie blog</title></head>
<body><h1>indie blog</h1>
<ul><li><a href="{_POST_PATH}">Premiere: Example Artist - Night Drive</a></li></ul></body></html>
"""

register(
    Site(
        host="indie-blog.example",
        routes={
            "/": html(_BLOG_HOME),
            _POST_PATH: html(_BLOG_POST),
            "/robots.txt": text(f"User-agent: *\nAllow: /\nSitemap: {_BLOG}/sitemap.xml\n"),
            "/sitemap.xml": sitemap_index(f"{_BLOG}/sitemap-posts.xml"),
            # /about is linked from nowhere: only a crawl reading the sitemap index and its sitemap finds it.
            "/sitemap-posts.xml": sitemap(f"{_BLOG}/", f"{_BLOG}{_POST_PATH}", f"{_BLOG}/about"),
            "/about": html("<!doctype html><html><head><title>about</title></head><body>Indie music.</body></html>\n"),
        },
    )
)


# --- SoundCloud's widget and CDN stand-ins: the media requests come from inside the widget frame (§4) ---

_WIDGET_PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SoundCloud Widget</title></head>
<body><div id="widget">Night Drive · Example Artist</div>
<script>
  // The widget resolves its stream and starts buffering; the request belongs to this frame, not the embedder.
  fetch({json.dumps(signed_progressive_url())}, {{mode: "no-cors"}}).catch(function () {{}});
</script>
</body></html>
"""
_WIDGET_API = "/* SoundCloud Widget API stand-in */\nwindow.SC = window.SC || {};\n" + (
    "SC.Widget = function (iframe) { return { bind: function () {}, play: function () {} }; };\n"
    "SC.Widget.Events = { READY: 'ready' };\n"
)
_CDN_HEADERS = (("Access-Control-Allow-Origin", "*"), ("Cache-Control", "max-age=300"))

register(
    Site(
        host="w.soundcloud.com",
        routes={
            "/player/": html(_WIDGET_PAGE),
            "/player": redirect("/player/"),
            "/player/api.js": text(_WIDGET_API, content_type="application/javascript"),
        },
    )
)
register(
    Site(
        host="cf-media.sndcdn.com",
        fallback=Response(body=mp3_frames(1.0), content_type="audio/mpeg", headers=_CDN_HEADERS),
    )
)
register(Site(host="i1.sndcdn.com", fallback=Response(body=ARTWORK_JPEG, content_type=JPEG, headers=_CDN_HEADERS)))
