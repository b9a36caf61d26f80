"""WatchSpider's static crawls of the exposure demo sites, through the real fake-internet proxy."""

from __future__ import annotations

import io

import pytest
from helpers.watch_run import by_url, crawl
from mutagen.id3 import ID3

from monitor.demo.exposure_media import PERMALINK, TRACK_ID
from monitor.demo.internet import BackgroundInternet
from monitor.demo.model import NOT_FOUND, Response, Site, by_host, html
from monitor.errors import ErrorKind
from monitor.net import is_soundcloud_host
from spiders.watch_target import parse_target

SC2MP3 = "http://sc2mp3-fast.example"
SCPLAYER = "http://scplayer.example"
HLS = f"{SCPLAYER}/relay/hls/example-artist/night-drive/aac_160k/playlist.m3u8"
REUPLOAD_MP3 = "http://reupload.example/uploads/night-drive.mp3"
BLOG = "http://indie-blog.example"
POST = f"{BLOG}/2026/05/night-drive-premiere/"
KINDS = {kind.value for kind in ErrorKind}


@pytest.fixture(scope="module")
def net():
    with BackgroundInternet() as running:
        yield running


@pytest.fixture
def internet(net):
    net.internet.clear_requests()
    return net


def requested(net: BackgroundInternet) -> list[tuple[str, str, str]]:
    return [(r.method, r.host, r.path) for r in net.internet.requests]


def assert_well_formed(items):
    for item in items:
        assert item.kind in {"page", "script", "playlist", "audio", "sitemap"}
        assert (item.status is not None) or (item.error_kind is not None)
        assert item.error_kind is None or item.error_kind in KINDS
        assert all(name == name.lower() and isinstance(values, list) for name, values in item.headers.items())
        assert item.fetched_at.endswith("+00:00") and item.duration_seconds >= 0
        assert not is_soundcloud_host(item.url.split("/")[2]) and item.screenshot is None and item.requests == []


def test_downloader_site(internet):
    items = crawl(internet, {"name": "sc2mp3", "start_urls": [f"{SC2MP3}/"]})
    assert_well_formed(items)
    got = by_url(items)
    home = got[f"{SC2MP3}/"]
    assert (home.kind, home.status, home.depth, home.found_on, home.rendered, home.robots_obeyed) == (
        "page",
        200,
        0,
        None,
        False,
        True,
    )
    assert home.content_type == "text/html; charset=utf-8" and b"Paste a SoundCloud track link" in home.body
    result = got[f"{SC2MP3}/soundcloud/example-artist/night-drive"]
    assert (result.depth, result.found_on) == (1, f"{SC2MP3}/")
    assert b"https://cf-media.sndcdn.com/Ab3dEf6hIj9K.128.mp3?Policy=" in result.body
    assert b"api-v2.soundcloud.com/resolve" in result.body and b"Zq8xLm3Np7Rt2Vw9Yb4Cd6Ef1Gh5Jk0M" in result.body
    # Linked from nowhere: found through the sitemap only.
    faq = got[f"{SC2MP3}/faq"]
    assert (faq.status, faq.depth, faq.found_on) == (200, 1, f"{SC2MP3}/sitemap.xml")
    assert got[f"{SC2MP3}/sitemap.xml"].kind == "sitemap"
    merged = got[f"{SC2MP3}/system/storage/temp/soundcloud-{TRACK_ID}.mp3"]
    assert (merged.kind, merged.status, merged.truncated, merged.depth) == ("audio", 200, False, 2)
    assert merged.body[:3] == b"\xff\xfb\x90" and merged.size == len(merged.body) > 40_000
    assert merged.headers["content-type"] == ["audio/mpeg"]
    (relay,) = [item for url, item in got.items() if "/dl.php?" in url]
    assert relay.kind == "audio" and relay.body.startswith(b"\x00\x00\x00\x1cftyp")
    assert relay.headers["content-disposition"] == [f'attachment; filename="soundcloud_{TRACK_ID}_audio.m4a"']
    # robots.txt disallows /admin/: an item says so, and the URL was never requested.
    history = got[f"{SC2MP3}/admin/history"]
    assert (history.status, history.error_kind, history.body) == (None, "robots_disallowed", b"")
    log = requested(internet)
    assert ("GET", "sc2mp3-fast.example", "/robots.txt") in log
    assert not any(path.startswith("/admin/") for _, _, path in log)
    assert {host for _, host, _ in log} == {"sc2mp3-fast.example"}


def test_a_redirect_to_soundcloud_is_recorded_not_followed(internet):
    items = crawl(internet, {"name": "sc2mp3", "start_urls": [f"{SC2MP3}/soundcloud/example-artist/night-drive"]})
    hop = by_url(items)[f"{SC2MP3}/stream/{TRACK_ID}"]
    assert (hop.kind, hop.status, hop.error_kind) == ("page", 302, None)
    assert hop.headers["location"][0].startswith("https://cf-media.sndcdn.com/Ab3dEf6hIj9K.128.mp3?Policy=")
    assert not any(is_soundcloud_host(host) for _, host, _ in requested(internet))


def test_obey_robots_false_fetches_disallowed_paths_and_says_so(internet):
    target = {"name": "sc2mp3", "start_urls": [f"{SC2MP3}/"], "obey_robots": False, "follow_sitemap": False}
    items = crawl(internet, target)
    history = by_url(items)[f"{SC2MP3}/admin/history"]
    assert (history.status, history.error_kind) == (200, None) and b"s-Xy12Ab" in history.body
    assert {item.robots_obeyed for item in items} == {False}
    log = requested(internet)
    assert ("GET", "sc2mp3-fast.example", "/admin/history") in log
    assert ("GET", "sc2mp3-fast.example", "/robots.txt") not in log


def test_player_site_playlist_and_script(internet):
    items = crawl(internet, {"name": "scplayer", "start_urls": [f"{SCPLAYER}/"]})
    assert_well_formed(items)
    got = by_url(items)
    page = got[f"{SCPLAYER}/example-artist/night-drive"]
    assert b"window.__sc_hydration" in page.body and b'"transcodings"' in page.body
    playlist = got[HLS]
    assert (playlist.kind, playlist.status, playlist.found_on) == ("playlist", 200, page.url)
    assert playlist.content_type == "application/vnd.apple.mpegurl"
    assert playlist.body.startswith(b"#EXTM3U") and b"#EXT-X-MAP:URI=" in playlist.body
    assert b"playback.media-streaming.soundcloud.cloud" in playlist.body and b"&Policy=" in playlist.body
    script = got[f"{SCPLAYER}/static/hls.min.js"]
    assert (script.kind, script.status) == ("script", 200) and b"hls.js" in script.body
    # No sitemap here: the 404 is a fact like any other.
    missing = got[f"{SCPLAYER}/sitemap.xml"]
    assert (missing.kind, missing.status, missing.error_kind) == ("sitemap", 404, "http_4xx")
    # Segments live only inside the playlist: the crawl never fetches them.
    assert not any(path.startswith("/relay/seg") for _, _, path in requested(internet))


@pytest.mark.parametrize("cap", [262_144, 8_192])
def test_audio_head_carries_the_id3_tag_and_stops_at_the_cap(internet, cap):
    items = crawl(internet, {"name": "reupload", "start_urls": ["http://reupload.example/"], "audio_byte_cap": cap})
    audio = by_url(items)[REUPLOAD_MP3]
    assert (audio.kind, audio.status, audio.truncated) == ("audio", 200, True)
    assert len(audio.body) == cap < audio.size
    tags = ID3(io.BytesIO(audio.body))
    assert tags["WOAF"].url == PERMALINK
    assert tags["TXXX:purl"].text == [PERMALINK]
    assert PERMALINK in tags["COMM::eng"].text[0]
    assert tags["APIC:Cover (front)"].data.startswith(b"\xff\xd8")
    # Linked twice (<a href> and <audio src>), fetched once, and not to its end.
    assert requested(internet).count(("GET", "reupload.example", "/uploads/night-drive.mp3")) == 1


def test_mirror_site_keeps_hydration_and_raw_track_json(internet):
    items = crawl(internet, {"name": "scmirror", "start_urls": ["http://scmirror.example/"]})
    got = by_url(items)
    mirror = got["http://scmirror.example/example-artist/night-drive"]
    assert b"window.__sc_hydration = " in mirror.body and b'"hydratable":"apiClient"' in mirror.body
    raw = got[f"http://scmirror.example/api/tracks/{TRACK_ID}.json"]
    assert raw.content_type == "application/json" and raw.depth == 2
    assert raw.body.startswith(b'{"id":1234567890') and b"/stream/hls" in raw.body


def test_legit_blog_reads_sitemap_index_and_never_touches_soundcloud(internet):
    items = crawl(internet, {"name": "blog", "start_urls": [f"{BLOG}/"]})
    assert_well_formed(items)
    got = by_url(items)
    post = got[POST]
    assert b"https://w.soundcloud.com/player/?url=https%3A//api.soundcloud.com/tracks/1234567890" in post.body
    assert b"feeds.soundcloud.com/stream/" in post.body and b"i1.sndcdn.com/artworks-" in post.body
    assert got[f"{BLOG}/sitemap-posts.xml"].found_on == f"{BLOG}/sitemap.xml"
    assert got[f"{BLOG}/about"].found_on == f"{BLOG}/sitemap-posts.xml"
    # The widget's api.js, the RSS enclosure (.mp3!) and the share links stay in the body, unrequested.
    assert {host for _, host, _ in requested(internet)} == {"indie-blog.example"}
    assert {item.kind for item in items} == {"page", "sitemap"}


def test_soundcloud_start_url_is_refused_without_a_request(internet):
    target = {"name": "mixed", "start_urls": ["https://soundcloud.com/example-artist", f"{BLOG}/about"]}
    items = crawl(internet, {**target, "follow_sitemap": False})
    refused = by_url(items)["https://soundcloud.com/example-artist"]
    assert (refused.status, refused.error_kind) == (None, "egress_refused")
    assert by_url(items)[f"{BLOG}/about"].status == 200
    assert not any(is_soundcloud_host(host) for _, host, _ in requested(internet))


def _ranged(request):
    # Honours Range like S3 or nginx would: 206 with the total in Content-Range.
    body = b"ID3" + bytes(10_000)
    seen_range.append(request.headers.get("range"))
    return Response(
        status=206,
        body=body[:1000],
        content_type="audio/mpeg",
        headers=(("Content-Range", f"bytes 0-999/{len(body)}"),),
    )


seen_range: list[str | None] = []


def test_audio_requests_send_a_range_hint_and_a_206_counts_as_truncated():
    seen_range.clear()
    sites = by_host(
        [
            Site(
                "ranged.test",
                routes={
                    "/": html('<a href="/a.flac">a</a> <a href="/b" download>b</a>'),
                    "/a.flac": _ranged,
                    "/robots.txt": NOT_FOUND,
                },
                fallback=_ranged,
            )
        ]
    )
    with BackgroundInternet(sites) as net:
        target = {"name": "r", "start_urls": ["http://ranged.test/"], "audio_byte_cap": 1000, "follow_sitemap": False}
        items = crawl(net, target)
    got = by_url(items)
    for url in ("http://ranged.test/a.flac", "http://ranged.test/b"):
        assert (got[url].kind, got[url].status, got[url].truncated, len(got[url].body)) == ("audio", 206, True, 1000)
    assert seen_range == ["bytes=0-999", "bytes=0-999"]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ({"start_urls": ["http://x.example/"]}, "name"),
        ({"name": "x", "start_urls": []}, "start_urls"),
        ({"name": "x", "start_urls": ["http://x.example/"], "max_pages": 0}, "max_pages"),
        ({"name": "x", "start_urls": ["http://x.example/"], "max_depth": True}, "max_depth"),
        ({"name": "x", "start_urls": ["http://x.example/"], "extra_hosts": "a.example"}, "extra_hosts"),
        ({"name": "x", "start_urls": ["http://x.example/"], "interval_seconds": 60}, "unknown target keys"),
        ("{not json", "not valid JSON"),
    ],
)
def test_bad_targets_are_refused(target, message):
    with pytest.raises(ValueError, match=message):
        parse_target(target)


def test_target_as_json_text_with_defaults():
    parsed = parse_target('{"name": "x", "start_urls": ["http://x.example/"], "extra_hosts": ["CDN.X.example."]}')
    assert (parsed.max_depth, parsed.max_pages, parsed.audio_byte_cap, parsed.follow_sitemap) == (2, 50, 524_288, True)
    assert (parsed.obey_robots, parsed.render, parsed.extra_hosts) == (True, False, ["cdn.x.example"])
