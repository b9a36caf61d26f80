"""#29 on any crawled page: dataset cards, CSV/JSONL listings and corpus READMEs are listings; playlists, charts,
tracklists, discographies and widget pages list as many tracks and stay below incident level."""

from __future__ import annotations

import listing_pages as pages
import pytest
from sig_helpers import NOW, PAGE, scan_html

from monitor.signatures import Resource, scan_page
from monitor.signatures.datasets import MIN_PAGE_LISTING, page_listing, vocabulary
from monitor.signatures.model import severity_rank

LISTING = "SC-DATASET-LISTING"


def scan_body(body: str, content_type: str, url: str = "https://files.example/sc-corpus/listing"):
    return scan_page(url, [Resource(url, "page", 200, content_type, body.encode())], now=NOW)


def listing(matches):
    found = [m for m in matches if m.signature == LISTING]
    return found[0] if found else None


def test_dataset_card_on_an_ordinary_site_is_a_listing_with_its_count():
    m = listing(scan_html(pages.dataset_card()))
    assert m is not None and severity_rank(m.severity) >= severity_rank("high")
    assert m.data["permalinks"] == 40 and m.data["track_count"] == 40
    assert m.data["audio_present"] is True and m.data["on_page"] is True
    assert {"audio", "collection"} <= set(m.data["vocabulary"])
    assert m.url == PAGE and m.family == "dataset"


@pytest.mark.parametrize(
    ("body", "content_type", "why"),
    [
        (pages.csv_listing(), "text/csv", "record_rows"),
        (pages.jsonl_listing(), "application/x-ndjson", "record_rows"),
        (pages.corpus_readme(), "text/markdown", "heading_vocabulary"),
    ],
    ids=["csv", "jsonl", "readme"],
)
def test_structured_listings_and_corpus_readmes_are_listings(body, content_type, why):
    m = listing(scan_body(body, content_type))
    assert m is not None and m.severity == "high", content_type
    assert m.data["track_count"] == 40 and m.data[why]


@pytest.mark.parametrize(
    "body",
    [
        pages.playlist_blog(),
        pages.chart_page(),
        pages.tracklist(),
        pages.discography(),
        pages.widget_page(),
        pages.article_about_datasets(),
    ],
    ids=["playlist-blog", "chart", "dj-tracklist", "discography", "widget-embeds", "article-few-tracks"],
)
def test_pages_that_list_tracks_for_listening_stay_below_incident_level(body):
    matches = scan_html(body)
    assert listing(matches) is None
    assert all(severity_rank(m.severity) < severity_rank("low") for m in matches)


def test_the_threshold_is_distinct_tracks_not_repeated_links():
    card = pages.dataset_card(MIN_PAGE_LISTING - 1)
    assert listing(scan_html(card)) is None
    assert listing(scan_html(pages.dataset_card(MIN_PAGE_LISTING))) is not None
    doubled = card.replace("</table>", pages._rows(pages.permalinks(MIN_PAGE_LISTING - 1)) + "</table>")
    assert listing(scan_html(doubled)) is None  # the same 19 tracks twice are still 19


def test_a_thousand_tracks_is_bulk_redistribution():
    m = listing(scan_body(pages.csv_listing(1000), "text/csv"))
    assert m is not None and m.severity == "critical"


def test_a_dataset_card_on_a_code_host_goes_to_the_tooling_queue():
    m = listing(scan_html(pages.dataset_card(), url="https://github.com/someone/sc-corpus"))
    assert m is not None and m.severity == "info" and m.data["suppressed"] == "tooling"


def test_page_listing_is_a_pure_function_of_its_inputs():
    from monitor.signatures import SIGNATURES

    sig = next(s for s in SIGNATURES if s.id == LISTING)
    body = pages.csv_listing()
    first = page_listing(sig, "https://x.example/l.csv", body, body, "", html=False)
    assert first == page_listing(sig, "https://x.example/l.csv", body, body, "", html=False)
    assert page_listing(sig, "https://x.example/l.csv", body, "", "", html=True) == []  # html needs words
    assert page_listing(sig, "u", None, "", "", html=False) == []  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("A dataset of tracks collected from SoundCloud; audio is included", {"dataset", "collection", "audio"}),
        ("train/test split in Parquet on Hugging Face", {"training", "format"}),
        ("my playlist, a collection of late-night tracks", set()),
        ("Top 50 this week: the most played tracks", set()),
    ],
)
def test_vocabulary_kinds(text, kinds):
    assert set(vocabulary(text)) == kinds
