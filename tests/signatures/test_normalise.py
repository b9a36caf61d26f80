"""§3.3 normalisation: URL extraction, unwrapping, CloudFront Policy decoding, host mapping, bounded work."""

from __future__ import annotations

import base64
import time
from urllib.parse import quote

import pytest
from sig_helpers import EXPIRED, LIVE, NOW, PAGE, TOKEN, UUID, by_id, cf_policy, html_page, scan_html, signed

from monitor.signatures import Resource, scan_cdx_row, scan_dataset_text, scan_page
from monitor.signatures.htmlfacts import read_html
from monitor.signatures.normalise import (
    MAX_SCAN_BYTES,
    canonical_url,
    decode_body,
    decode_policy,
    disposition_filename,
    header_urls,
    m3u8_urls,
    signed_info,
    unescape_js,
    unwrap,
    urls_in_text,
)

CF = f"https://cf-media.sndcdn.com/{TOKEN}.128.mp3"
NOW_EPOCH = NOW.timestamp()


def test_policy_decodes_resource_and_expiry():
    pol = decode_policy(cf_policy(f"*://cf-media.sndcdn.com/{TOKEN}.128.mp3*", 1900000000))
    assert pol.resource == f"*://cf-media.sndcdn.com/{TOKEN}.128.mp3*" and pol.epoch_expiry == 1900000000
    assert pol.is_soundcloud


def test_reference_policy_examples_decode():
    # the two Policies of §6.1 / §6.2 verbatim
    p1 = decode_policy(
        "eyJTdGF0ZW1lbnQiOlt7IlJlc291cmNlIjoiKjovL2NmLW1lZGlhLnNuZGNkbi5jb20vQWIzZEVmNmhJajlLLjEyOC5tcDMqIiwiQ29uZGl0a"
        "W9uIjp7IkRhdGVMZXNzVGhhbiI6eyJBV1M6RXBvY2hUaW1lIjoxOTAwMDAwMDAwfX19XX0_"
    )
    assert (p1.resource, p1.epoch_expiry) == ("*://cf-media.sndcdn.com/Ab3dEf6hIj9K.128.mp3*", 1900000000)
    p2 = decode_policy(
        "eyJTdGF0ZW1lbnQiOlt7IlJlc291cmNlIjoiaHR0cHM6Ly9wbGF5YmFjay5tZWRpYS1zdHJlYW1pbmcuc291bmRjbG91ZC5jbG91ZC9BYjNkR"
        "WY2aElqOUsvYWFjXzE2MGsvKiIsIkNvbmRpdGlvbiI6eyJEYXRlTGVzc1RoYW4iOnsiQVdTOkVwb2NoVGltZSI6MTkwMDAwMDEwMH19fV19"
    )
    assert p2.epoch_expiry == 1900000100 and "media-streaming.soundcloud.cloud" in p2.resource


@pytest.mark.parametrize("value", ["", "eyJ0…", "not base64 at all!", base64.b64encode(b"[1,2]").decode(), "e" * 9000])
def test_bad_policies_are_none(value):
    assert decode_policy(value) is None


def test_policy_for_other_cloudfront_content_is_not_soundcloud():
    assert not decode_policy(cf_policy("https://d111111abcdef8.cloudfront.net/*", LIVE)).is_soundcloud


@pytest.mark.parametrize(("epoch", "live"), [(LIVE, True), (EXPIRED, False), (int(NOW_EPOCH), False)])
def test_live_vs_expired_relative_to_now(epoch, live):
    assert signed_info(signed(CF, epoch)).live(NOW_EPOCH) is live


def test_expires_param_differs_from_policy_time():
    aac = f"https://playback.media-streaming.soundcloud.cloud/{TOKEN}/aac_160k/{UUID}/playlist.m3u8"
    info = signed_info(signed(f"{aac}?expires={LIVE + 7000}", LIVE))
    assert info.expires == LIVE + 7000 and info.policy.epoch_expiry == LIVE
    assert info.expiry() == LIVE and info.live(NOW_EPOCH)
    early = signed_info(signed(f"{aac}?expires={EXPIRED}", LIVE))
    assert early.expiry() == EXPIRED and not early.live(NOW_EPOCH)
    only_expires = signed_info(f"{aac}?expires={LIVE}")
    assert only_expires.policy is None and only_expires.live(NOW_EPOCH)


def test_policy_wrapped_two_levels_deep():
    inner = signed(CF, LIVE)
    level1 = "https://relay.example/f?u=" + quote(inner, safe="")
    level2 = "https://proxy.example/go?to=" + quote(level1, safe="")
    found = dict(unwrap(level2))
    assert found[canonical_url(inner)] == canonical_url(level1)
    matches = scan_html(f'<a href="{level2}">play</a>')
    policy = by_id(matches, "SC-SIGNED-POLICY")
    assert policy.data["live"] is True and policy.severity == "critical"
    assert policy.data["wrapper"] == level1
    assert by_id(matches, "SC-CDN-PROGRESSIVE").severity == "critical"


def test_three_levels_deep_is_not_followed():
    url = signed(CF, LIVE)
    for n in range(3):
        url = f"https://hop{n}.example/r?u=" + quote(url, safe="")
    hosts = [inner.split("/")[2] for inner, _ in unwrap(url)]
    assert hosts == ["hop1.example", "hop0.example"]  # cf-media.sndcdn.com would be a third level


def test_base64_wrapper_param():
    wrapped = "https://relay.example/play?data=" + base64.urlsafe_b64encode(CF.encode()).decode().rstrip("=")
    assert canonical_url(CF) in {inner for inner, _ in unwrap(wrapped)}
    assert "SC-CDN-PROGRESSIVE" in {m.signature for m in scan_html(f'<audio src="{wrapped}"></audio>')}
    not_url = "https://relay.example/play?data=" + base64.b64encode(b"just some text, not a url").decode()
    assert unwrap(not_url) == []


def test_path_embedded_url():
    podtrac = "https://dts.podtrac.com/redirect.mp3/feeds.soundcloud.com/stream/1-a-b.mp3"
    assert [u for u, _ in unwrap(podtrac)] == ["https://feeds.soundcloud.com/stream/1-a-b.mp3"]


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("HTTPS://M.SoundCloud.com/a/b", "https://soundcloud.com/a/b"),
        ("https://www.soundcloud.com/a/b?x=1", "https://soundcloud.com/a/b?x=1"),
        ("http://soundcloud.com:80/a", "http://soundcloud.com/a"),
        ("https://CF-Media.SNDCDN.com/X", "https://cf-media.sndcdn.com/X"),
        ("not a url", "not a url"),
        ("http://[broken/x", "http://[broken/x"),
    ],
)
def test_canonical_url(raw, canonical):
    assert canonical_url(raw) == canonical


def test_urls_in_text_forms():
    text = (
        'a "https:\\/\\/cf-media.sndcdn.com\\/Ab3dEf6hIj9K.128.mp3" b '
        "c https\\u002F\\u002Fx d "  # not a URL
        "e https%3A%2F%2Fcf-hls-media.sndcdn.com%2Fplaylist%2FAb3dEf6hIj9K.128.mp3%2Fplaylist.m3u8&next=1 f "
        "g soundcloud.com/example-artist/night-drive, h "
        "i https://w.soundcloud.com/player/?url=https%3A//api.soundcloud.com/tracks/1 j"
    )
    urls = urls_in_text(text)
    assert "https://cf-media.sndcdn.com/Ab3dEf6hIj9K.128.mp3" in urls
    assert "https://cf-hls-media.sndcdn.com/playlist/Ab3dEf6hIj9K.128.mp3/playlist.m3u8" in urls
    assert "https://soundcloud.com/example-artist/night-drive" in urls
    # the api.soundcloud.com URL inside the widget URL stays part of it
    assert not any(u.startswith("https://api.soundcloud.com") for u in urls)


def test_unescape_js():
    assert unescape_js(r"https:\/\/a\u002Fb\x2Fc\u0026d") == "https://a/b/c&d"
    assert unescape_js(r"\u4e2d stays") == r"\u4e2d stays"


def test_html_attributes_everywhere():
    body = f"""<html><head><meta property="og:audio" content="{CF}">
    <link rel="preload" href="/a.js"></head><body>
    <img srcset="/small.jpg 1x, https://i1.sndcdn.com/artworks-Qx7TzLm2Rk0aBcDe-9fGhIj-large.jpg 2x">
    <div data-stream="{CF}?x=1" data-src="/relay/1.mp3" data-json='{{"u":"https:\\/\\/cf-media.sndcdn.com\\/x"}}'></div>
    <form action="/convert"><input value="https://soundcloud.com/a/b"></form>
    <video><source src="/v.m4a"></video><audio src="//cf-media.sndcdn.com/{TOKEN}.128.mp3"></audio>
    <a download="f.mp3" href="/dl/1">get</a><a href="/x">Download now</a>
    <!-- <a href="https://cf-hls-media.sndcdn.com/old"> -->
    </body></html>"""
    facts = read_html(body, PAGE)
    got = {(u.where, u.url) for u in facts.urls}
    expect = {
        ("meta[content]", CF),
        ("link[href]", "https://blog.example/a.js"),
        ("img[srcset]", "https://blog.example/small.jpg"),
        ("img[srcset]", "https://i1.sndcdn.com/artworks-Qx7TzLm2Rk0aBcDe-9fGhIj-large.jpg"),
        ("div[data-stream]", CF + "?x=1"),
        ("div[data-src]", "https://blog.example/relay/1.mp3"),
        ("div[data-json]", "https://cf-media.sndcdn.com/x"),
        ("form[action]", "https://blog.example/convert"),
        ("input[value]", "https://soundcloud.com/a/b"),
        ("source[src]", "https://blog.example/v.m4a"),
        ("audio[src]", CF),
        ("a[href]", "https://blog.example/dl/1"),
        ("comment", "https://cf-hls-media.sndcdn.com/old"),
    }
    assert expect <= got, expect - got
    downloads = {u.url for u in facts.urls if u.download}
    assert downloads == {"https://blog.example/dl/1", "https://blog.example/x"}
    assert facts.download_names == ["f.mp3"]


def test_m3u8_urls():
    body = '#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI="/k/1"\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:10,\nseg/1.m4s\n'
    assert m3u8_urls(body, "https://r.example/p/list.m3u8") == [
        ("https://r.example/k/1", "m3u8:key"),
        ("https://r.example/p/init.mp4", "m3u8:map"),
        ("https://r.example/p/seg/1.m4s", "m3u8:segment"),
    ]


def test_header_urls_and_filename():
    headers = {
        "location": ["/next"],
        "link": ["<https://cdn.example/a.js>; rel=preload, <https://cdn.example/b.css>; rel=preload"],
        "content-disposition": ["attachment; filename=\"a.mp3\"; filename*=UTF-8''Night%20Drive%20(soundcloud).mp3"],
    }
    got = list(header_urls(headers, "https://dl.example/x"))
    assert ("https://dl.example/next", "header:location") in got
    assert ("https://cdn.example/b.css", "header:link") in got
    assert disposition_filename(headers["content-disposition"][0]) == "Night Drive (soundcloud).mp3"
    assert list(header_urls({"location": [b"\xff\xfe"], 3: ["x"]}, None)) == [("\ufffd\ufffd", "header:location")]


def test_body_is_capped_and_nul_free():
    assert len(decode_body(b"a" * (MAX_SCAN_BYTES + 10))) == MAX_SCAN_BYTES
    assert decode_body(b"a\x00b\xffc") == "ab\ufffdc"


def test_bounded_work_on_a_20_mb_body():
    tail = f'<a href="{signed(CF, LIVE)}">late</a>'
    body = ("<p>" + "lorem ipsum " * 1000 + "</p>\n") * 1700 + tail  # ~20 MB; the link is past the cap
    assert len(body) > 20_000_000
    started = time.monotonic()
    matches = scan_page(PAGE, [html_page(body)], now=NOW)
    assert time.monotonic() - started < 60
    assert "SC-CDN-PROGRESSIVE" not in {m.signature for m in matches}  # beyond the first 2 MiB: not scanned


@pytest.mark.parametrize(
    "line",
    [
        "<" * 1_000_000,
        "https://" + "a" * 1_000_000,
        "soundcloud.com/" + "a" * 1_000_000,
        "a." * 500_000 + "soundcloud.com/x",
        '<a href="' + "%25" * 300_000 + '">',
        "client_id=" + "A" * 1_000_000 + " api-v2.soundcloud.com",
        "<!--" + "-" * 1_000_000,
        '"transcodings":[{"url":"https:' + "\\/" * 400_000,
        "<a" * 500_000,
        "<a\n" * 330_000,
        "<!-- >" * 170_000,
        " " * 1_000_000,
        "320" + " " * 1_000_000,
        "name:" + " " * 1_000_000,
        "a" * 1_000_000,
    ],
    ids=["lt", "url", "bare", "dots", "percent", "client_id", "comment", "escapes", "open-tags", "open-tags-nl",
         "open-comments", "spaces", "bitrate-spaces", "yaml-spaces", "word"],
)  # fmt: skip
def test_bounded_work_on_a_1_mb_single_line(line):
    started = time.monotonic()
    for kind in ("page", "script", "playlist"):
        scan_page(PAGE, [Resource(PAGE, kind, 200, "", line.encode())], now=NOW)
    scan_dataset_text("https://huggingface.co/datasets/a/b/raw/main/README.md", line)
    scan_cdx_row({"original": line, "mimetype": "audio/mpeg", "statuscode": "200"}, source="wayback")
    assert time.monotonic() - started < 60
