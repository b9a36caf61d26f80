"""scan_page on the §6 sample pages and on the per-match, frame and composite rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sig_helpers import (
    EXPIRED,
    FIXTURES,
    LIVE,
    NOW,
    PAGE,
    TOKEN,
    UUID,
    by_id,
    html_page,
    ids,
    scan_html,
    scan_requests,
    signed,
)

from monitor.signatures import NetworkRequest, Resource, max_severity, scan_page

DL = "https://sc2mp3-fast.example/track/night-drive"
PLAYER = "https://player.example/example-artist/night-drive"
M3U8 = "https://player.example/relay/hls/example-artist/night-drive/aac_160k/playlist.m3u8"
CF = f"https://cf-media.sndcdn.com/{TOKEN}.128.mp3"


def downloader():
    return scan_page(DL, [html_page((FIXTURES / "s61_downloader.html").read_text(), DL)], now=NOW)


def proxied_player(now=NOW):
    return scan_page(
        PLAYER,
        [
            html_page((FIXTURES / "s62_player.html").read_text(), PLAYER),
            Resource(
                M3U8, "playlist", 200, "application/vnd.apple.mpegurl", (FIXTURES / "s62_playlist.m3u8").read_bytes()
            ),
        ],
        now=now,
    )


def test_downloader_page_fires_the_listed_ids():
    matches = downloader()
    listed = {"SC-DL-PAGE", "SC-CDN-PROGRESSIVE", "SC-SIGNED-POLICY", "SC-PROXY-PARAM", "SC-DL-FILENAME"}
    listed |= {"SC-DL-BITRATE-CLAIM", "SC-CLIENT-ID-IN-3P", "SC-API-RESOLVE", "SC-ARTWORK-HOTLINK"}
    assert listed <= ids(matches)
    page = by_id(matches, "SC-DL-PAGE")
    assert page.severity == "critical" and page.url == DL
    assert "SC-CDN-PROGRESSIVE" in page.data["evidence"] and page.data["download_controls"]
    assert by_id(matches, "SC-CLIENT-ID-IN-3P").data["client_id"] == "Zq8xLm3Np7Rt2Vw9Yb4Cd6Ef1Gh5Jk0M"
    cdn = by_id(matches, "SC-CDN-PROGRESSIVE")
    assert cdn.severity == "critical" and cdn.data["download_control"] is True
    assert cdn.track.media_token == TOKEN
    policy = by_id(matches, "SC-SIGNED-POLICY")
    assert policy.data["policy_resource"] == "*://cf-media.sndcdn.com/Ab3dEf6hIj9K.128.mp3*"
    assert policy.data["policy_expiry"] == 1900000000 and policy.severity == "critical"
    assert by_id(matches, "SC-API-RESOLVE").severity == "high"  # with #14 on the same page
    names = {m.snippet: m for m in matches if m.signature == "SC-DL-FILENAME"}
    assert names["soundcloud-1234567890.mp3"].severity == "high"  # the id is the page's data-track-id
    assert by_id(matches, "SC-ARTWORK-HOTLINK").severity == "info"
    assert max_severity(matches) == "critical"


def test_downloader_page_sorted_and_deduplicated():
    matches = downloader()
    ranks = ["info", "low", "medium", "high", "critical"]
    keys = [(-ranks.index(m.severity), m.signature) for m in matches]
    assert keys == sorted(keys)
    art = [m for m in matches if m.signature == "SC-ARTWORK-HOTLINK"]
    assert len(art) == 1  # og:image and <img> name the same artwork
    assert downloader() == matches  # deterministic


def test_proxied_player_and_its_playlist():
    matches = proxied_player()
    rewrite = by_id(matches, "SC-HLS-REWRITE")
    assert rewrite.severity == "critical" and rewrite.url == M3U8
    assert (
        rewrite.data["policy_resource"] == "https://playback.media-streaming.soundcloud.cloud/Ab3dEf6hIj9K/aac_160k/*"
    )
    assert rewrite.data["live"] is True
    proxy = by_id(matches, "SC-PROXY-PARAM")
    assert proxy.severity == "critical" and proxy.url == M3U8
    policy = by_id(matches, "SC-SIGNED-POLICY")
    assert policy.severity == "critical" and policy.data["policy_expiry"] == 1900000100
    assert by_id(matches, "SC-CDN-AAC").severity == "critical"  # the wrapped segment inherits the live Policy
    assert {"SC-HYDRATION-COPY", "SC-TRANSCODINGS-JSON", "SC-API-MEDIA-RESOLVER"} <= ids(matches, above_info=True)
    assert by_id(matches, "SC-URN").track.track_id == "1234567890"


def test_proxied_player_after_expiry_is_stale_not_live():
    later = NOW.replace(year=2031)
    matches = proxied_player(later)
    assert by_id(matches, "SC-SIGNED-POLICY").severity == "high"
    assert by_id(matches, "SC-SIGNED-POLICY").data["live"] is False
    assert by_id(matches, "SC-CDN-AAC").severity == "high"
    assert by_id(matches, "SC-HLS-REWRITE").severity == "critical"  # re-serving SC HLS is critical either way


def test_soundcloak_style_segments():
    body = (FIXTURES / "s62_soundcloak.m3u8").read_text()
    url = "https://sc.example/_/api/hls/example-artist/night-drive"
    matches = scan_page(
        "https://sc.example/example-artist/night-drive",
        [html_page('<audio id="track" src="/_/api/hls/example-artist/night-drive"></audio>', "https://sc.example/example-artist/night-drive"),
         Resource(url, "playlist", 200, "application/vnd.apple.mpegurl", body.encode())],
        [NetworkRequest("https://sc.example/_/proxy/hls/example-artist/night-drive/sq/mp3_0_0/0/31762",
                        content_type="audio/mpeg", status=200)],
        now=NOW,
    )  # fmt: skip
    assert by_id(matches, "SC-HLS-REWRITE").severity == "critical"
    front = by_id(matches, "SC-FRONTEND-PATHS")
    assert {m.data["path_kind"] for m in matches if m.signature == "SC-FRONTEND-PATHS"} >= {"api/hls", "proxy/hls"}
    assert max(m.severity for m in matches if m.signature == "SC-FRONTEND-PATHS") == "critical"
    assert front.family == "proxy"


@pytest.mark.parametrize(
    ("epoch", "download", "severity"),
    [(LIVE, False, "critical"), (EXPIRED, False, "high"), (EXPIRED, True, "critical")],
)
def test_progressive_severity_follows_policy_and_download_control(epoch, download, severity):
    attr = ' download="x.mp3"' if download else ""
    matches = scan_html(f'<a href="{signed(CF, epoch)}"{attr}>listen</a>')
    assert by_id(matches, "SC-CDN-PROGRESSIVE").severity == severity
    assert by_id(matches, "SC-SIGNED-POLICY").severity == ("critical" if epoch == LIVE else "high")


def test_anchor_labelled_download_is_a_download_control():
    matches = scan_html(f'<a class="btn" href="{signed(CF, EXPIRED)}">Download MP3</a>')
    assert by_id(matches, "SC-CDN-PROGRESSIVE").severity == "critical"


def test_expires_param_earlier_than_policy_decides_liveness():
    aac = f"https://playback.media-streaming.soundcloud.cloud/{TOKEN}/aac_160k/{UUID}/playlist.m3u8?expires={EXPIRED}"
    matches = scan_requests(NetworkRequest(signed(aac, LIVE)))
    m = by_id(matches, "SC-CDN-AAC")
    assert m.data["expires"] == EXPIRED and m.data["policy_expiry"] == LIVE
    assert m.data["live"] is False and m.severity == "high"


def test_main_frame_request_is_blamed_on_the_page():
    matches = scan_requests(NetworkRequest(signed(CF, LIVE), resource_type="media", content_type="audio/mpeg"))
    assert by_id(matches, "SC-CDN-PROGRESSIVE").severity == "critical"


def test_third_party_subframe_request_is_blamed_and_frame_recorded():
    req = NetworkRequest(CF, frame_url="https://ads.example/frame", is_main_frame=False)
    m = by_id(scan_requests(req), "SC-CDN-PROGRESSIVE")
    assert m.severity == "high" and m.data["frame"] == "https://ads.example/frame"


def test_drm_license_relay_needs_media_evidence():
    relay = NetworkRequest("https://relay.example/api/fairplay/license?track=1234567890", method="POST")
    assert "SC-DRM-LICENSE" not in ids(scan_requests(relay))
    media = NetworkRequest(signed(CF, LIVE))
    m = by_id(scan_requests(relay, media), "SC-DRM-LICENSE")
    assert m.severity == "critical" and "relay" in m.detail
    footer = NetworkRequest("https://relay.example/licenses/")
    assert "SC-DRM-LICENSE" not in ids(scan_requests(footer, media))


def test_soundcloud_own_pages_are_not_third_parties():
    body = (FIXTURES / "s61_downloader.html").read_text()
    for url in (
        "https://soundcloud.com/example-artist/night-drive",
        "https://m.soundcloud.com/x",
        "https://a-v2.sndcdn.com/x",
    ):
        assert scan_page(url, [html_page(body, url)], now=NOW) == []
    assert scan_page(PAGE, [html_page(body)], now=NOW, site_host="soundcloud.com") == []


def test_client_id_in_request_to_the_api():
    req = NetworkRequest("https://api-v2.soundcloud.com/tracks?ids=1&client_id=Zq8xLm3Np7Rt2Vw9Yb4Cd6Ef1Gh5Jk0M")
    assert by_id(scan_requests(req), "SC-CLIENT-ID-IN-3P").data["client_id"] == "Zq8xLm3Np7Rt2Vw9Yb4Cd6Ef1Gh5Jk0M"


def test_weak_signals_alone_stay_low_and_escalate_together():
    preview = f"https://cf-preview-media.sndcdn.com/preview/0/30/{TOKEN}.128.mp3"
    alone = scan_html(f'<audio src="{preview}"></audio>')
    assert by_id(alone, "SC-CDN-PREVIEW").severity == "low"
    both = scan_html(f'<audio src="{preview}"></audio><a href="/f/Night [1234567].mp3">file</a>')
    assert by_id(both, "SC-CDN-PREVIEW").severity == "medium"
    assert "co-occurring" in by_id(both, "SC-CDN-PREVIEW").data["escalated"]
    assert by_id(both, "SC-DL-FILENAME").severity == "medium"


def test_resolve_alone_is_low():
    m = by_id(scan_html('<script>fetch("https://api-v2.soundcloud.com/resolve?url=" + u)</script>'), "SC-API-RESOLVE")
    assert m.severity == "low"


def test_api_streams_plain_oauth_use_is_low():
    m = by_id(scan_requests(NetworkRequest("https://api.soundcloud.com/tracks/1234567890/streams")), "SC-API-STREAMS")
    assert m.severity == "low"


def test_form_without_media_evidence_is_high():
    body = """<title>SoundCloud to MP3 converter</title><form action="/convert">
    <input name="url" placeholder="Paste a soundcloud.com link"><button>Convert</button></form>"""
    m = by_id(scan_html(body), "SC-DL-PAGE")
    assert m.severity == "high" and m.data["evidence"] == []


def test_attachment_header_counts_as_download_control():
    form = '<form><label>SoundCloud link</label><input name="u"></form>'
    file = Resource(
        "https://dl.example/get?id=1", "audio", 200, "audio/mpeg", b"",
        headers={"content-disposition": ['attachment; filename="Night Drive (soundcloud).mp3"']},
    )  # fmt: skip
    media = NetworkRequest(signed(CF, EXPIRED))
    matches = scan_page(PAGE, [html_page(form), file], [media], now=NOW)
    assert by_id(matches, "SC-DL-PAGE").severity == "critical"
    assert by_id(matches, "SC-DL-FILENAME").snippet == "(soundcloud).mp3"


def test_location_header_and_link_header_are_sightings():
    preview = f"https://cf-preview-media.sndcdn.com/preview/0/30/{TOKEN}.128.mp3"
    headers = {"location": [signed(CF, LIVE)], "link": [f"<{preview}>; rel=preload"]}
    res = Resource("https://dl.example/go/1", "other", 302, "", b"", headers=headers)
    matches = scan_page(PAGE, [html_page("<p>x</p>"), res], now=NOW)
    assert by_id(matches, "SC-CDN-PROGRESSIVE").data["where"] == "header:location"
    assert by_id(matches, "SC-CDN-PREVIEW").data["where"] == "header:link"


def test_js_escaped_urls_in_inline_json():
    escaped = CF.replace("/", "\\/")
    unicode = CF.replace("/", "\\u002F")
    for text in (escaped, unicode):
        body = f'<script type="application/json">{{"stream":"{text}"}}</script>'
        assert "SC-CDN-PROGRESSIVE" in ids(scan_html(body)), text


def test_audio_file_tags_with_secret_token_are_critical(tmp_path):
    from mutagen.id3 import WOAF
    from sig_audio import tagged_mp3

    body = tagged_mp3(tmp_path, [WOAF(url="https://soundcloud.com/another-producer/unreleased-demo/s-Xy12Ab")])
    file = "https://files.example/u/demo.mp3"
    matches = scan_page(
        PAGE, [html_page(f'<a href="{file}">mp3</a>'), Resource(file, "audio", 200, "audio/mpeg", body)], now=NOW
    )
    purl = by_id(matches, "SC-FILE-PURL")
    assert purl.severity == "critical" and purl.track.secret_token == "s-Xy12Ab"
    assert purl.track.permalink == "https://soundcloud.com/another-producer/unreleased-demo"


def test_now_only_matters_through_expiry():
    url = signed(CF, LIVE)
    before = scan_html(f'<a href="{url}">x</a>')
    after = scan_page(PAGE, [html_page(f'<a href="{url}">x</a>')], now=NOW + timedelta(seconds=301))
    assert by_id(before, "SC-CDN-PROGRESSIVE").severity == "critical"
    assert by_id(after, "SC-CDN-PROGRESSIVE").severity == "high"


def test_filename_id_needs_confirmation_from_elsewhere_on_the_page():
    link = '<a href="/dl.php?name=soundcloud_1234567890_audio.m4a">file</a>'
    assert by_id(scan_html(link), "SC-DL-FILENAME").severity == "low"
    confirmed = scan_html(link + '<div data-track-id="1234567890"></div>')
    assert by_id(confirmed, "SC-DL-FILENAME").severity == "high"
    via_urn = scan_html(link + '<script>const s = {"urn": "soundcloud:tracks:1234567890"};</script>')
    assert by_id(via_urn, "SC-DL-FILENAME").severity == "high"
