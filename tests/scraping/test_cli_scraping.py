"""``scrapewatch probe canary|archives|datasets``: the real command in a subprocess, through the fake internet."""

from __future__ import annotations

import json

import pytest
from helpers.proc import cli, write_config

from monitor.demo.scraping_config import demo_scraping_settings


@pytest.fixture
def config(tmp_path, net):
    data = demo_scraping_settings(net.url)
    for name in ("wayback", "common_crawl", "dataset_hub"):
        data["scraping"][name]["rate_limit_seconds"] = 0
    data["storage"] = {"data_dir": str(tmp_path / "data")}
    data["http"]["retries"] = 0
    return write_config(tmp_path / "c.yaml", data)


def test_probe_canary_prints_the_delivery_and_records_nothing(tmp_path, config):
    out = cli("probe", "canary", "rip-canary", "--json", "--config", str(config), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    (report,) = json.loads(out.stdout)
    assert report["outcomes"][0]["outcome"] == "delivered" and report["recorded"] is False
    (finding,) = report["findings"]
    assert (finding["kind"], finding["severity"]) == ("canary_delivered", "critical")
    assert finding["data"]["media_urls"][0]["resource"] == "*://cf-media.sndcdn.com/Ab3dEf6hIj9K.128.mp3*"
    assert not (tmp_path / "data" / "scrapewatch.db").exists()


def test_probe_canary_on_a_broken_recipe_exits_1(tmp_path, config):
    out = cli("probe", "canary", "rip-broken", "--config", str(config), cwd=tmp_path)
    assert out.returncode == 1
    assert "canary 1234567890: recipe_broken (no form with a field named 'url' on the page)" in out.stdout
    assert "[medium] probe_health" in out.stdout


def test_probe_usage_errors_exit_2(tmp_path, config, net):
    out = cli("probe", "canary", "nope", "--config", str(config), cwd=tmp_path)
    assert out.returncode == 2 and "no downloader named 'nope'" in out.stderr
    plain = write_config(tmp_path / "plain.yaml", {"storage": {"data_dir": str(tmp_path / "x")}})
    out = cli("probe", "archives", "--config", str(plain), cwd=tmp_path)
    assert out.returncode == 2 and "no archive index is enabled" in out.stderr


def test_probe_archives_and_datasets_record_once(tmp_path, config):
    out = cli("probe", "archives", "--record", "--config", str(config), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "archives:wayback:" in out.stdout and "archive:wayback:audio:token-Ab3dEf6hIj9K" in out.stdout
    assert "opened archive:common_crawl:downloader:sc2mp3-fast.example" in out.stdout
    again = cli("probe", "archives", "--record", "--json", "--config", str(config), cwd=tmp_path)
    assert [r["findings"] for r in json.loads(again.stdout)] == [[], []]
    out = cli("probe", "datasets", "--record", "--config", str(config), cwd=tmp_path)
    assert out.returncode == 0 and "count=62" in out.stdout
    listed = cli("incidents", "list", "--kind", "dataset_listing", "--json", "--config", str(config), cwd=tmp_path)
    assert [r["dedupe_key"] for r in json.loads(listed.stdout)] == ["dataset:huggingface:nightbeats/nightbeats-40k"]
