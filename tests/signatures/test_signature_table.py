"""One positive and one negative example per signature id of the §3.1 table (parametrised from EXAMPLES)."""

from __future__ import annotations

import pytest
from mutagen.id3 import APIC, TIT2, WOAF
from sig_audio import mpeg_frames, ogg_opus, tagged_mp3
from sig_helpers import (
    EXPIRED,
    FIXTURES,
    LIVE,
    NOW,
    PAGE,
    TOKEN,
    UUID,
    html_page,
    scan_html,
    scan_requests,
    scan_script,
    signed,
)

from monitor.signatures import (
    SIGNATURES,
    Catalogue,
    CatalogueTrack,
    NetworkRequest,
    Resource,
    scan_audio_match,
    scan_cdx_row,
    scan_dataset_text,
    scan_page,
)
from monitor.signatures.data import BY_ID
from monitor.signatures.engine import RULES

CF = f"https://cf-media.sndcdn.com/{TOKEN}.128.mp3"
AAC = f"https://playback.media-streaming.soundcloud.cloud/{TOKEN}/aac_160k/{UUID}/playlist.m3u8"
CLIENT = "Zq8xLm3Np7Rt2Vw9Yb4Cd6Ef1Gh5Jk0M"
REUPLOAD = "https://files.example/u/beat.mp3"
ART = "https://i1.sndcdn.com/artworks-Qx7TzLm2Rk0aBcDe-9fGhIj-t500x500.jpg"


def link(url: str) -> str:
    return f'<html><body><p>Listen: <a href="{url}">here</a></p></body></html>'


def apic(desc: str) -> APIC:
    return APIC(encoding=3, mime="image/jpeg", type=3, desc=desc, data=b"\xff\xd8\xff")


def page(body: str):
    return lambda tmp: scan_html(body)


def script(js: str):
    return lambda tmp: scan_script(js)


def request(url: str, **kw):
    return lambda tmp: scan_requests(NetworkRequest(url, **kw))


def playlist(body: str, url: str = "https://relay.example/hls/night-drive/playlist.m3u8"):
    return lambda tmp: scan_page(
        PAGE, [html_page(link("/hls")), Resource(url, "playlist", 200, "application/vnd.apple.mpegurl", body.encode())],
        now=NOW,
    )  # fmt: skip


def audio(build):
    def run(tmp):
        file = "https://files.example/u/night-drive.mp3"
        return scan_page(PAGE, [html_page(link(file)), Resource(file, "audio", 200, "audio/mpeg", build(tmp))], now=NOW)

    return run


def cdx(row: dict, source: str = "wayback"):
    return lambda tmp: scan_cdx_row(row, source=source)


def dataset(text: str):
    return lambda tmp: scan_dataset_text("https://huggingface.co/datasets/x/y/raw/main/README.md", text)


def json_file(text: str):
    return lambda tmp: scan_page(
        PAGE, [html_page("<html></html>"), Resource("https://x.example/a.json", "other", 200, "application/json",
                                                    text.encode())], now=NOW)  # fmt: skip


OTHER_POLICY = signed("https://relay.example/v.mp4", LIVE, "https://d111111abcdef8.cloudfront.net/video.mp4")
CARD_ONE_LINK = "# My beats\n\nFollow me on https://soundcloud.com/my-name/first-beat and enjoy.\n"
WAYBACK = {"original": CF + "?Policy=eyJ0&Signature=FAKE", "mimetype": "audio/mpeg", "statuscode": "200",
           "timestamp": "20250314101522"}  # fmt: skip

# id -> (positive, negative); each is a callable(tmp_path) -> matches
EXAMPLES = {
    "SC-CDN-PROGRESSIVE": (page(link(signed(CF, LIVE))), page(link("https://cf-media.sndcdn.com/short.128.mp3"))),
    "SC-CDN-ORIGINAL": (
        page(link(signed(f"https://cf-media.sndcdn.com/{TOKEN}", EXPIRED))),
        page(link(f"https://cf-media.sndcdn.com/{TOKEN}?foo=bar")),
    ),
    "SC-CDN-HLS-MP3": (
        request(f"https://cf-hls-media.sndcdn.com/media/0/31762/{TOKEN}.128.mp3?Policy=x"),
        request(f"https://cf-hls-media.sndcdn.com/media/{TOKEN}.128.mp3"),
    ),
    "SC-CDN-HLS-OPUS": (
        request(f"https://cf-hls-opus-media.sndcdn.com/playlist/{UUID}.64.opus/playlist.m3u8"),
        request("https://cf-hls-opus-media.sndcdn.com/playlist/not-a-uuid.64.opus/playlist.m3u8"),
    ),
    "SC-CDN-AAC": (request(AAC), request("https://playback.media-streaming.soundcloud.cloud/status")),
    "SC-CDN-PREVIEW": (
        page(link(f"https://cf-preview-media.sndcdn.com/preview/0/30/{TOKEN}.128.mp3")),
        page(link("https://cf-preview-media.sndcdn.com/")),
    ),
    "SC-CDN-LEGACY": (
        page(link("http://media.soundcloud.com/stream/Zz1Ab2Cd3Ef4")),
        page(link("http://ec-media.sndcdn.com/Zz1Ab2Cd3Ef4.128.mp3")),
    ),
    "SC-SIGNED-POLICY": (
        page(link(signed("https://relay.example/s/1", LIVE, f"*://cf-media.sndcdn.com/{TOKEN}.128.mp3*"))),
        page(link(OTHER_POLICY)),
    ),
    "SC-DRM-LICENSE": (
        request("https://license.media-streaming.soundcloud.cloud/playback/widevine?token=x", method="POST"),
        page('<html><a href="/licenses/">Software licenses</a> <a href="/drm/faq">DRM FAQ</a></html>'),
    ),
    "SC-PROXY-PARAM": (
        page(f'<audio src="/stream.php?url=https%3A%2F%2Fcf-media.sndcdn.com%2F{TOKEN}.128.mp3"></audio>'),
        page(f'<img src="/img?src={ART.replace(":", "%3A").replace("/", "%2F")}">'),
    ),
    "SC-HLS-REWRITE": (
        playlist(f"#EXTM3U\n#EXTINF:10,\nhttps://cdn.relay.example/seg/{TOKEN}.128.mp3/1\n#EXT-X-ENDLIST\n"),
        playlist("#EXTM3U\n#EXTINF:10,\nseg-001.ts\n#EXTINF:10,\nseg-002.ts\n#EXT-X-ENDLIST\n"),
    ),
    "SC-FRONTEND-PATHS": (
        page('<audio id="track" src="/_/proxy/hls/example-artist/night-drive/sq/mp3_0_0/0/31762"></audio>'),
        page('<a href="/_/download">download</a><script src="/_/static/app.js"></script>'),
    ),
    "SC-API-MEDIA-RESOLVER": (
        script(f'fetch("https://api-v2.soundcloud.com/media/soundcloud:tracks:1234567890/{UUID}/stream/progressive")'),
        script('fetch("https://api-v2.soundcloud.com/tracks/1234567890")'),
    ),
    "SC-CLIENT-ID-IN-3P": (
        script(f'const cfg = {{client_id: "{CLIENT}"}}; const api = "https://api-v2.soundcloud.com/resolve";'),
        script(f'const cfg = {{client_id: "{CLIENT}"}}; const api = "https://api.spotify.com/v1/tracks";'),
    ),
    "SC-TRACK-AUTH": (
        script('u += "&track_authorization=eyJ0eXAiOiJKV1Qi.eyJnZW8iOiJVUyJ9.FAKE-sig_1";'),
        script('u += "&track_authorization=" + auth;'),
    ),
    "SC-API-DOWNLOAD": (
        request("https://api-v2.soundcloud.com/tracks/1234567890/download?client_id=x"),
        request("https://api-v2.soundcloud.com/tracks/1234567890/comments"),
    ),
    "SC-API-STREAMS": (
        request("https://api.soundcloud.com/i1/tracks/1234567890/streams?client_id=x"),
        request("https://api.soundcloud.com/tracks/1234567890"),
    ),
    "SC-API-RESOLVE": (
        script('fetch("https://api-v2.soundcloud.com/resolve?url=" + encodeURIComponent(u))'),
        script('fetch("https://api-v2.soundcloud.com/search?q=" + q)'),
    ),
    "SC-TRANSCODINGS-JSON": (
        json_file((FIXTURES / "s65_track.json").read_text()),
        json_file('{"media": {"transcodings": []}}'),
    ),
    "SC-HYDRATION-COPY": (
        page("<script>window.__sc_hydration = [];</script>"),
        page("<script>window.__NEXT_DATA__ = {};</script>"),
    ),
    "SC-DL-PAGE": (
        page((FIXTURES / "s61_downloader.html").read_text()),
        page('<form action="/subscribe"><input name="email" placeholder="you@example.com"></form>' + link(CF)),
    ),
    "SC-DL-FILENAME": (
        page('<a download="Night Drive - Example Artist (soundcloud).mp3" href="/f/1">get</a>'),
        page('<a download="Night Drive.mp3" href="/f/1">get</a>'),
    ),
    "SC-DL-BITRATE-CLAIM": (
        page("<h1>Download SoundCloud tracks as MP3</h1><p>All tracks in 320 kbps!</p>"),
        page("<h1>Download our podcast</h1><p>All episodes in 320 kbps.</p>"),
    ),
    "SC-FILE-PURL": (
        audio(lambda tmp: tagged_mp3(tmp, [WOAF(url="https://soundcloud.com/example-artist/night-drive")])),
        audio(lambda tmp: tagged_mp3(tmp, [WOAF(url="https://example.com/night-drive")])),
    ),
    "SC-FILE-COVER": (
        audio(lambda tmp: tagged_mp3(tmp, [apic("Cover (front)")])),
        audio(lambda tmp: tagged_mp3(tmp, [apic("Band photo")])),
    ),
    "SC-FILE-RAW-TRANSCODE": (
        audio(lambda tmp: mpeg_frames(16, 128)),
        audio(lambda tmp: tagged_mp3(tmp, [TIT2(encoding=3, text="Night Drive")])),
    ),
    "SC-ARCHIVE-AUDIO-CAPTURE": (cdx(WAYBACK), cdx({**WAYBACK, "statuscode": "403", "mimetype": "text/xml"})),
    "SC-ARCHIVE-DOWNLOADER-PAGE": (
        cdx(
            {
                "url": "https://sc2mp3.example/convert?url=https%3A%2F%2Fsoundcloud.com%2Fa%2Fb",
                "mime": "text/html",
                "status": "200",
            },
            "CC-MAIN-2026-21",
        ),
        cdx({"url": "https://blog.example/post?id=4", "mime": "text/html", "status": "200"}, "CC-MAIN-2026-21"),
    ),
    "SC-DATASET-LISTING": (dataset((FIXTURES / "s63_card.md").read_text()), dataset(CARD_ONE_LINK)),
    "SC-DATASET-YTDLP-INFOJSON": (
        dataset('{"id": "1234567890", "extractor": "soundcloud", "title": "Night Drive"}'),
        dataset('{"id": "dQw4w9WgXcQ", "extractor": "youtube", "webpage_url_domain": "youtube.com"}'),
    ),
    "SC-PRIVATE-TOKEN-EXPOSED": (
        page(link("https://soundcloud.com/another-producer/unreleased-demo/s-Xy12Ab")),
        page(link("https://soundcloud.com/another-producer/unreleased-demo")),
    ),
    "SC-PERMALINK": (
        page(link("https://soundcloud.com/example-artist/night-drive")),
        page(link("https://soundcloud.com/example-artist/sets") + link("https://soundcloud.com/discover/new")),
    ),
    "SC-URN": (
        script('const urn = "soundcloud:tracks:1234567890";'),
        script('const genre = "soundcloud:genres:electronic";'),
    ),
    "SC-SHORTLINK": (page(link("https://on.soundcloud.com/AbC123xyz")), page(link("https://on.example.com/AbC123xyz"))),
    "SC-ARTWORK-HOTLINK": (
        page(f'<img src="{ART}">'),
        page('<img src="https://a1.sndcdn.com/images/default_avatar_large.png">'),
    ),
    # The matcher's answer for a file (tests/audio and tests/exposure run the real decoder and matcher).
    "SC-AUDIO-MATCH": (
        lambda tmp: scan_audio_match(REUPLOAD, {"track": "1001", "score": 0.93, "offset_seconds": 40.0}),
        lambda tmp: scan_audio_match(REUPLOAD, None),
    ),
}


def test_every_signature_has_examples_and_resolvable_rule():
    assert {s.id for s in SIGNATURES} == set(EXAMPLES)
    assert sorted({s.number for s in SIGNATURES}) == list(range(1, 36))
    for s in SIGNATURES:
        assert (s.pattern is None) != (s.rule is None), s.id
        assert s.rule is None or s.rule in RULES, s.id
        assert s.severity in ("info", "low", "medium", "high", "critical")
        assert s.applies and s.explanation.strip() and s.family


@pytest.mark.parametrize("sig", sorted(EXAMPLES))
def test_positive(sig, tmp_path):
    matches = EXAMPLES[sig][0](tmp_path)
    found = [m for m in matches if m.signature == sig]
    assert found, f"{sig} did not fire: {sorted({m.signature for m in matches})}"
    m = found[0]
    assert m.family == BY_ID[sig].family and m.snippet and len(m.snippet) <= 300
    if BY_ID[sig].severity != "info":
        assert m.severity != "info", m


@pytest.mark.parametrize("sig", sorted(EXAMPLES))
def test_negative(sig, tmp_path):
    matches = EXAMPLES[sig][1](tmp_path)
    assert sig not in {m.signature for m in matches}, [m for m in matches if m.signature == sig]


def test_ogg_opus_raw_transcode_and_purl(tmp_path):
    run = audio(lambda tmp: ogg_opus([]))
    assert "SC-FILE-RAW-TRANSCODE" in {m.signature for m in run(tmp_path)}
    tagged = audio(lambda tmp: ogg_opus([("WWWAUDIOFILE", "https://soundcloud.com/example-artist/night-drive")]))
    got = {m.signature: m for m in tagged(tmp_path)}
    assert got["SC-FILE-PURL"].data["frame"] == "WWWAUDIOFILE"
    assert "SC-FILE-RAW-TRANSCODE" not in got


def test_audio_match_severity_follows_the_catalogue_row():
    tracks = [
        CatalogueTrack("1001", "soundcloud.com/a/one", title="One", artist="A", no_ai=True),
        CatalogueTrack("1002", "soundcloud.com/a/two", title="Two", artist="A"),
    ]
    cat = Catalogue()
    for t in tracks:
        cat.add(t)
    answer = {"track": "1001", "score": 0.91, "offset_seconds": 12.5, "matched_seconds": 16.0, "variant": ""}
    (protected,) = scan_audio_match(REUPLOAD, answer, cat)
    (plain,) = scan_audio_match(REUPLOAD, {**answer, "track": "1002"}, cat)
    (gone,) = scan_audio_match(REUPLOAD, {**answer, "track": "9999"}, cat)
    assert (protected.severity, plain.severity, gone.severity) == ("critical", "high", "high")
    assert protected.data["catalogue_track"]["title"] == "One" and protected.data["audio_match"]["score"] == 0.91
    assert "One by A" in protected.detail and "12.5 s" in protected.detail
    assert gone.data["catalogue_track"] == {"id": "9999"}
    assert scan_audio_match(REUPLOAD, {"track": None, "score": 0.2}, cat) == []
