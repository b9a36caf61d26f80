"""monitor.scraping, offline: canary delivery and recipe health, archive captures, dataset listings, and the
cross-run rule that only new captures or growing counts raise or update incidents."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.audio.model import AudioMatch, AudioResult
from monitor.demo.exposure_media import PERMALINK, mp3_frames, signed_progressive_url, tagged_reupload
from monitor.demo.scraping_config import demo_catalogue_path
from monitor.evaluators.archives import archive_candidates
from monitor.evaluators.canary import error_page, evaluate_canary
from monitor.evaluators.datasets import dataset_candidates
from monitor.evaluators.scraping import api_errors, new_or_grown, sha256
from monitor.signatures import Catalogue, load_catalogue
from spiders.archive_formats import parse_ndjson, parse_wayback
from spiders.scraping_items import ArchivePage, CanaryFetch

FIXTURES = Path(__file__).parent.parent / "signatures" / "fixtures"
NOW = datetime(2026, 6, 1, tzinfo=UTC)
CATALOGUE = load_catalogue(demo_catalogue_path())
CANARY = CATALOGUE.by_id["1234567890"]
HTML = "text/html; charset=utf-8"
RESULT = (
    f'<html><head><title>Night Drive</title></head><body><form action="/rip" method="post">'
    f'<input name="url" placeholder="SoundCloud link"></form><div class="result"><h2>Night Drive</h2>'
    f'<a download="x.mp3" href="{signed_progressive_url().replace("&", "&amp;")}">MP3</a></div></body></html>'
).encode()


def fetch(step, body=b"", status=200, ctype=HTML, **kw) -> CanaryFetch:
    url = kw.pop("url", f"http://dl.example/{step}")
    kw.setdefault("headers", {"content-type": [ctype]} if ctype else {})
    return CanaryFetch(
        "dl", PERMALINK, step, url, final_url=url, status=status, content_type=ctype, body=body, size=len(body), **kw
    )


def canary(items, kind="form"):
    return evaluate_canary("dl", kind, CANARY, items, CATALOGUE, NOW)


def test_a_live_signed_url_for_the_canary_is_a_critical_delivery():
    tagged = tagged_reupload()[:65536]
    download = fetch(
        "download",
        tagged,
        ctype="audio/mpeg",
        truncated=True,
        found_on="http://dl.example/submit",
        headers={
            "content-type": ["audio/mpeg"],
            "content-length": ["303000"],
            "content-disposition": ['attachment; filename="Night Drive (soundcloud).mp3"'],
        },
    )
    items = [fetch("form", b"<form></form>"), fetch("submit", RESULT, method="POST", request_body=b"url=x"), download]
    result = canary(items)
    assert result.outcome == "delivered"
    (finding,) = result.findings
    assert (finding.dedupe_key, finding.kind, finding.severity) == (
        "canary:dl:1234567890",
        "canary_delivered",
        "critical",
    )
    data = finding.data
    assert data["media_urls"][0]["resource"] == "*://cf-media.sndcdn.com/Ab3dEf6hIj9K.128.mp3*"
    assert data["media_urls"][0]["live"] is True and data["media_urls"][0]["expires_at"].startswith("2100-01-01")
    assert (data["content_type"], data["bytes"], data["sha256"]) == ("audio/mpeg", 65536, sha256(tagged))
    assert data["filename"] == "Night Drive (soundcloud).mp3" and data["tags"]["WOAF"] == PERMALINK
    assert {"SC-CDN-PROGRESSIVE", "SC-SIGNED-POLICY", "SC-FILE-PURL"} <= set(data["signatures"])
    assert data["submitted"] == {"method": "POST", "url": "http://dl.example/submit", "body": "url=x"}
    assert result.cleared == ["canary_recipe_broken:dl", "canary_unknown:dl:1234567890"]
    # Evidence: the submission (request body, headers, response) and the file head, hashed.
    assert [e.data["step"] for e in result.evidence] == ["submit", "download"]
    assert result.evidence[0].data["request_body"] == "url=x" and result.evidence[1].body == tagged


def test_untagged_audio_for_a_result_naming_the_canary_is_a_delivery():
    page = f'<html><body><div class="result"><a href="{PERMALINK}">Night Drive</a></div></body></html>'.encode()
    items = [fetch("submit", page), fetch("download", mp3_frames(2.0), ctype="audio/mpeg")]
    assert canary(items).outcome == "delivered"
    # The same audio for a result that never names the canary proves nothing about the canary.
    items = [
        fetch("submit", b"<html><body>here is a file</body></html>"),
        fetch("download", mp3_frames(2.0), ctype="audio/mpeg"),
    ]
    assert canary(items).outcome == "not_delivered"


@pytest.mark.parametrize(
    ("items", "kind", "reason"),
    [
        (
            [fetch("form", b"<p>moved</p>", recipe_problem="no form with a field named 'url' on the page")],
            "form",
            "no form with a field named 'url'",
        ),
        (
            [fetch("form", b"<form></form>"), fetch("submit", b"busy", status=503, error_kind="http_5xx")],
            "form",
            "submit answered HTTP 503",
        ),
        (
            [fetch("form", status=None, ctype=None, error_kind="timeout", error_detail="TimeoutError: 30 s")],
            "form",
            "form request failed: timeout",
        ),
        (
            [fetch("submit", b"<html><body><p>a new layout</p></body></html>", result_found=False)],
            "form",
            "lacks the recipe's result_selector",
        ),
        ([fetch("api", b"<html><body>Bad gateway</body></html>")], "api", "HTML page with status 200 instead of"),
        (
            [fetch("browser", b"", recipe_problem="browser step 2 (click '#go') failed: timeout", failed_step=1)],
            "browser",
            "browser step 2",
        ),
        (
            [fetch("submit", b"<html><body><h2>Something went wrong.</h2><p>Please try again.</p></body></html>")],
            "form",
            "HTML error page with status 200: 'Something went wrong",
        ),
    ],
)
def test_a_recipe_that_stops_working_is_probe_health_never_silence(items, kind, reason):
    result = canary(items, kind)
    assert result.outcome == "recipe_broken" and reason in result.reason
    (finding,) = result.findings
    assert (finding.dedupe_key, finding.kind, finding.severity) == ("canary_recipe_broken:dl", "probe_health", "medium")
    assert finding.data["reason"] == result.reason
    assert result.cleared == []  # the canary's own incident is neither confirmed nor cleared by a broken recipe


def test_a_working_recipe_without_soundcloud_audio_clears_both_keys():
    result = canary([fetch("submit", b"<html><body><p>Your file is being prepared.</p></body></html>")])
    assert (result.outcome, result.findings) == ("not_delivered", [])
    assert result.cleared == ["canary:dl:1234567890", "canary_recipe_broken:dl", "canary_unknown:dl:1234567890"]


PLAIN_RESULT = b'<html><body><div class="result"><a href="/file/x.mp3" download>Download</a></div></body></html>'


@pytest.mark.parametrize(
    ("heard", "outcome", "kind", "severity"),
    [
        (AudioResult(AudioMatch("1234567890", 0.91, 40.0, 18.0)), "delivered", "canary_delivered", "critical"),
        (AudioResult(AudioMatch("1234500001", 0.88, 12.0, 16.0)), "delivered_unknown", "canary_unknown_audio", "high"),
        (AudioResult(None), "delivered_unknown", "canary_unknown_audio", "high"),
        (AudioResult(None, "silence", "0 s"), "not_delivered", None, None),  # nothing usable: no claim either way
    ],
)
def test_what_the_matcher_heard_decides_an_untagged_download(heard, outcome, kind, severity):
    """The matcher's answer (made in the probe) for an untagged MP3 on a result page that names nothing."""
    body = mp3_frames(40)
    url = "http://dl.example/file/x.mp3"
    download = fetch("download", body, ctype="audio/mpeg", url=url, found_on="http://dl.example/submit")
    items = [fetch("form", b"<form></form>"), fetch("submit", PLAIN_RESULT, method="POST"), download]
    result = evaluate_canary("dl", "form", CANARY, items, CATALOGUE, NOW, audio={url: heard})
    assert result.outcome == outcome
    assert [(f.kind, f.severity) for f in result.findings] == ([(kind, severity)] if kind else [])
    if outcome == "delivered":
        data = result.findings[0].data
        assert data["fingerprint"]["score"] == 0.91 and data["sha256"] == sha256(body)
        assert (data["content_type"], data["bytes"], data["filename"], data["tags"]) == (
            "audio/mpeg",
            len(body),
            "x.mp3",
            {},
        )
    if outcome == "delivered_unknown":
        data = result.findings[0].data
        assert data["matched_track"] == (heard.match.track if heard.match else None)
        assert result.cleared == ["canary_recipe_broken:dl"]
    # Without the matcher the same answer is what it was: no SoundCloud audio for the canary.
    assert evaluate_canary("dl", "form", CANARY, items, CATALOGUE, NOW).outcome == "not_delivered"


def test_a_huge_non_audio_download_is_no_delivery():
    page = b'<html><body><div class="result"><a href="/big.bin" download>file</a></div></body></html>'
    items = [fetch("submit", page), fetch("download", bytes(32768), ctype="application/octet-stream", truncated=True)]
    assert canary(items).outcome == "not_delivered"


def test_error_page_detection_reads_the_visible_text():
    assert error_page(fetch("submit", b"<html><script>var error = 1;</script><p>Enjoy</p></html>")) is None
    assert "Too many requests" in error_page(fetch("submit", b"<html><h1>Too many requests</h1></html>"))
    assert error_page(fetch("download", b"ID3", ctype="audio/mpeg")) is None


# --- archives -----------------------------------------------------------------------------------------------------


def wayback_page(text: str | bytes, url="http://web.archive.test/cdx?x") -> ArchivePage:
    rows, key, _ = parse_wayback(text.encode() if isinstance(text, str) else text)
    return ArchivePage("wayback", "cdx", "sndcdn.com", url, status=200, rows=rows, resume_key=key, body=b"[]")


def test_section_6_4_wayback_rows():
    page = wayback_page((FIXTURES / "s64_wayback.json").read_text())
    found = {c.finding.dedupe_key: c for c in archive_candidates([page], CATALOGUE)}
    assert set(found) == {"archive:wayback:audio:token-Ab3dEf6hIj9K", "archive:wayback:audio:token-Zz1Ab2Cd3Ef4"}
    canary_audio = found["archive:wayback:audio:token-Ab3dEf6hIj9K"]
    assert (canary_audio.finding.kind, canary_audio.finding.severity) == ("archive_audio_capture", "critical")
    assert canary_audio.finding.data["catalogue_tracks"][0]["id"] == "1234567890"
    (capture,) = canary_audio.finding.data["captures"]
    assert capture["replay_url"].startswith("https://web.archive.org/web/20250314101522id_/https://cf-media")
    assert canary_audio.ids == {"7QJH2C4MZ5XQK3TVA6YB2LHN4PDEWR7S"} and canary_audio.finding.data["count"] == 1
    # The 403 text/xml capture holds the URL, not the audio: no finding.
    assert not any("Zz9Yx8Wv7Ut6" in key for key in found)


def test_section_6_4_common_crawl_rows():
    rows, _ = parse_ndjson((FIXTURES / "s64_commoncrawl.ndjson").read_bytes())
    page = ArchivePage(
        "common_crawl",
        "cc_index",
        "sc2mp3-fast.example",
        "http://index.commoncrawl.test/x",
        status=200,
        rows=rows,
        crawl="CC-MAIN-2026-21",
    )
    found = {c.finding.dedupe_key: c.finding for c in archive_candidates([page], CATALOGUE)}
    downloader = found["archive:common_crawl:downloader:sc2mp3-fast.example"]
    # The captured URL names the canary (percent-encoded): a protected track makes it critical.
    assert (downloader.kind, downloader.severity, downloader.domain) == (
        "archive_downloader_page",
        "critical",
        "sc2mp3-fast.example",
    )
    audio = found["archive:common_crawl:audio:track-1234567890"]
    assert audio.data["captures"][0]["crawl"] == "CC-MAIN-2026-21" and audio.data["captures"][0]["replayable"]


def test_empty_and_unrelated_rows_find_nothing():
    assert archive_candidates([wayback_page("[]")], CATALOGUE) == []
    unrelated = json.dumps(
        [
            ["urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length"],
            ["com,example)/", "2020", "https://example.com/", "text/html", "200", "D", "1"],
        ]
    )
    assert archive_candidates([wayback_page(unrelated)], Catalogue()) == []


def test_only_new_captures_or_growing_counts_raise_or_update():
    page = wayback_page((FIXTURES / "s64_wayback.json").read_text())
    first = archive_candidates([page], CATALOGUE)
    assert len(new_or_grown(first, {})) == 2
    stored = {c.finding.dedupe_key: {"severity": c.finding.severity, "data": c.finding.data} for c in first}
    assert new_or_grown(archive_candidates([page], CATALOGUE), stored) == []  # re-running: nothing
    more = json.loads((FIXTURES / "s64_wayback.json").read_text())
    more.append([more[1][0], "20260101000000", more[1][2], "audio/mpeg", "200", "ANOTHERDIGEST", "1"])
    (grown,) = new_or_grown(archive_candidates([wayback_page(json.dumps(more))], CATALOGUE), stored)
    assert grown.finding.dedupe_key == "archive:wayback:audio:token-Ab3dEf6hIj9K"
    assert grown.finding.data["new"] == ["ANOTHERDIGEST"] and grown.finding.data["count"] == 2
    assert grown.finding.data["count_before"] == 1 and [e.data["capture_id"] for e in grown.evidence] == [
        "ANOTHERDIGEST"
    ]
    # A capture seen before and out of this run's window still counts (ids are united with the stored ones).
    stored[grown.finding.dedupe_key] = {"severity": "critical", "data": grown.finding.data}
    assert new_or_grown(archive_candidates([page], CATALOGUE), stored) == []


# --- datasets -----------------------------------------------------------------------------------------------------


def dataset_pages(rows: int, card: bool = True) -> list[ArchivePage]:
    row = json.loads((FIXTURES / "s63_row.json").read_text())
    pages = []
    if card:
        pages.append(
            ArchivePage(
                "huggingface",
                "dataset_card",
                "o/d",
                "http://hub.test/datasets/o/d/raw/main/README.md",
                status=200,
                body=(FIXTURES / "s63_card.md").read_bytes(),
                dataset="o/d",
            )
        )
    many = [
        {**row, "permalink_url": f"https://soundcloud.com/a{i}/t{i}", "sc_track_id": 10_000 + i} for i in range(rows)
    ]
    pages.append(
        ArchivePage(
            "huggingface",
            "rows",
            "o/d",
            "http://viewer.test/rows?dataset=o/d",
            status=200,
            rows=[row, *many],
            total=rows + 1,
            dataset="o/d",
        )
    )
    return pages


def test_section_6_3_dataset_listing_with_counts():
    (c,) = dataset_candidates(dataset_pages(30), CATALOGUE, 20)
    f = c.finding
    assert (f.dedupe_key, f.kind, f.severity, f.domain) == (
        "dataset:huggingface:o/d",
        "dataset_listing",
        "critical",
        "hub.test",
    )
    assert f.data["count"] == 33 and f.data["rows_total"] == 31 and f.data["info_json_traces"] >= 1
    assert f.data["counts"]["secret_tokens"] == 1 and f.data["catalogue_tracks"][0]["id"] == "1234567890"
    assert {"SC-DATASET-LISTING", "SC-DATASET-YTDLP-INFOJSON", "SC-PRIVATE-TOKEN-EXPOSED"} <= set(f.data["signatures"])
    assert [e.data["kind"] for e in c.evidence] == ["dataset_card", "rows"]


def test_dataset_counts_only_update_when_they_grow():
    (first,) = dataset_candidates(dataset_pages(30), CATALOGUE, 20)
    stored = {first.finding.dedupe_key: {"severity": "critical", "data": first.finding.data}}
    assert new_or_grown(dataset_candidates(dataset_pages(30), CATALOGUE, 20), stored) == []
    (grown,) = new_or_grown(dataset_candidates(dataset_pages(45), CATALOGUE, 20), stored)
    assert (grown.finding.data["count_before"], grown.finding.data["count"]) == (33, 48)


def test_a_dataset_without_soundcloud_is_no_listing():
    page = ArchivePage(
        "huggingface",
        "rows",
        "o/e",
        "http://viewer.test/rows",
        status=200,
        dataset="o/e",
        rows=[{"clip": "rain.flac"}],
        total=1,
    )
    assert dataset_candidates([page], CATALOGUE, 20) == []


def test_api_errors_have_bounded_kinds():
    pages = [
        ArchivePage("wayback", "cdx", "a", "u", status=429, stop="rate_limited", attempts=4, error_kind="http_4xx"),
        ArchivePage("wayback", "cdx", "b", "u", status=200, parse_error="malformed JSON: x", stop="error"),
        ArchivePage("wayback", "cdx", "c", "u", status=200, parse_error="Content-Encoding says gzip, but …"),
        ArchivePage("common_crawl", "cc_index", "d", "u", status=200, bad_lines=1, stop="loop"),
        ArchivePage("common_crawl", "cc_index", "e", "u", status=None, error_kind="timeout", error_detail="t"),
        ArchivePage("common_crawl", "cc_index", "f", "u", status=404, stop="complete"),
    ]
    kinds = [k for k, _ in api_errors(pages)]
    assert kinds == ["rate_limited", "malformed_json", "bad_encoding", "truncated", "pagination_loop", "timeout"]
