"""The ``scraping:`` settings section: recipes, endpoints, defaults and errors that name the key."""

from __future__ import annotations

import pytest

from monitor.demo.scraping_config import demo_catalogue_path, demo_scraping_settings
from monitor.errors import ConfigError
from monitor.settings import load_settings
from monitor.signatures import load_catalogue


def write(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ("downloaders: [{name: a, kind: form, url: 'http://a.example/'}]", "scraping.downloaders[0]", "needs field"),
        ("downloaders: [{name: a, kind: api, url_template: 'http://a.example/'}]", "scraping.downloaders[0]", "{url}"),
        ("downloaders: [{name: a, kind: browser, url: 'http://a.example/'}]", "scraping.downloaders[0]", "steps"),
        (
            "downloaders: [{name: a, kind: form, url: 'https://m.soundcloud.com/x', field: u}]",
            "scraping.downloaders[0]",
            "SoundCloud",
        ),
        (
            "downloaders: [{name: A B, kind: api, url_template: 'http://a/{url}'}]",
            "scraping.downloaders[0].name",
            "pattern",
        ),
        (
            "downloaders: [{name: a, kind: form, url: 'http://a/', field: 'u\"]'}]",
            "scraping.downloaders[0].field",
            "pattern",
        ),
        (
            "downloaders: [{name: a, kind: browser, url: 'http://a/', steps: [{action: hover, selector: x}]}]",
            "scraping.downloaders[0].steps[0].action",
            "fill",
        ),
        (
            "downloaders: [{name: a, kind: api, url_template: 'http://a/{url}'}, "
            "{name: a, kind: api, url_template: 'http://b/{url}'}]",
            "scraping.downloaders",
            "unique",
        ),
        ("wayback: {base_url: 'ftp://archive'}", "scraping.wayback.base_url", "http(s)"),
        ("dataset_hub: {rows_page_size: 500}", "scraping.dataset_hub.rows_page_size", "100"),
        ("common_crawl: {max_pages_per_run: 0}", "scraping.common_crawl.max_pages_per_run", "greater"),
        ("media_hosts: ['https://cf-media.sndcdn.com/']", "scraping.media_hosts", "bare host"),
        ("wayback: {bogus: 1}", "scraping.wayback.bogus", "Extra inputs"),
    ],
)
def test_errors_name_the_key(tmp_path, text, key, reason):
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, "scraping:\n  " + text + "\n"), env={})
    assert any(k == key and reason in msg for k, msg in caught.value.errors), caught.value.errors


def test_environment_enables_an_endpoint():
    settings = load_settings(env={"SCRAPEWATCH_SCRAPING__WAYBACK__ENABLED": "true"})
    assert settings.scraping.wayback.enabled and not settings.scraping.common_crawl.enabled


def test_recipes_of_each_kind(tmp_path):
    text = """scraping:
  downloaders:
    - {name: sc2mp3, kind: form, url: "https://sc2mp3.example/", field: url, result_selector: ".result"}
    - {name: cobalt-like, kind: api, url_template: "https://dl.example/api/json", method: POST,
       body_template: '{"url": "{url}"}', headers: {Content-Type: application/json}}
    - name: jsrip
      kind: browser
      url: https://jsrip.example/
      steps: [{action: fill, selector: "#link"}, {action: click, selector: "#go"}, {action: wait_for, selector: ".r"}]
"""
    with pytest.raises(ConfigError, match="url_template must contain"):
        load_settings(write(tmp_path, text), env={})
    settings = load_settings(write(tmp_path, text.replace("api/json", "api/json?u={url}")), env={})
    form, api, browser = settings.scraping.downloaders
    assert (form.method, form.byte_cap, form.max_downloads, form.interval_seconds) == (None, 524288, 3, 21600)
    assert api.headers == {"Content-Type": "application/json"} and api.body_template == '{"url": "{url}"}'
    assert [s.value for s in browser.steps] == ["{canary}", "{canary}", "{canary}"]


def test_the_demo_fragment_is_valid_and_its_catalogue_has_the_canary(net):
    settings = load_settings(env={}).model_validate(demo_scraping_settings(net.url))
    assert settings.http.proxy == net.url and settings.scraping.wayback.enabled
    (canary,) = [t for t in load_catalogue(demo_catalogue_path()).tracks if t.canary]
    assert (canary.id, canary.permalink, canary.media_tokens) == (
        "1234567890",
        "https://soundcloud.com/example-artist/night-drive",
        ("Ab3dEf6hIj9K",),
    )
