"""The protected catalogue: CSV/YAML loading, clear errors, lookups and escalation of matches."""

from __future__ import annotations

import pytest
from sig_helpers import FIXTURES, NOW, by_id, html_page

from monitor.errors import ConfigError
from monitor.signatures import Match, TrackRef, escalate, load_catalogue, scan_dataset_text, scan_page

HEADER = "id,permalink,media_tokens,title,artist,no_ai,canary\n"
CSV = HEADER + (
    "1234567890,https://soundcloud.com/example-artist/night-drive,Ab3dEf6hIj9K;Zz9Yx8Wv7Ut6,Night Drive,Example Artist,"
    "true,false\n"
    "1234500001,https://M.SoundCloud.com/Another-Producer/Unreleased-Demo/s-Xy12Ab/,Qq1Ww2Ee3Rr4 Tt5Yy6Uu7Ii8,"
    "Unreleased Demo,another producer,no,yes\n"
    "987654321,soundcloud.com/cc-artist/free-loop,,Free Loop,CC Artist,false,false\n"
)
YAML = """
tracks:
  - id: 1234567890
    permalink: https://soundcloud.com/example-artist/night-drive
    media_tokens: [Ab3dEf6hIj9K, Zz9Yx8Wv7Ut6]
    title: Night Drive
    artist: Example Artist
    no_ai: true
    canary: false
  - id: "1234500001"
    permalink: https://www.soundcloud.com/another-producer/unreleased-demo
    media_tokens: Qq1Ww2Ee3Rr4
    no_ai: false
    canary: yes
"""


@pytest.fixture(params=["csv", "yaml"])
def catalogue(request, tmp_path):
    path = tmp_path / f"cat.{request.param}"
    path.write_text(CSV if request.param == "csv" else YAML)
    return load_catalogue(path)


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        (TrackRef(track_id="1234567890"), "1234567890"),
        (TrackRef(urn="soundcloud:tracks:1234500001"), "1234500001"),
        (TrackRef(media_token="Zz9Yx8Wv7Ut6"), "1234567890"),
        (TrackRef(permalink="http://m.soundcloud.com/example-artist/night-drive/"), "1234567890"),
        (TrackRef(permalink="https://WWW.SOUNDCLOUD.COM/another-producer/unreleased-demo/s-Xy12Ab"), "1234500001"),
        (TrackRef(permalink="soundcloud.com/Another-Producer/Unreleased-Demo"), "1234500001"),
        (TrackRef(track_id="1"), None),
        (TrackRef(permalink="https://soundcloud.com/example-artist/other"), None),
        (None, None),
    ],
)
def test_lookup_by_each_key(catalogue, ref, expected):
    found = catalogue.lookup(ref)
    assert (found.id if found else None) == expected


def test_loaded_values(catalogue):
    night = catalogue.by_id["1234567890"]
    assert night.no_ai and not night.canary and night.media_tokens == ("Ab3dEf6hIj9K", "Zz9Yx8Wv7Ut6")
    demo = catalogue.by_id["1234500001"]
    assert demo.canary and not demo.no_ai


@pytest.mark.parametrize(
    ("name", "text", "fragments"),
    [
        ("missing.csv", "id,permalink,title,artist,no_ai\n1,https://soundcloud.com/a/b,t,a,true\n",
         ["line 1 (header)", "media_tokens", "canary"]),
        ("bool.csv", HEADER + "1,https://soundcloud.com/a/b,,t,a,maybe,false\n", ["line 2, column no_ai", "'maybe'"]),
        ("dupe.csv", HEADER + "1,https://soundcloud.com/a/b,,t,a,true,false\n2,https://soundcloud.com/a/c,,t,a,no,no\n"
         "1,https://soundcloud.com/a/d,,t,a,no,no\n", ["line 4, column id", "duplicate '1'", "first at line 2"]),
        ("token.csv", HEADER + "1,https://soundcloud.com/a/b,short,t,a,true,false\n",
         ["line 2, column media_tokens", "'short'"]),
        ("dupe-token.csv", HEADER + "1,,Ab3dEf6hIj9K,t,a,no,no\n2,,Ab3dEf6hIj9K,t,a,no,no\n",
         ["line 3, column media_tokens", "first at line 2"]),
        ("id.csv", HEADER + "abc,https://soundcloud.com/a/b,,t,a,true,false\n", ["line 2, column id"]),
        ("link.csv", HEADER + "1,https://example.com/a/b,,t,a,true,false\n", ["line 2, column permalink"]),
        ("bool.yaml", "- {id: 1, permalink: 'https://soundcloud.com/a/b', no_ai: perhaps, canary: false}\n",
         ["line 1, column no_ai", "'perhaps'"]),
        ("missing.yaml", "tracks:\n  - id: 1\n    permalink: https://soundcloud.com/a/b\n    no_ai: true\n",
         ["line 2", "missing column(s): canary"]),
        ("dupe.yaml", "- {id: 1, permalink: '', no_ai: no, canary: no}\n" * 2, ["line 2, column id", "duplicate"]),
        ("broken.yaml", "tracks: [\n  - id: 1\n", ["line"]),
        ("scalar.yaml", "just a string\n", ["(root)"]),
    ],
)  # fmt: skip
def test_malformed_catalogues_raise_clear_errors(tmp_path, name, text, fragments):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_catalogue(path)
    message = str(err.value)
    assert str(path) in message and err.value.source == str(path)
    for fragment in fragments:
        assert fragment in message, message


def test_unreadable_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_catalogue(tmp_path / "nope.csv")


def test_escalate_records_and_raises(catalogue):
    page = "https://dl.example/x"
    body = (FIXTURES / "s61_downloader.html").read_text()
    matches = escalate(scan_page(page, [html_page(body, page)], now=NOW), catalogue)
    cdn = by_id(matches, "SC-CDN-PROGRESSIVE")
    assert cdn.data["catalogue_track"]["id"] == "1234567890" and cdn.data["catalogue_track"]["no_ai"]
    filename = next(m for m in matches if m.signature == "SC-DL-FILENAME" and m.snippet == "soundcloud-1234567890.mp3")
    assert filename.severity == "critical" and "protected track 1234567890" in filename.data["escalated"]
    # info matches name the track but stay info (a plain link to a no-AI track is not an incident)
    permalink = next(m for m in matches if m.signature == "SC-PERMALINK" and "night-drive" in m.snippet)
    assert permalink.severity == "info" and permalink.data["catalogue_track"]["id"] == "1234567890"


def test_escalate_leaves_unknown_tracks_alone(catalogue):
    m = Match("SC-CDN-PREVIEW", "cdn-media", "low", "https://x", "d", "s", TrackRef(track_id="5"), {})
    assert escalate([m], catalogue) == [m]


def test_canary_in_a_dataset_sample_makes_it_critical(catalogue):
    text = "\n".join(f"https://soundcloud.com/user{i}/track{i}" for i in range(25))
    text += "\nhttps://soundcloud.com/another-producer/unreleased-demo\n"
    (listing,) = [m for m in scan_dataset_text("https://hf.example/d", text) if m.signature == "SC-DATASET-LISTING"]
    assert listing.severity == "high"
    (escalated,) = escalate([listing], catalogue)
    assert escalated.severity == "critical" and escalated.data["catalogue_track"]["canary"]
