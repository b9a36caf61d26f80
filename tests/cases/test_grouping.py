"""Pure case grouping: offender domains per incident kind, operator links with their negatives, merge planning."""

from __future__ import annotations

import pytest

from monitor.cases.grouping import (
    Link,
    Merge,
    is_case_kind,
    is_placeholder_client_id,
    offender,
    operator_links,
    plan_merges,
    registrable,
)
from monitor.incidents import Evidence

CID = "Zq8xLm3Np7Rt2Vw9Yb4Cd6Ef1Gh5Jk0M"
OTHER_CID = "Hq2Rt8Yp4Lm6Nb0Vc3Xz7Kj1Gf5Ds9AB"


def ev(url: str, body: str | None = None, body_type: str = "text/html", **data) -> Evidence:
    return Evidence("k", url, url, "SC-X", "high", body=body.encode() if body is not None else None,
                    body_type=body_type, data=data)  # fmt: skip


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("www.shop.example.co.uk", "example.co.uk"),
        ("https://cdn.sc2mp3.com/a.mp3", "sc2mp3.com"),
        ("sc2mp3-fast.example", "sc2mp3-fast.example"),  # no public suffix: the last two labels
        ("a.b.dl.test", "dl.test"),
        ("alice.github.io", "alice.github.io"),  # a private suffix: each user is their own offender
        ("d111abcdef8.cloudfront.net", "d111abcdef8.cloudfront.net"),
        ("203.0.113.9", "203.0.113.9"),
        ("", ""),
    ],
)
def test_registrable_domain(host, expected):
    assert registrable(host) == expected


@pytest.mark.parametrize(
    ("kind", "domain", "data", "expected"),
    [
        ("exposure_downloader", "sc2mp3-fast.example", {"site": "sc2mp3-fast.example"}, "sc2mp3-fast.example"),
        ("exposure_proxy", "player.scrip.co.uk", {"site": "player.scrip.co.uk"}, "scrip.co.uk"),
        ("canary_delivered", "www.rip-canary.example", {"service": "rip-canary"}, "rip-canary.example"),
        ("canary_unknown_audio", "dl.ripper.com", {}, "ripper.com"),
        ("archive_downloader_page", "sc2mp3-fast.example", {}, "sc2mp3-fast.example"),
        ("dataset_listing", "huggingface.co", {"dataset": "NightBeats/nb-40k"}, "huggingface.co/nightbeats"),
        ("dataset_listing", "huggingface.co", {"dataset": "squad"}, "huggingface.co/squad"),
        ("dataset_listing", "huggingface.co", {}, None),
        ("policy_regression", "soundcloud.com", {}, None),
        ("policy_file_changed", "soundcloud.com", {}, None),
        ("probe_health", "sc2mp3-fast.example", {"job": "watch:x"}, None),
        ("exposure_downloader", "sc2mp3-fast.example", {"storm": True}, None),  # a storm summary: no member
        ("exposure_mirror", "m.soundcloud.com", {}, None),  # SoundCloud is never the offender
    ],
)
def test_offender_per_kind(kind, domain, data, expected):
    assert offender(kind, domain, data) == expected


def test_archive_capture_belongs_to_the_captured_site_not_the_archive():
    captures = [
        {"url": "https://sc2mp3-fast.example/tmp/soundcloud-1.mp3", "timestamp": "20260518"},
        {"url": "http://rip.example/file/soundcloud-1.mp3", "timestamp": "20260519"},
        {"url": "https://www.sc2mp3-fast.example/tmp/soundcloud-2.mp3", "timestamp": "20260101"},
    ]
    assert offender("archive_audio_capture", "index.commoncrawl.org", {"captures": captures}) == "sc2mp3-fast.example"
    tie = captures[:2]  # one each: the latest capture decides
    assert offender("archive_audio_capture", "index.commoncrawl.org", {"captures": tie}) == "rip.example"
    # Captures of SoundCloud's own CDN: only the archive serves those copies, so it is the offender.
    own = [{"url": "https://cf-media.sndcdn.com/Ab3dEf6hIj9K.128.mp3", "timestamp": "2025"}]
    assert offender("archive_audio_capture", "web.archive.org", {"captures": own}) == "archive.org"


def test_case_kinds():
    assert is_case_kind("exposure_cdn_media") and is_case_kind("dataset_listing")
    assert not is_case_kind("probe_health") and not is_case_kind("policy_breach")


def test_client_id_in_third_party_script_links():
    links = operator_links("a.example", "exposure_api_scraper", {}, [ev("https://a.example/app.js", client_id=CID)])
    assert links == [Link("client_id", CID, "a.example")]
    body = f'fetch("https://api-v2.soundcloud.com/resolve?url="+u+"&client_id={OTHER_CID}")'
    found = operator_links(
        "a.example", "exposure_api_scraper", {}, [ev("https://a.example/x.js", body, "text/javascript")]
    )
    assert found == [Link("client_id", OTHER_CID, "a.example")]


def test_client_id_without_api_context_or_from_soundcloud_itself_does_not_link():
    spotify = f'const client_id = "{OTHER_CID}"; fetch("https://api.spotify.com/v1/")'
    assert operator_links("a.example", "exposure_x", {}, [ev("https://a.example/s.js", spotify)]) == []
    # SoundCloud's widget uses its own public id: seen from a SoundCloud origin, it never links anyone.
    widget = [ev("https://w.soundcloud.com/player/api.js", client_id=CID), ev("https://a.example/", client_id=CID)]
    assert operator_links("a.example", "exposure_x", {}, widget) == []


@pytest.mark.parametrize(
    "value", ["x" * 32, "0" * 32, "YOURCLIENTIDHEREYOURCLIENTIDHERE", "0123456789abcdefghijklmnopqrstuv",
              "abcdefabcdefabcdefabcdefabcdef12"],
)  # fmt: skip
def test_placeholder_client_ids_do_not_link(value):
    assert is_placeholder_client_id(value)
    assert operator_links("a.example", "exposure_x", {}, [ev("https://a.example/", client_id=value)]) == []


def test_real_client_ids_are_not_placeholders_and_ignored_ids_do_not_link():
    assert not is_placeholder_client_id(CID) and not is_placeholder_client_id(OTHER_CID)
    assert operator_links("a.example", "exposure_x", {}, [ev("https://a.example/", client_id=CID)], [CID.lower()]) == []


def test_analytics_ids_in_the_sites_own_bodies():
    page = '<script>gtag("config","G-7QK2M4XZ9B");ga("create","UA-48291-7")</script>' \
           '<ins data-ad-client="ca-pub-4839201746352819"></ins><!-- GTM-K9X2P4Q -->'  # fmt: skip
    links = operator_links("a.example", "exposure_x", {}, [ev("https://www.a.example/", page)])
    assert [(k.kind, k.value) for k in links] == [
        ("analytics_id", "G-7QK2M4XZ9B"), ("analytics_id", "GTM-K9X2P4Q"), ("analytics_id", "UA-48291-7"),
        ("analytics_id", "ca-pub-4839201746352819"),
    ]  # fmt: skip


def test_analytics_negatives():
    # Documentation placeholders, audio bytes, and another site's page carry nothing about this operator.
    docs = '<script>ga("create","UA-12345678-1"); gtag("G-XXXXXXXXXX"); "ca-pub-0000000000000000"</script>'
    assert operator_links("a.example", "exposure_x", {}, [ev("https://a.example/", docs)]) == []
    audio = ev("https://a.example/f.mp3", "UA-48291-7 G-7QK2M4XZ9B", "audio/mpeg")
    assert operator_links("a.example", "exposure_x", {}, [audio]) == []
    other = ev("https://b.example/", 'gtag("config","G-7QK2M4XZ9B")')
    assert [k.kind for k in operator_links("a.example", "exposure_x", {}, [other])] == ["relay_host"]


def test_relay_hosts_of_downloaders_and_what_never_relays():
    data = {"downloads": [{"url": "https://dl3.relay-net.example/get/track.mp3"}, {"url": "https://a.example/x"}]}
    assert operator_links("a.example", "canary_delivered", data, []) == [
        Link("relay_host", "relay-net.example", "a.example")
    ]
    shared = {"downloads": [
        {"url": "https://cdnjs.cloudflare.com/ajax/libs/x.js"}, {"url": "https://d111.cloudfront.net/a.mp3"},
        {"url": "https://cf-media.sndcdn.com/Ab3d.128.mp3"}, {"url": "https://storage.googleapis.com/b/a.mp3"},
        {"url": "http://203.0.113.7/a.mp3"},
    ]}  # fmt: skip
    assert operator_links("a.example", "canary_delivered", shared, []) == []
    assert (
        operator_links("huggingface.co/alice", "dataset_listing", {}, [ev("https://x.example/", client_id=CID)]) == []
    )


def test_merge_plan_joins_sharing_cases_into_the_oldest():
    case_of = {"a.example": 1, "b.example": 2, "c.example": 3, "d.example": 4}
    ga = "G-7QK2M4XZ9B"
    links = [Link("client_id", CID, "b.example"), Link("client_id", CID, "c.example"),
             Link("analytics_id", ga, "c.example"), Link("analytics_id", ga, "a.example")]  # fmt: skip
    merges = plan_merges(case_of, links)
    assert [(m.source, m.into) for m in merges] == [(3, 1), (2, 1)]
    assert merges[0].link.kind == "analytics_id" and merges[1].link == Link("client_id", CID, "b.example")


def test_merge_plan_negatives():
    case_of = {"a.example": 1, "b.example": 2}
    # One domain only, values that differ, a link on an unknown domain: nothing merges.
    assert plan_merges(case_of, [Link("client_id", CID, "a.example"), Link("client_id", OTHER_CID, "b.example")]) == []
    assert plan_merges(case_of, [Link("client_id", CID, "a.example"), Link("client_id", CID, "zz.example")]) == []
    # A value on more domains than the limit is public, not an operator's.
    many = {f"s{i}.example": i + 1 for i in range(6)}
    assert plan_merges(many, [Link("client_id", CID, d) for d in many], max_domains=5) == []
    assert len(plan_merges(many, [Link("client_id", CID, d) for d in many], max_domains=6)) == 5


def test_relay_host_that_is_itself_a_case_links_it():
    case_of = {"relay-net.example": 1, "a.example": 2}
    assert plan_merges(case_of, [Link("relay_host", "relay-net.example", "a.example")]) == [
        Merge(2, 1, Link("relay_host", "relay-net.example", "a.example"))
    ]


def test_archive_evidence_of_several_sites_links_none_of_them():
    captures = [ev("https://sc2mp3-fast.example/tmp/a.mp3"), ev("http://rip.example/file/a.mp3")]
    assert operator_links("rip.example", "archive_audio_capture", {}, captures) == []
