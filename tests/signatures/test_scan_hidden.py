"""`scrapewatch scan` (the real command, its spider and engine) on pages served on 127.0.0.1: a dataset card on an
ordinary site, a playlist blog, and a downloader hiding its client_id in a fetched script's constant."""

from __future__ import annotations

import json

import listing_pages as pages
import pytest

from tests.helpers.http_servers import FakeSite, Reply
from tests.helpers.proc import clean_env, cli

CID = "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6"
APP_JS = (
    f'const CID = "{CID}";\nconst base = "https://api-v2.soundcloud.com/resolve?url=" + encodeURIComponent(link);\n'
    'fetch(base + "&client_id=" + CID).then(r => r.json());\n'
)
DOWNLOADER = '<html><head><title>Fetch a track</title><script src="/app.js"></script></head><body></body></html>'
HTML = {"Content-Type": "text/html; charset=utf-8"}


@pytest.fixture(scope="module")
def site():
    routes = {
        "http://datasets.example/soundbank-40": Reply(200, pages.dataset_card().encode(), HTML),
        "http://music-blog.example/night-drive": Reply(200, pages.playlist_blog().encode(), HTML),
        "http://sc-fetch.example/": Reply(200, DOWNLOADER.encode(), HTML),
        "http://sc-fetch.example/app.js": Reply(200, APP_JS.encode(), {"Content-Type": "text/javascript"}),
    }
    with FakeSite(routes) as fake:  # a forward proxy on loopback: no traffic leaves the machine
        yield fake


def scan(url: str, site: FakeSite, tmp_path) -> list[dict]:
    env = clean_env(HTTP_PROXY=site.url(), HTTPS_PROXY=site.url())
    out = cli("scan", url, "--json", "--ignore-robots", cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    assert "did not answer" not in out.stderr
    return json.loads(out.stdout)


def test_scan_finds_a_dataset_card_on_an_ordinary_site(site, tmp_path):
    findings = scan("http://datasets.example/soundbank-40", site, tmp_path)
    (card,) = [f for f in findings if f["signature"] == "SC-DATASET-LISTING"]
    assert card["severity"] == "high" and "40 SoundCloud track references" in card["detail"]


def test_scan_of_a_playlist_blog_finds_nothing(site, tmp_path):
    assert scan("http://music-blog.example/night-drive", site, tmp_path) == []


def test_scan_follows_the_client_id_through_a_constant_in_a_fetched_script(site, tmp_path):
    findings = scan("http://sc-fetch.example/", site, tmp_path)
    by_sig = {f["signature"]: f for f in findings}
    assert by_sig["SC-CLIENT-ID-IN-3P"]["severity"] == "high"
    assert CID in by_sig["SC-CLIENT-ID-IN-3P"]["snippet"]
    assert by_sig["SC-API-RESOLVE"]["severity"] == "high"
