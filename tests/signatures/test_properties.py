"""Property tests: the engine and the normaliser never raise on arbitrary input and are deterministic."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sig_helpers import NOW, PAGE

from monitor.signatures import NetworkRequest, Resource, read_tags, scan_cdx_row, scan_dataset_text, scan_page
from monitor.signatures.normalise import (
    canonical_url,
    decode_policy,
    header_urls,
    m3u8_urls,
    signed_info,
    unwrap,
    urls_in_text,
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Text that looks enough like the real thing to reach deep code paths, mixed with anything at all.
FRAGMENTS = st.sampled_from(
    ["<a href=\"", "\">", "<script>", "</script>", "<!--", "-->", "https://", "cf-media.sndcdn.com/", "Ab3dEf6hIj9K",
     ".128.mp3", "?Policy=", "eyJTdGF0ZW1lbnQiOlt7", "&Signature=x", "%3A%2F%2F", "\\/", "\\u002F", "soundcloud.com/",
     "s-Xy12Ab", "secret_token=", "client_id:\"", "api-v2.soundcloud.com", "#EXTM3U\n", "#EXT-X-MAP:URI=\"", "\n",
     "url=", "&", "/_/proxy/hls/a/b", "w.soundcloud.com/player/?url=", "download", "<input placeholder=\"",
     "soundcloud:tracks:", "transcodings", "__sc_hydration", "320 kbps", "<form>", "\x00", "\ufffd", "<![CDATA["]
)  # fmt: skip
TEXT = st.one_of(st.text(max_size=400), st.lists(st.one_of(FRAGMENTS, st.text(max_size=12)), max_size=60).map("".join))
BODY = st.one_of(st.binary(max_size=600), TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")))
KIND = st.sampled_from(["page", "script", "playlist", "audio", "other", "weird"])
HEADERS = st.dictionaries(
    st.sampled_from(["location", "link", "content-disposition", "refresh", "content-type"]),
    st.lists(TEXT, max_size=2),
    max_size=3,
)
RESOURCE = st.builds(
    Resource,
    url=st.one_of(TEXT, st.just(PAGE)),
    kind=KIND,
    status=st.one_of(st.none(), st.integers(0, 999)),
    content_type=st.sampled_from(["", "text/html", "audio/mpeg", "application/json", "application/vnd.apple.mpegurl"]),
    body=BODY,
    headers=HEADERS,
    frame_url=st.one_of(st.none(), TEXT, st.just("https://w.soundcloud.com/player/?url=x")),
)
REQUEST = st.builds(
    NetworkRequest,
    url=TEXT,
    frame_url=st.one_of(TEXT, st.just("https://w.soundcloud.com/player/")),
    is_main_frame=st.booleans(),
    content_type=st.sampled_from(["", "audio/mpeg", "text/html"]),
    headers=HEADERS,
)


@SETTINGS
@given(
    page=st.one_of(TEXT, st.just(PAGE)),
    resources=st.lists(RESOURCE, max_size=4),
    requests=st.lists(REQUEST, max_size=4),
)
def test_scan_page_never_raises_and_is_deterministic(page, resources, requests):
    first = scan_page(page, resources, requests, now=NOW)
    assert first == scan_page(page, resources, requests, now=NOW)
    for m in first:
        assert m.severity in ("info", "low", "medium", "high", "critical") and len(m.snippet) <= 300
        assert "_key" not in m.data


@SETTINGS
@given(text=TEXT, base=st.one_of(st.none(), TEXT))
def test_normalise_never_raises_and_is_deterministic(text, base):
    results = (
        urls_in_text(text, base),
        [unwrap(u) for u in urls_in_text(text, base)],
        m3u8_urls(text, base),
        list(header_urls({"location": [text], "link": [text], "content-disposition": [text]}, base)),
        decode_policy(text),
        signed_info(text),
        unwrap(text),
        canonical_url(text),
    )
    assert results == (
        urls_in_text(text, base),
        [unwrap(u) for u in urls_in_text(text, base)],
        m3u8_urls(text, base),
        list(header_urls({"location": [text], "link": [text], "content-disposition": [text]}, base)),
        decode_policy(text),
        signed_info(text),
        unwrap(text),
        canonical_url(text),
    )


@SETTINGS
@given(
    text=TEXT,
    row=st.dictionaries(st.sampled_from(["original", "url", "mimetype", "mime", "statuscode", "status"]), TEXT),
)
def test_dataset_and_cdx_never_raise(text, row):
    assert scan_dataset_text(text, text) == scan_dataset_text(text, text)
    assert scan_cdx_row(row, source=text) == scan_cdx_row(row, source=text)


@SETTINGS
@given(
    head=st.one_of(
        st.binary(max_size=2000),
        st.sampled_from([b"ID3", b"OggS", b"fLaC", b"\x00\x00\x00\x18ftyp"]).flatmap(
            lambda magic: st.binary(max_size=800).map(lambda rest: magic + rest)
        ),
    )
)
def test_read_tags_never_raises(head):
    assert read_tags(head) == read_tags(head)
