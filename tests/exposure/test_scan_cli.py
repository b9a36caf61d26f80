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
