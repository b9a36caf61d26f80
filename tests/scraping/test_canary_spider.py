"""The canary spider through the fake internet: form and API recipes, what it fetches, what it never fetches."""

from __future__ import annotations

import pytest
from scraping_fakes import CANARY, HUGE_BYTES, requested, service

from monitor.demo.downloader_sites import FILE_PATH, FILENAME
from monitor.probes.canary import submit_canary
from monitor.runtime import reactor
from monitor.runtime.crawl import CrawlError
from monitor.settings import DownloaderRecipe
from monitor.signatures import read_tags
from spiders.spiders.canary import form_submission, parse_recipe

RIP = "http://rip-canary.example"


def run(net, **recipe):
    return reactor.run(submit_canary(service(net), DownloaderRecipe(**recipe), CANARY))


def test_form_recipe_submits_the_canary_and_reads_the_file_heads(net):
    items = run(net, name="rip", kind="form", url=f"{RIP}/", field="url", result_selector=".result", byte_cap=65536)
    assert [(i.step, i.url, i.status) for i in items] == [
        ("form", f"{RIP}/", 200),
        ("submit", f"{RIP}/rip", 200),
        ("download", f"{RIP}{FILE_PATH}", 200),
    ]
    _, submit, download = items
    assert (submit.method, submit.result_found, submit.found_on) == ("POST", True, f"{RIP}/")
    # The form's other controls are submitted too, as a browser would.
    assert submit.request_body == b"format=mp3&url=https%3A%2F%2Fsoundcloud.com%2Fexample-artist%2Fnight-drive"
    assert submit.request_headers["content-type"] == ["application/x-www-form-urlencoded"]
    assert b"cf-media.sndcdn.com/Ab3dEf6hIj9K.128.mp3?Policy=" in submit.body
    # The head of the file only, and its tags survive the cut.
    assert (download.found_on, download.truncated, len(download.body)) == (f"{RIP}/rip", True, 65536)
    assert download.size >= 65536 and download.headers["content-disposition"] == [f'attachment; filename="{FILENAME}"']
    assert read_tags(download.body, content_type="audio/mpeg").frames["WOAF"] == CANARY
    # The signed CDN link is evidence, never a request: SoundCloud's hosts are not probed.
    assert not any("sndcdn" in r.host or "soundcloud" in r.host for r in net.internet.requests)


def test_api_recipe_follows_the_urls_of_the_json_answer(net):
    items = run(net, name="ripapi", kind="api", url_template=f"{RIP}/api/rip?url={{url}}")
    assert [(i.step, i.status) for i in items] == [("api", 200), ("download", 200)]
    api = items[0]
    assert api.url == f"{RIP}/api/rip?url=https%3A%2F%2Fsoundcloud.com%2Fexample-artist%2Fnight-drive"
    assert api.content_type == "application/json" and items[1].url == f"{RIP}{FILE_PATH}"


def test_a_form_that_is_gone_is_a_recipe_problem(net):
    (page,) = run(net, name="broken", kind="form", url="http://rip-broken.example/", field="url")
    assert page.status == 200 and page.recipe_problem == "no form with a field named 'url' on the page"
    assert requested(net, "rip-broken.example") == ["/"]


def test_a_missing_result_selector_is_recorded(net):
    items = run(net, name="rip", kind="form", url=f"{RIP}/", field="url", result_selector="#no-such-thing")
    submit = next(i for i in items if i.step == "submit")
    assert submit.result_found is False
    assert [i.step for i in items] == ["form", "submit"]  # no link lies inside a selector that matched nothing


def test_a_redirect_to_soundcloud_is_kept_not_followed(net):
    items = run(net, name="redirect", kind="form", url="http://redirect.example/", field="url")
    download = items[-1]
    assert (download.step, download.status) == ("download", 302)
    assert download.headers["location"][0].startswith("https://cf-media.sndcdn.com/Ab3dEf6hIj9K.128.mp3?Policy=")
    assert not any(r.host.endswith("sndcdn.com") for r in net.internet.requests)


def test_a_huge_file_is_bounded_by_the_byte_cap(net):
    items = run(net, name="huge", kind="form", url="http://huge.example/", field="url", byte_cap=32768)
    download = items[-1]
    assert (download.step, download.status, download.truncated) == ("download", 200, True)
    assert len(download.body) == 32768 and download.size < HUGE_BYTES
    assert download.content_type == "application/octet-stream"


def test_http_errors_and_unreachable_services_are_items(net):
    busy = run(net, name="busy", kind="form", url="http://busy.example/", field="url")
    assert [(i.step, i.status, i.error_kind) for i in busy] == [("form", 200, None), ("submit", 503, "http_5xx")]
    (gone,) = run(net, name="gone", kind="form", url="http://nowhere.example/", field="url")
    assert (gone.status, gone.error_kind) == (502, "http_5xx")  # the proxy cannot resolve it


def test_form_submission_is_what_a_browser_sends():
    from scrapy.http import HtmlResponse

    page = HtmlResponse(
        "http://x.example/start?a=1",
        body=b"""<form action="/go#top"><input name="q" value="old"><input type="hidden" name="t" value="1">
        <input type="checkbox" name="c"><input type="checkbox" name="k" checked><select name="s"><option value="a">
        <option value="b" selected></select><textarea name="n">hi</textarea><input type="submit" name="go"></form>""",
        encoding="utf-8",
    )
    method, url, body = form_submission(page, "//form[.//*[@name='q']]", "q", CANARY, None)
    assert (method, body) == ("GET", None)
    assert url == "http://x.example/go?t=1&k=on&s=b&n=hi&q=https%3A%2F%2Fsoundcloud.com%2Fexample-artist%2Fnight-drive"
    assert form_submission(page, "//form", "q", "v", "POST") == ("POST", "http://x.example/go", "t=1&k=on&s=b&n=hi&q=v")


@pytest.mark.parametrize(
    ("recipe", "message"),
    [
        ({"name": "x", "kind": "ftp"}, "kind in"),
        ({"name": "x", "kind": "form", "url": "http://a.example/"}, "needs field"),
        ({"name": "x", "kind": "form", "url": "http://a.example/", "field": 'u"]'}, "plain input name"),
        ({"name": "x", "kind": "browser", "url": "http://a.example/", "steps": [{"action": "hover"}]}, "action"),
        ({"name": "x", "kind": "api", "url_template": "http://a/{url}", "cookies": 1}, "unknown recipe keys"),
    ],
)
def test_the_spider_refuses_bad_recipes(recipe, message):
    with pytest.raises(ValueError, match=message):
        parse_recipe(recipe)


def test_a_browser_recipe_without_playwright_settings_is_refused(net):
    from monitor.runtime.crawl import CrawlService

    svc: CrawlService = service(net)
    svc._browser_overrides = lambda: {}  # a crawl that lacks Chromium
    recipe = DownloaderRecipe(name="js", kind="browser", url=f"{RIP}/app", steps=[{"action": "click", "selector": "b"}])
    with pytest.raises(CrawlError, match="playwright"):
        reactor.run(submit_canary(svc, recipe, CANARY))
