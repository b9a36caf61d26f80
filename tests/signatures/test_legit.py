"""§4: legitimate pages produce no match above info."""

from __future__ import annotations

import pytest
from sig_helpers import FIXTURES, NOW, PAGE, TOKEN, UUID, by_id, html_page, scan_html, signed

from monitor.signatures import NetworkRequest, Resource, max_severity, scan_page

WIDGET = (
    "https://w.soundcloud.com/player/?url=https%3A//api.soundcloud.com/tracks/1234567890&color=%23ff5500"
    "&auto_play=false&hide_related=false&show_comments=true&show_user=true&show_reposts=false&show_teaser=true"
    "&visual=true"
)
PRIVATE_WIDGET = (
    "https://w.soundcloud.com/player/?url=https%3A//api.soundcloud.com/tracks/1234500001%3Fsecret_token%3Ds-Xy12Ab"
    "&color=%23ff5500&auto_play=false"
)
CLIENT = "Zq8xLm3Np7Rt2Vw9Yb4Cd6Ef1Gh5Jk0M"


def blog(inner: str) -> str:
    return f"<!doctype html><html><head><title>My new EP</title></head><body><article>{inner}</article></body></html>"


LEGIT_PAGES = {
    "widget": blog(f'<iframe width="100%" height="166" scrolling="no" allow="autoplay" src="{WIDGET}"></iframe>'),
    "private-widget": blog(
        f'<iframe src="{PRIVATE_WIDGET}"></iframe>'
        f'<meta name="twitter:player" content="{PRIVATE_WIDGET.replace("%3A//", "%3A%2F%2F")}">'
    ),
    "widget-api": blog(
        f'<iframe id="sc" src="{WIDGET}"></iframe><script src="https://w.soundcloud.com/player/api.js"></script>'
        "<script>var w = SC.Widget(document.getElementById('sc'));"
        "w.bind(SC.Widget.Events.READY, function () { w.getCurrentSound(function (s) { console.log(s.title); }); });"
        "</script>"
    ),
    "oembed": blog(
        '<link rel="alternate" type="application/json+oembed" href="https://soundcloud.com/oembed?format=json&'
        'url=https%3A%2F%2Fsoundcloud.com%2Fexample-artist%2Fnight-drive">'
        "<script>fetch('https://soundcloud.com/oembed?format=json&url=' + encodeURIComponent(link))"
        ".then(r => r.json()).then(o => { el.innerHTML = o.html; });</script>"
        '<p>[soundcloud url="https://api.soundcloud.com/tracks/1234567890" params="auto_play=false" width="100%"]</p>'
    ),
    "share-links": blog(
        '<a href="https://soundcloud.com/example-artist/night-drive?si=0a1b2c3d4e&utm_source=clipboard'
        '&utm_medium=text&utm_campaign=social_sharing">Night Drive</a>'
        '<a href="https://on.soundcloud.com/AbC123xyz">short link</a>'
        '<a href="https://m.soundcloud.com/example-artist/sets/summer-ep">EP</a>'
        '<a href="https://www.soundcloud.com/example-artist">profile</a>'
        '<meta property="al:ios:url" content="soundcloud://sounds:1234567890">'
    ),
    "artwork": blog(
        '<img src="https://i1.sndcdn.com/artworks-Qx7TzLm2Rk0aBcDe-9fGhIj-t500x500.jpg" '
        'srcset="https://i1.sndcdn.com/artworks-Qx7TzLm2Rk0aBcDe-9fGhIj-t3000x3000.jpg 2x">'
        '<img src="https://i1.sndcdn.com/avatars-000123456789-abcdef-large.jpg">'
        '<img src="https://a1.sndcdn.com/images/default_avatar_large.png">'
        f'<img src="https://wave.sndcdn.com/{TOKEN}_m.png">'
    ),
    "sdk": blog(
        '<script src="https://connect.soundcloud.com/sdk/sdk-3.3.2.js"></script>'
        f"<script>SC.initialize({{client_id: '{CLIENT}', redirect_uri: 'https://blog.example/callback'}});"
        "SC.oEmbed('https://soundcloud.com/example-artist/night-drive', {auto_play: false})"
        ".then(function (o) { document.getElementById('p').innerHTML = o.html; });</script>"
    ),
}


@pytest.mark.parametrize("name", sorted(LEGIT_PAGES))
def test_legit_page_is_info_at_most(name):
    matches = scan_html(LEGIT_PAGES[name])
    assert max_severity(matches) in (None, "info"), [(m.signature, m.severity, m.snippet) for m in matches]


def test_private_widget_secret_token_is_recorded_as_info():
    m = by_id(scan_html(LEGIT_PAGES["private-widget"]), "SC-PRIVATE-TOKEN-EXPOSED")
    assert m.severity == "info" and m.data["suppressed"] == "widget" and m.data["severity_before"] == "high"


def test_same_secret_token_outside_the_widget_is_high():
    body = LEGIT_PAGES["private-widget"] + '<a href="https://soundcloud.com/x/unreleased/s-Xy12Ab">leak</a>'
    tokens = [m for m in scan_html(body) if m.signature == "SC-PRIVATE-TOKEN-EXPOSED"]
    assert {m.severity for m in tokens} == {"info", "high"}


PODCAST_RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" xmlns:atom="http://www.w3.org/2005/Atom">
<channel>
  <title>Example Pod</title><link>https://soundcloud.com/example-pod</link>
  <atom:link href="https://feeds.soundcloud.com/users/soundcloud:users:123456/sounds.rss" rel="self"/>
  <itunes:image href="https://i1.sndcdn.com/avatars-000123456789-abcdef-original.jpg"/>
  <item><title>Episode 1</title><guid isPermaLink="false">tag:soundcloud,2010:tracks/1234567890</guid>
    <enclosure type="audio/mpeg" length="1" url="https://feeds.soundcloud.com/stream/1234567890-example-pod-episode-1.mp3"/>
    <link>https://soundcloud.com/example-pod/episode-1</link></item>
  <item><title>Episode 2</title>
    <enclosure type="audio/mpeg" length="1"
      url="https://dts.podtrac.com/redirect.mp3/feeds.soundcloud.com/stream/1234567891-example-pod-episode-2.mp3"/>
  </item>
</channel></rss>"""


def test_podcast_feed_and_podtrac_enclosures():
    feed = "https://podcasts.example/example-pod/feed.xml"
    resources = [Resource(feed, "page", 200, "application/rss+xml", PODCAST_RSS.encode())]
    enclosure = "feeds.soundcloud.com/stream/1234567891-example-pod-episode-2.mp3"
    requests = [
        NetworkRequest(f"https://dts.podtrac.com/redirect.mp3/{enclosure}"),
        NetworkRequest(f"https://{enclosure}", content_type="audio/mpeg"),
    ]
    matches = scan_page(feed, resources, requests, now=NOW)
    assert max_severity(matches) in (None, "info")
    player = "https://player.example/episode-1"
    html = f'<audio controls src="{requests[0].url}"></audio>'
    assert max_severity(scan_page(player, [html_page(html, player)], requests, now=NOW)) in (None, "info")


def test_github_page_showing_downloader_source_is_tooling():
    code = [
        'const CLIENT_ID = "Zq8xLm3Np7Rt2Vw9Yb4Cd6Ef1Gh5Jk0M";',
        "const r = await fetch(`https://api-v2.soundcloud.com/resolve?url=${u}&amp;client_id=${CLIENT_ID}`);",
        'const fixture = {"hydratable":"apiClient","data":{"id":"Zq8xLm3Np7Rt2Vw9Yb4Cd6Ef1Gh5Jk0M"}};',
        "window.__sc_hydration = [fixture];",
        f'const media = "https://api-v2.soundcloud.com/media/soundcloud:tracks:1234567890/{UUID}/stream/hls";',
        f'const sample = "{signed(f"https://cf-media.sndcdn.com/{TOKEN}.128.mp3", 1900000000)}";',
    ]
    lines = "".join(f'<tr><td class="blob-num">{i}</td><td class="blob-code blob-code-inner">{c}</td></tr>'
                    for i, c in enumerate(code, 1))  # fmt: skip
    body = (
        f'<html><head><meta property="og:site_name" content="GitHub"></head><body><table>{lines}</table></body></html>'
    )
    for url in (
        "https://github.com/someone/sc-dl/blob/main/src/index.js",
        "https://gitlab.com/someone/sc-dl/-/blob/main/dl.js",
    ):
        matches = scan_html(body, url=url)
        assert {"SC-CLIENT-ID-IN-3P", "SC-HYDRATION-COPY", "SC-API-MEDIA-RESOLVER", "SC-CDN-PROGRESSIVE"} <= {
            m.signature for m in matches
        }
        assert max_severity(matches) == "info"
        assert {m.data.get("suppressed") for m in matches} == {"tooling"}
    raw = "https://raw.githubusercontent.com/someone/sc-dl/main/src/index.js"
    raw_matches = scan_page(
        raw, [Resource(raw, "page", 200, "text/plain; charset=utf-8", "\n".join(code).encode())], now=NOW
    )
    assert "SC-CLIENT-ID-IN-3P" in {m.signature for m in raw_matches}
    assert max_severity(raw_matches) == "info"


def test_self_hosted_code_view_is_tooling_by_content():
    code = "".join(
        f'<div class="react-code-text">line {i}: client_id: "{CLIENT}" api-v2.soundcloud.com</div>' for i in range(8)
    )
    matches = scan_html(f"<html><body>{code}</body></html>", url="https://git.example.org/a/b/src/branch/main/x.js")
    assert "SC-CLIENT-ID-IN-3P" in {m.signature for m in matches}
    assert max_severity(matches) == "info"


def test_rendered_widget_network_log_is_not_blamed_on_the_page():
    frame = WIDGET
    cf = signed(f"https://cf-media.sndcdn.com/{TOKEN}.128.mp3", 1900000000)
    aac = signed(f"https://playback.media-streaming.soundcloud.cloud/{TOKEN}/aac_160k/{UUID}/playlist.m3u8", 1900000000)
    api = "https://api-v2.soundcloud.com"
    in_frame = {"frame_url": frame, "is_main_frame": False}
    widget_traffic = [
        NetworkRequest(frame, resource_type="document", **in_frame),
        NetworkRequest("https://widget.sndcdn.com/widget-9.js", resource_type="script", **in_frame),
        NetworkRequest(f"{api}/tracks/1234567890?client_id={CLIENT}", **in_frame),
        NetworkRequest(f"{api}/media/soundcloud:tracks:1234567890/{UUID}/stream/hls?client_id={CLIENT}", **in_frame),
        NetworkRequest(aac, resource_type="xhr", content_type="application/vnd.apple.mpegurl", **in_frame),
        NetworkRequest(cf, resource_type="media", content_type="audio/mpeg", **in_frame),
        NetworkRequest("https://license.media-streaming.soundcloud.cloud/playback/widevine", method="POST", **in_frame),
        # a frame-attributed request even when the browser reported it as main-frame
        NetworkRequest(cf, frame_url="https://w.soundcloud.com/player/?url=x"),
    ]
    resources = [
        html_page(LEGIT_PAGES["widget-api"]),
        Resource(frame, "page", 200, "text/html", (FIXTURES / "s62_player.html").read_bytes(), frame_url=frame),
    ]
    matches = scan_page(PAGE, resources, widget_traffic, now=NOW)
    assert max_severity(matches) in (None, "info"), [(m.signature, m.severity) for m in matches]
    # the same requests from the page itself are an incident
    blamed = scan_page(PAGE, resources, [NetworkRequest(cf)], now=NOW)
    assert max_severity(blamed) == "critical"
