"""Where matching runs: the canary probe and the watch probe identify the audio they fetch (real ffmpeg, fpcalc
and planetblupi music, served on loopback by the fake internet) - `scrapewatch probe canary` and `scan --json`."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from monitor.demo.internet import BackgroundInternet
from monitor.demo.model import Response, Site, html
from tests.helpers.audio_files import MUSIC, ffmpeg
from tests.helpers.proc import clean_env, cli, write_config

CANARY = "https://soundcloud.com/example-artist/night-drive"
FORM = '<form action="/rip" method="post"><input name="url" type="url"><button>Convert</button></form>'
# The result page names neither the canary's id nor its permalink: only the audio can tell what was ripped.
RESULT = '<div class="result"><h2>Your file is ready</h2><a href="/file/track.mp3" download>Download MP3</a></div>'


def untagged_mp3(source: str, start: int, out: Path, bitrate: str = "64k") -> bytes:
    """A 20 s re-encoded excerpt with every tag stripped (no ID3v2, no ID3v1, no metadata)."""
    ffmpeg("-ss", str(start), "-t", "20", "-i", str(MUSIC / source), "-map_metadata", "-1", "-id3v2_version", "0",
           "-write_id3v1", "0", "-b:a", bitrate, str(out))  # fmt: skip
    return out.read_bytes()


def downloader(host: str, body: bytes) -> Site:
    mp3 = Response(body=body, content_type="audio/mpeg")
    return Site(host=host, routes={"/": html(FORM), "/rip": html(RESULT), "/file/track.mp3": mp3})


def reupload(host: str, name: str, body: bytes) -> Site:
    page = html(f"<html><body><h1>fresh beats</h1><a href='/{name}'>{name}</a></body></html>")
    return Site(host=host, routes={"/": page, f"/{name}": Response(body=body, content_type="audio/mpeg")})


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The files, the loopback sites serving them and a configuration whose catalogue names reference audio."""
    root = tmp_path_factory.mktemp("audio-probes")
    files = {
        "canary": untagged_mp3("music004.ogg", 40, root / "canary.mp3"),
        "other": untagged_mp3("music000.ogg", 30, root / "other.mp3"),
        "beat": untagged_mp3("music005.ogg", 60, root / "beat.mp3", "96k"),
        "unrelated": untagged_mp3("music008.ogg", 30, root / "unrelated.mp3", "96k"),
    }
    sites = [
        downloader("rip-audio.example", files["canary"]),
        downloader("rip-other.example", files["other"]),
        reupload("reupload-audio.example", "beat.mp3", files["beat"]),
        reupload("reupload-plain.example", "tune.mp3", files["unrelated"]),
    ]
    tracks = [
        {"id": "1001", "permalink": CANARY, "title": "Night Drive", "artist": "Example Artist", "no_ai": False,
         "canary": True, "audio": str(MUSIC / "music004.ogg")},
        {"id": "1002", "permalink": "https://soundcloud.com/example-artist/daybreak", "title": "Daybreak",
         "artist": "Example Artist", "no_ai": False, "canary": False, "audio": str(MUSIC / "music005.ogg")},
    ]  # fmt: skip
    (root / "catalogue.yaml").write_text(yaml.safe_dump({"tracks": tracks}))
    with BackgroundInternet({s.host: s for s in sites}) as net:
        recipe = {"kind": "form", "field": "url", "result_selector": ".result"}
        config = {
            "http": {"proxy": net.url, "no_proxy": [], "retries": 0},
            "storage": {"data_dir": str(root / "data")},
            "catalogue": {"path": str(root / "catalogue.yaml")},
            # 2 minutes of each reference is plenty for excerpts from it; no speed corrections needed here.
            "audio": {"max_reference_seconds": 120, "speed_variants": False},
            "scraping": {
                "canaries": ["1001"],
                "downloaders": [{"name": "rip-audio", "url": "http://rip-audio.example/", **recipe},
                                {"name": "rip-other", "url": "http://rip-other.example/", **recipe}],
            },
        }  # fmt: skip
        yield root, write_config(root / "c.yaml", config), files


def run(world, *args: str) -> subprocess.CompletedProcess:
    root, config, _ = world
    out = cli(*args, "--config", str(config), cwd=root, env=clean_env())
    assert out.returncode == 0, out.stderr
    return out


def test_an_untagged_mp3_of_the_canary_is_a_critical_delivery_with_its_score(world):
    (report,) = json.loads(run(world, "probe", "canary", "rip-audio", "--json").stdout)
    assert report["outcomes"][0]["outcome"] == "delivered"
    (finding,) = report["findings"]
    assert (finding["kind"], finding["severity"]) == ("canary_delivered", "critical")
    data = finding["data"]
    assert data["fingerprint"]["track"] == "1001" and data["fingerprint"]["score"] >= 0.8
    # Matched 40 s into the reference, where the excerpt was cut.
    assert abs(data["fingerprint"]["offset_seconds"] - 40) < 1.5 and data["fingerprint"]["matched_seconds"] >= 10
    body = world[2]["canary"]
    assert (data["content_type"], data["bytes"], data["filename"]) == ("audio/mpeg", len(body), "track.mp3")
    assert data["sha256"] == hashlib.sha256(body).hexdigest() and data["tags"] == {}
    assert "fingerprint match of the canary" in finding["detail"]


def test_audio_that_is_not_the_canary_is_unknown_audio_high(world):
    (report,) = json.loads(run(world, "probe", "canary", "rip-other", "--json").stdout)
    assert report["outcomes"][0]["outcome"] == "delivered_unknown"
    (finding,) = report["findings"]
    assert (finding["kind"], finding["severity"]) == ("canary_unknown_audio", "high")
    assert finding["data"]["matched_track"] is None and finding["data"]["filename"] == "track.mp3"
    assert finding["data"]["downloads"][0]["audio_match"] is None


def test_scan_reports_a_reencoded_untagged_copy_by_its_fingerprint(world):
    findings = json.loads(run(world, "scan", "http://reupload-audio.example/", "--json").stdout)
    (match,) = [f for f in findings if f["signature"] == "SC-AUDIO-MATCH"]
    assert match["track"] == "1002" and match["severity"] == "high"  # neither canary nor no-AI: high
    assert match["url"] == "http://reupload-audio.example/beat.mp3" and "Daybreak" in match["detail"]
    assert match["catalogue_track"]["title"] == "Daybreak"


def test_scan_of_a_page_linking_an_unrelated_track_matches_nothing(world):
    findings = json.loads(run(world, "scan", "http://reupload-plain.example/", "--json").stdout)
    assert "SC-AUDIO-MATCH" not in {f["signature"] for f in findings}
