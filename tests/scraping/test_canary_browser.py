"""Browser recipes in Debian's Chromium through the fake internet: the steps submit the canary in a JavaScript
app, the page's requests are captured with their frame, a screenshot is kept; a step that fails is a broken recipe."""

from __future__ import annotations

import pytest
from helpers.watch_run import CHROMIUM
from scraping_fakes import CANARY, FAST

from monitor.db import open_db
from monitor.demo.downloader_sites import FILE_PATH
from monitor.probes.canary import CanaryJob, CanaryProbe, submit_canary
from monitor.probes.scraping import scraping_catalogue
from monitor.runtime import reactor
from monitor.runtime.crawl import CrawlService
from monitor.settings import DownloaderRecipe, load_settings
from monitor.store.core import Store
from monitor.store.files import EvidenceFiles

pytestmark = pytest.mark.browser

RIP = "http://rip-canary.example"
PNG = b"\x89PNG\r\n\x1a\n"
APP_STEPS = [
    {"action": "fill", "selector": "#link"},
    {"action": "click", "selector": "#go"},
    {"action": "wait_for", "selector": ".result a.dl"},
]


def browser_service(net) -> CrawlService:
    settings = load_settings(env={})
    settings.http.proxy = net.url
    settings.http.retries = 0
    settings.http.timeout_seconds = 20
    settings.watch.chromium_path = CHROMIUM
    return CrawlService(settings, scrapy_overrides=FAST, browser_spki_pin=net.internet.leaf_spki_sha256)


def test_browser_steps_submit_the_canary_and_capture_the_app_traffic(net):
    recipe = DownloaderRecipe(
        name="ripapp", kind="browser", url=f"{RIP}/app", steps=APP_STEPS, result_selector=".result"
    )
    items = reactor.run(submit_canary(browser_service(net), recipe, CANARY))
    assert [(i.step, i.status, i.rendered) for i in items] == [("browser", 200, True), ("download", 200, False)]
    page, download = items
    assert page.screenshot.startswith(PNG) and page.result_found is True and page.recipe_problem is None
    assert b"cf-media.sndcdn.com/Ab3dEf6hIj9K.128.mp3?Policy=" in page.body  # the DOM after the steps ran
    (api,) = [r for r in page.requests if "/api/rip?url=" in r.url]
    assert (api.resource_type, api.is_main_frame, api.status, api.content_type) == (
        "fetch",
        True,
        200,
        "application/json",
    )
    assert api.url.endswith("url=https%3A%2F%2Fsoundcloud.com%2Fexample-artist%2Fnight-drive")
    assert download.url == f"{RIP}{FILE_PATH}" and download.found_on == f"{RIP}/app"
    assert not any(r.host.endswith(("sndcdn.com", "soundcloud.com")) for r in net.internet.requests)


def test_a_browser_recipe_delivering_the_canary_is_recorded_with_its_screenshot(net, tmp_path):
    settings = load_settings(env={})
    evidence = EvidenceFiles(tmp_path / "evidence")
    store = Store(open_db(tmp_path / "sw.db"), evidence)
    catalogue = scraping_catalogue(settings.model_copy(update={"catalogue": _demo_catalogue()}))
    probe = CanaryProbe(store, browser_service(net), settings, catalogue)
    recipe = DownloaderRecipe(name="ripapp", kind="browser", url=f"{RIP}/app", steps=APP_STEPS)
    job = CanaryJob(recipe, (catalogue.by_id["1234567890"],))
    applied = reactor.run(probe.run("canary:ripapp", job))
    assert [(t.action, t.dedupe_key, t.severity) for t in applied.transitions] == [
        ("opened", "canary:ripapp:1234567890", "critical")
    ]
    rows = store.evidence(applied.incident_ids["canary:ripapp:1234567890"])
    browser = next(r for r in rows if r["data"]["step"] == "browser")
    assert evidence.get(browser["screenshot_sha256"]).startswith(PNG)
    assert b"/api/rip?url=" in evidence.get(browser["requests_sha256"])
    assert store.evidence_file(browser["screenshot_sha256"])["kind"] == "screenshot"
    store.db.close()


def test_a_step_whose_selector_is_gone_is_a_broken_recipe_with_a_screenshot(net):
    recipe = DownloaderRecipe(
        name="jsbroken",
        kind="browser",
        url="http://jsbroken.example/",
        steps=APP_STEPS,
        step_timeout_seconds=1.5,
    )
    (page,) = reactor.run(submit_canary(browser_service(net), recipe, CANARY))
    assert (page.step, page.status, page.error_kind, page.failed_step) == ("browser", None, "timeout", 0)
    assert page.recipe_problem == "browser step 1 (fill '#link') failed: timeout"
    assert page.screenshot.startswith(PNG)
    assert [r.url for r in page.requests if r.resource_type == "document"] == ["http://jsbroken.example/"]


def test_a_wait_that_never_ends_names_its_step(net):
    steps = [*APP_STEPS[:2], {"action": "wait_for", "selector": ".never"}]
    recipe = DownloaderRecipe(name="ripapp", kind="browser", url=f"{RIP}/app", steps=steps, step_timeout_seconds=1.5)
    (page,) = reactor.run(submit_canary(browser_service(net), recipe, CANARY))
    assert (page.failed_step, page.recipe_problem) == (2, "browser step 3 (wait_for '.never') failed: timeout")
    assert any("/api/rip?url=" in r.url for r in page.requests)  # the first two steps did run


def _demo_catalogue():
    from monitor.demo.scraping_config import demo_catalogue_path
    from monitor.settings import CatalogueSettings

    return CatalogueSettings(path=demo_catalogue_path())
