"""`scrapewatch scan URL` as an analyst runs it: through the proxy, JSON findings, nothing recorded unless asked."""

from __future__ import annotations

import json
import sqlite3

import pytest

from monitor.demo.internet import BackgroundInternet
from tests.helpers.proc import clean_env, cli

SEVERITIES = {"info", "low", "medium", "high", "critical"}


@pytest.fixture(scope="module")
def internet():
    with BackgroundInternet() as net:
        yield net


def test_scan_json_lists_findings_with_reference_ids(tmp_path, internet):
    env = clean_env(HTTPS_PROXY=internet.url, HTTP_PROXY=internet.url)
    out = cli("scan", "https://sc2mp3-fast.example/convert", "--json", cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    findings = json.loads(out.stdout)
    assert {"SC-DL-PAGE", "SC-PROXY-PARAM"} <= {f["signature"] for f in findings}
    for f in findings:
        assert {"signature", "severity", "url", "detail", "track"} <= set(f) and f["severity"] in SEVERITIES
    assert any(f["severity"] == "critical" for f in findings)
    assert not (tmp_path / "data").exists()  # nothing recorded without --record


def test_scan_of_a_legitimate_embed_finds_nothing(tmp_path, internet):
    env = clean_env(HTTPS_PROXY=internet.url, HTTP_PROXY=internet.url)
    out = cli("scan", "https://indie-blog.example/", cwd=tmp_path, env=env)
    assert out.returncode == 0 and "no exposure found" in out.stdout
    shown = json.loads(cli("scan", "https://indie-blog.example/", "--json", "--all", cwd=tmp_path, env=env).stdout)
    assert all(f["severity"] == "info" for f in shown)


def test_scan_record_writes_incidents_and_evidence(tmp_path, internet):
    env = clean_env(HTTPS_PROXY=internet.url, HTTP_PROXY=internet.url)
    out = cli("scan", "https://reupload.example/", "--record", cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    assert "SC-FILE-PURL" in out.stdout and "recorded:" in out.stderr
    conn = sqlite3.connect(tmp_path / "data" / "scrapewatch.db")
    kinds = {r[0] for r in conn.execute("SELECT kind FROM incidents")}
    assert "exposure_file_tags" in kinds
    assert conn.execute("SELECT count(*) FROM evidence").fetchone()[0] > 0


@pytest.mark.parametrize("url", ["ftp://example.org/", "https://soundcloud.com/forss/flickermood", "not a url"])
def test_scan_refuses_what_it_must_not_crawl(tmp_path, url):
    out = cli("scan", url, cwd=tmp_path)
    assert out.returncode == 2 and "cannot scan" in out.stderr


PLAYER = "https://scplayer.example/example-artist/night-drive"  # the player page; its home only links to it
POST = "https://indie-blog.example/2026/05/night-drive-premiere/"  # the post with the official widget


def rendered_env(internet: BackgroundInternet, pin: bool = True) -> dict[str, str]:
    env = clean_env(HTTPS_PROXY=internet.url, HTTP_PROXY=internet.url)
    if pin:  # Chromium must trust the simulated internet's TLS key (SoundCloud's hosts are HTTPS-only for it)
        env["SCRAPEWATCH_WATCH__BROWSER_SPKI_PIN"] = internet.internet.leaf_spki_sha256
    return env


@pytest.mark.browser
def test_rendered_scan_json_finds_the_hls_relay(tmp_path, internet):
    internet.internet.clear_requests()
    out = cli("scan", PLAYER, "--render", "--json", cwd=tmp_path, env=rendered_env(internet))
    assert out.returncode == 0, out.stderr
    findings = json.loads(out.stdout)
    by_signature = {f["signature"]: f for f in findings}
    assert {"SC-HLS-REWRITE", "SC-PROXY-PARAM"} <= set(by_signature)
    assert (
        by_signature["SC-HLS-REWRITE"]["family"] == "proxy" and by_signature["SC-HLS-REWRITE"]["severity"] == "critical"
    )
    assert by_signature["SC-HLS-REWRITE"]["url"].startswith("https://scplayer.example/relay/hls/")
    assert all(f["severity"] != "info" for f in findings)  # info only with --all
    # The page was loaded by Chromium: through CONNECT (TLS), and only the player's own site was contacted.
    assert ("scplayer.example", "connect") in {(r.host, r.via) for r in internet.internet.requests}
    assert not (tmp_path / "data").exists()


@pytest.mark.browser
def test_rendered_scan_needs_the_browser_to_trust_the_site(tmp_path, internet):
    # Without the pin Chromium refuses the simulated internet's certificate: nothing is scanned, and it says so
    # (a static scan of the same page works: it is the browser that loaded the page above).
    out = cli("scan", PLAYER, "--render", "--json", cwd=tmp_path, env=rendered_env(internet, pin=False))
    assert out.returncode == 0 and json.loads(out.stdout) == []
    assert "did not answer" in out.stderr


@pytest.mark.browser
def test_rendered_scan_of_the_legitimate_widget_finds_nothing_above_info(tmp_path, internet):
    env = rendered_env(internet)
    internet.internet.clear_requests()
    out = cli("scan", POST, "--render", cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    assert "no exposure found" in out.stdout
    shown = json.loads(cli("scan", POST, "--render", "--json", "--all", cwd=tmp_path, env=env).stdout)
    assert shown and {f["severity"] for f in shown} == {"info"}
    assert {"SC-PERMALINK", "SC-ARTWORK-HOTLINK"} <= {f["signature"] for f in shown}
    # The widget really ran in the browser and fetched SoundCloud media from its own frame: nothing blamed on the blog.
    assert ("cf-media.sndcdn.com", "connect") in {(r.host, r.via) for r in internet.internet.requests}


def test_a_bad_browser_pin_is_a_configuration_error(tmp_path):
    out = cli("scan", POST, "--render", cwd=tmp_path, env=clean_env(SCRAPEWATCH_WATCH__BROWSER_SPKI_PIN="x --y"))
    assert out.returncode == 2 and "browser_spki_pin" in out.stderr
