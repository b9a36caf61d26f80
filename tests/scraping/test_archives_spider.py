"""The archives spider through the fake internet: Wayback CDX, Common Crawl and a dataset hub in their real formats,
pagination, politeness, and answers that are malformed, truncated, rate-limited, empty, looping or huge."""

from __future__ import annotations

import json

import pytest
from scraping_fakes import HITS, gaps, requested, service

from monitor.demo.archive_sites import DATASET, OTHER_DATASET
from monitor.probes.scraping import query_index
from monitor.runtime import reactor
from monitor.settings import CommonCrawlEndpoint, DatasetHubEndpoint, WaybackEndpoint
from spiders.archive_formats import decoded_body, parse_ndjson, parse_wayback, retry_after_seconds
from spiders.spiders.archives import parse_endpoint

WAYBACK = "http://web.archive.test"
BAD_CDX = "http://cdx-bad.test"


def wayback(**fields):
    return WaybackEndpoint(**{"enabled": True, "base_url": WAYBACK, "rate_limit_seconds": 0, **fields})


def query(net, endpoint, queries, **http):
    return reactor.run(query_index(service(net, **http), endpoint, queries))


def test_wayback_follows_resume_keys_to_the_end(net):
    pages = query(net, wayback(page_size=2), [{"url": "sndcdn.com", "match_type": "domain"}])
    assert [(p.kind, p.page, p.status, len(p.rows), p.stop) for p in pages] == [
        ("cdx", 0, 200, 2, None),
        ("cdx", 1, 200, 1, "complete"),
    ]
    first, second = pages
    assert first.resume_key and "resumeKey=" in second.url and "resumeKey=" not in first.url
    assert set(first.rows[0]) == {"urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length"}
    assert {r["original"].split("?")[0] for p in pages for r in p.rows} == {
        "https://cf-media.sndcdn.com/Ab3dEf6hIj9K.128.mp3",
        "https://cf-media.sndcdn.com/Zz9Yx8Wv7Ut6.128.mp3",
        "http://ec-media.sndcdn.com/Zz1Ab2Cd3Ef4.128.mp3",
    }
    assert "showResumeKey=true" in first.url and "output=json" in first.url and "gzip=false" in first.url


def test_wayback_filters_are_sent_in_its_syntax(net):
    q = {"url": "cf-media.sndcdn.com/", "match_type": "prefix", "filters": ["statuscode:200", "mimetype:audio/.*"]}
    (page,) = query(net, wayback(), [q])
    assert "filter=statuscode%3A200" in page.url and "filter=mimetype%3Aaudio%2F.%2A" in page.url
    assert [r["statuscode"] for r in page.rows] == ["200"] and page.stop == "complete"


def test_common_crawl_reads_collinfo_then_pages_of_each_crawl(net):
    endpoint = CommonCrawlEndpoint(enabled=True, base_url="http://index.commoncrawl.test", rate_limit_seconds=0)
    pages = query(net, endpoint, [{"url": "sc2mp3-fast.example", "match_type": "domain"}])
    assert [(p.kind, p.crawl, p.page, len(p.rows), p.stop) for p in pages] == [
        ("collinfo", None, 0, 2, "complete"),  # crawls: 2 of the 3 listed, newest first
        ("num_pages", "CC-MAIN-2026-21", 0, 0, None),
        ("cc_index", "CC-MAIN-2026-21", 0, 1, None),
        ("cc_index", "CC-MAIN-2026-21", 1, 1, "complete"),
        ("num_pages", "CC-MAIN-2026-17", 0, 0, None),
        ("cc_index", "CC-MAIN-2026-17", 0, 1, "complete"),
    ]
    assert pages[1].num_pages == 2 and "showNumPages=true" in pages[1].url and "page=1" in pages[3].url
    assert pages[2].rows[0]["mime-detected"] == "text/html" and pages[3].rows[0]["filename"].startswith("crawl-data/")


def test_dataset_hub_search_card_splits_and_rows(net):
    hub = DatasetHubEndpoint(
        enabled=True,
        base_url="http://huggingface.test",
        viewer_url="http://datasets-server.huggingface.test",
        rate_limit_seconds=0,
        rows_page_size=25,
        datasets=["someone/listed-by-hand"],
    )
    pages = query(net, hub, ["soundcloud"])
    kinds = [(p.kind, p.dataset, p.page, p.status, len(p.rows), p.total) for p in pages]
    assert kinds[0] == ("hub_search", None, 0, 200, 2, None)
    # Datasets named in the configuration come first, then the search's.
    assert [p.dataset for p in pages if p.kind == "dataset_card"] == ["someone/listed-by-hand", DATASET, OTHER_DATASET]
    rows = [k for k in kinds if k[0] == "rows" and k[1] == DATASET]
    assert rows == [
        ("rows", DATASET, 0, 200, 25, 60),
        ("rows", DATASET, 1, 200, 25, 60),
        ("rows", DATASET, 2, 200, 10, 60),
    ]
    card = next(p for p in pages if p.kind == "dataset_card" and p.dataset == DATASET)
    assert pages[-1].stop == "complete" and b"40,112 electronic music tracks" in card.body
    unknown = [p for p in pages if p.dataset == "someone/listed-by-hand"]
    assert [(p.kind, p.status, p.stop) for p in unknown] == [("dataset_card", 404, None), ("splits", 404, "error")]


def test_one_request_at_a_time_at_the_endpoints_rate(net):
    query(net, wayback(page_size=1, rate_limit_seconds=0.3), [{"url": "sndcdn.com", "match_type": "domain"}])
    spacing = gaps(net, "web.archive.test")
    assert len(spacing) == 2 and min(spacing) >= 0.28


def test_the_page_cap_bounds_a_run(net):
    queries = [{"url": "sndcdn.com", "match_type": "domain"}, {"url": "sc2mp3-fast.example", "match_type": "domain"}]
    pages = query(net, wayback(page_size=1, max_pages_per_run=2), queries)
    assert [(p.page, p.stop) for p in pages] == [(0, None), (1, "page_cap")]
    assert len(requested(net, "web.archive.test")) == 2


# --- bad input ------------------------------------------------------------------------------------------------


def bad(net, name, **fields):
    return query(net, wayback(base_url=BAD_CDX, **fields), [{"url": name, "match_type": "exact"}])


def test_malformed_json_is_recorded_and_ends_the_query(net):
    (page,) = bad(net, "malformed.example")
    assert (page.status, page.rows, page.stop) == (200, [], "error")
    assert page.parse_error.startswith("malformed JSON")
    (page,) = bad(net, "object.example")
    assert page.parse_error == "not a JSON array of arrays"


def test_gzip_that_is_not_gzip_is_recorded_and_real_gzip_is_read(net):
    (fake,) = bad(net, "notgzip.example")
    assert (fake.parse_error, fake.rows, fake.stop) == (
        "Content-Encoding says gzip, but the body is not gzip",
        [],
        "error",
    )
    (real,) = bad(net, "realgzip.example")
    assert (real.parse_error, len(real.rows), real.stop) == (None, 1, "complete")


def test_a_429_storm_is_retried_with_capped_waits_then_halts_the_run(net):
    queries = [{"url": "storm.example", "match_type": "exact"}, {"url": "fine.example", "match_type": "exact"}]
    endpoint = wayback(base_url=BAD_CDX, max_retries=2, max_retry_wait_seconds=0.2)
    (page,) = query(net, endpoint, queries)
    assert (page.status, page.attempts, page.retry_waits, page.stop) == (429, 3, [0.2, 0.2], "rate_limited")
    assert page.error_kind == "http_4xx" and page.rows == []
    assert HITS["storm.example"] == 3 and HITS["fine.example"] == 0  # the run stops asking


def test_retry_after_is_honoured(net):
    (page,) = bad(net, "retry.example")
    assert (page.status, page.attempts, page.retry_waits, len(page.rows)) == (200, 2, [1.0], 1)
    assert gaps(net, "cdx-bad.test")[0] >= 0.95


def test_a_503_is_retried_after_the_backoff(net):
    (page,) = bad(net, "unavailable.example", max_retry_wait_seconds=0.5)
    assert (page.status, page.attempts, page.retry_waits, len(page.rows)) == (200, 2, [0.5], 1)


@pytest.mark.parametrize("name", ["empty.example", "emptybody.example"])
def test_empty_results(net, name):
    (page,) = bad(net, name)
    assert (page.status, page.rows, page.parse_error, page.stop) == (200, [], None, "complete")


def test_a_resume_key_that_comes_back_is_a_loop(net):
    pages = bad(net, "loop.example")
    assert [(p.page, len(p.rows), p.stop) for p in pages] == [(0, 1, None), (1, 1, "loop")]
    assert HITS["loop.example"] == 2


def test_a_huge_answer_is_cut_at_the_cap(net):
    (page,) = query(net, wayback(base_url=BAD_CDX), [{"url": "huge.example"}], max_response_bytes=1_048_576)
    assert (page.truncated, len(page.body), page.error_kind) == (True, 1_048_576, "too_large")
    assert page.parse_error.startswith("malformed JSON") and page.rows == []


def test_truncated_ndjson_keeps_the_whole_lines(net):
    endpoint = CommonCrawlEndpoint(enabled=True, base_url="http://cc-bad.test", rate_limit_seconds=0, crawls=1)
    pages = query(net, endpoint, [{"url": "truncated.example"}])
    index = pages[-1]
    assert (index.kind, len(index.rows), index.bad_lines, index.stop) == ("cc_index", 1, 1, "complete")


def test_common_crawl_pages_that_repeat_are_a_loop(net):
    endpoint = CommonCrawlEndpoint(enabled=True, base_url="http://cc-bad.test", rate_limit_seconds=0, crawls=1)
    pages = query(net, endpoint, [{"url": "loop.example"}])
    assert [(p.kind, p.page, p.stop) for p in pages] == [
        ("collinfo", 0, "complete"),
        ("num_pages", 0, None),
        ("cc_index", 0, None),
        ("cc_index", 1, "loop"),
    ]
    assert pages[1].num_pages == 50 and HITS["cc:loop.example"] == 3


def test_common_crawl_no_captures_is_empty_not_an_error(net):
    endpoint = CommonCrawlEndpoint(enabled=True, base_url="http://cc-bad.test", rate_limit_seconds=0, crawls=1)
    pages = query(net, endpoint, [{"url": "nothing.example"}, {"url": "unknown.example"}])
    assert [(p.kind, p.status, p.error_kind, p.stop) for p in pages[1:]] == [
        ("num_pages", 200, None, "complete"),
        ("num_pages", 200, None, None),
        ("cc_index", 404, None, "complete"),
    ]


def test_a_garbage_collinfo_ends_the_run(net):
    endpoint = CommonCrawlEndpoint(enabled=True, base_url="http://cc-garbage.test", rate_limit_seconds=0)
    (page,) = query(net, endpoint, [{"url": "a.example"}])
    assert page.parse_error.startswith("malformed JSON") and page.stop == "error"


def test_dataset_rows_that_repeat_are_a_loop_and_broken_search_is_recorded(net):
    hub = DatasetHubEndpoint(
        enabled=True, base_url="http://hub-bad.test", viewer_url="http://viewer-bad.test", rate_limit_seconds=0
    )
    pages = query(net, hub, ["broken", "looping"])
    assert pages[0].parse_error.startswith("malformed JSON")
    rows = [p for p in pages if p.kind == "rows"]
    assert [(p.page, p.total, p.stop) for p in rows] == [(0, 1000, None), (1, 1000, "loop")]


# --- formats, offline -------------------------------------------------------------------------------------------


def test_wire_format_readers():
    rows, key, error = parse_wayback(json.dumps([["a", "b"], ["1", "2"], [], ["k%20"]]).encode())
    assert (rows, key, error) == ([{"a": "1", "b": "2"}], "k%20", None)
    assert parse_ndjson(b'{"a": 1}\n\n{"b": \n[1]\n') == ([{"a": 1}], 2)
    assert retry_after_seconds("120") == 120.0 and retry_after_seconds("soon") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert decoded_body(b"\x1f\x8b\x08garbage", {}, 100)[1].startswith("corrupt gzip")
    with pytest.raises(ValueError, match="unknown endpoint keys"):
        parse_endpoint({"kind": "wayback", "source": "w", "base_url": "http://x", "bogus": 1})
    with pytest.raises(ValueError, match="viewer_url"):
        parse_endpoint({"kind": "dataset_hub", "source": "h", "base_url": "http://x"})
