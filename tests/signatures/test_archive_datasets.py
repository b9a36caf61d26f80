"""§6.3 dataset card and rows, §6.4 CDX rows: scan_dataset_text, scan_cdx_row and cdx_rows."""

from __future__ import annotations

import pytest
from sig_helpers import FIXTURES, by_id

from monitor.signatures import cdx_rows, scan_cdx_row, scan_dataset_text

CARD_URL = "https://huggingface.co/datasets/someone/nightbeats-40k/raw/main/README.md"


def test_dataset_card_with_a_viewer_row():
    text = (FIXTURES / "s63_card.md").read_text() + "\n" + (FIXTURES / "s63_row.json").read_text()
    matches = scan_dataset_text(CARD_URL, text)
    listing = by_id(matches, "SC-DATASET-LISTING")
    assert listing.severity == "critical" and listing.url == CARD_URL
    d = listing.data
    assert d["audio_present"] and d["all_rights_reserved"] >= 2 and d["secret_tokens"] == 1
    assert d["permalinks"] == 3 and d["urns"] == 1 and d["declared_tracks"] == 40112
    assert {"sc_track_id", "permalink_url"} <= set(d["columns"])
    assert any("crawled from" in p for p in d["phrases"])
    assert {"permalink": "https://soundcloud.com/example-artist/night-drive"} in d["tracks"]
    secret = by_id(matches, "SC-PRIVATE-TOKEN-EXPOSED")
    assert secret.severity == "high" and secret.track.secret_token == "s-Xy12Ab"
    assert by_id(matches, "SC-DATASET-YTDLP-INFOJSON").severity == "high"


def test_card_alone_is_critical_without_the_row():
    listing = by_id(scan_dataset_text(CARD_URL, (FIXTURES / "s63_card.md").read_text()), "SC-DATASET-LISTING")
    assert listing.severity == "critical"


def test_listing_threshold_and_bulk():
    links = [f"https://soundcloud.com/user{i}/track-{i}" for i in range(25)]
    assert "SC-DATASET-LISTING" not in {m.signature for m in scan_dataset_text("u", "\n".join(links[:19]))}
    high = by_id(scan_dataset_text("u", "\n".join(links)), "SC-DATASET-LISTING")
    assert high.severity == "high" and high.data["permalinks"] == 25
    assert by_id(scan_dataset_text("u", "\n".join(links[:5]), min_listing=5), "SC-DATASET-LISTING")
    bulk = "\n".join(f'{{"urn": "soundcloud:tracks:{1000000 + i}"}}' for i in range(1000))
    assert by_id(scan_dataset_text("u", bulk), "SC-DATASET-LISTING").severity == "critical"


def test_audio_without_all_rights_reserved_stays_high():
    rows = "\n".join(f"https://soundcloud.com/cc{i}/loop-{i},cc-by,audio/{i}.opus" for i in range(30))
    listing = by_id(scan_dataset_text("u", "permalink_url,license,audio\n" + rows), "SC-DATASET-LISTING")
    assert listing.severity == "high" and listing.data["audio_present"] and listing.data["all_rights_reserved"] == 0


def test_generic_columns_alone_are_not_a_soundcloud_dataset():
    text = "| urn | permalink_url | title |\n|---|---|---|\n| isbn:123 | https://example.com/a | A |\n"
    assert scan_dataset_text("u", text) == []


def test_wayback_rows():
    rows = cdx_rows((FIXTURES / "s64_wayback.json").read_text())
    assert len(rows) == 3 and rows[0]["statuscode"] == "200"
    first, forbidden, legacy = (scan_cdx_row(r, source="wayback") for r in rows)
    capture = by_id(first, "SC-ARCHIVE-AUDIO-CAPTURE")
    assert capture.severity == "critical" and capture.data["replay_url"].startswith("https://web.archive.org/web/")
    assert capture.track.media_token == "Ab3dEf6hIj9K"
    assert "SC-ARCHIVE-AUDIO-CAPTURE" not in {m.signature for m in forbidden}
    assert by_id(forbidden, "SC-CDN-PROGRESSIVE").severity == "low"
    assert by_id(legacy, "SC-CDN-LEGACY").severity == "high"
    assert by_id(legacy, "SC-ARCHIVE-AUDIO-CAPTURE").data["matched"] == ["SC-CDN-LEGACY"]


def test_wayback_header_row_and_junk_are_ignored():
    header = dict.fromkeys(["urlkey", "timestamp", "original", "mimetype", "statuscode"], "")
    header.update(original="original", mimetype="mimetype")
    assert scan_cdx_row(header, source="wayback") == []
    assert scan_cdx_row({}, source="wayback") == []
    assert scan_cdx_row({"original": 5, "statuscode": None}, source="wayback") == []  # type: ignore[dict-item]
    assert cdx_rows("not json\n[1,2]\n") == [] and cdx_rows("[[") == [] and cdx_rows(b"") == []


def test_common_crawl_rows():
    rows = cdx_rows((FIXTURES / "s64_commoncrawl.ndjson").read_text())
    convert, stored = (scan_cdx_row(r, source="CC-MAIN-2026-21") for r in rows)
    page = by_id(convert, "SC-ARCHIVE-DOWNLOADER-PAGE")
    assert page.severity == "low" and page.data["timestamp"] == "20260518043312"
    capture = by_id(stored, "SC-ARCHIVE-AUDIO-CAPTURE")
    assert capture.severity == "critical" and capture.data["matched"] == ["SC-DL-FILENAME"]
    assert capture.track.track_id == "1234567890"


@pytest.mark.parametrize("source", ["private-archive", "wayback"])
def test_replayability_decides_critical(source):
    row = {"url": "https://cf-media.sndcdn.com/Ab3dEf6hIj9K.128.mp3", "mime": "audio/mpeg", "status": "200"}
    capture = by_id(scan_cdx_row(row, source=source), "SC-ARCHIVE-AUDIO-CAPTURE")
    assert capture.severity == ("critical" if source == "wayback" else "high")


def test_m3u8_capture_counts_as_audio():
    url = "https://cf-hls-media.sndcdn.com/playlist/Ab3dEf6hIj9K.128.mp3/playlist.m3u8"
    row = {"original": url, "mimetype": "application/vnd.apple.mpegurl", "statuscode": "200"}
    assert by_id(scan_cdx_row(row, source="wayback"), "SC-ARCHIVE-AUDIO-CAPTURE")
