"""The pinned Playwright drives Debian's Chromium through the proxy path, HTTPS (HSTS hosts) included."""

from __future__ import annotations

import shutil

import pytest

from monitor.demo.internet import BackgroundInternet

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def test_chromium_reaches_soundcloud_stand_in_over_connect():
    from playwright.sync_api import sync_playwright

    with BackgroundInternet() as net, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            proxy={"server": net.url},
            args=[
                # Trust exactly the simulated internet's leaf key, nothing else.
                f"--ignore-certificate-errors-spki-list={net.internet.leaf_spki_sha256}",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        try:
            page = browser.new_page()
            # http:// on purpose: Chromium upgrades HSTS-preloaded soundcloud.com to https on its own.
            response = page.goto("http://soundcloud.com/robots.txt")
            assert response is not None and response.status == 200
            assert page.url.startswith("https://soundcloud.com/")
            assert "GPTBot" in page.content()
        finally:
            browser.close()
    assert any(r.host == "soundcloud.com" and r.via == "connect" for r in net.internet.requests)
