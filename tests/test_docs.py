"""The docs/ pages document every CLI command, every setting and every metric the daemon exports."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from monitor.cli import main
from monitor.metrics import REGISTRY
from monitor.settings import settings_reference

DOCS = Path(__file__).parent.parent / "docs"
CLI_PAGE = (DOCS / "cli.md").read_text()
CONFIG_PAGE = (DOCS / "configuration.md").read_text()
METRICS_PAGE = (DOCS / "metrics.md").read_text()


def _commands(group: click.Group, prefix: str = "scrapewatch") -> list[str]:
    out = []
    for name, cmd in group.commands.items():
        path = f"{prefix} {name}"
        out.extend(_commands(cmd, path) if isinstance(cmd, click.Group) else [path])
    return out


@pytest.mark.parametrize("command", _commands(main))
def test_every_command_is_in_the_cli_page(command):
    assert f"`{command}" in CLI_PAGE


@pytest.mark.parametrize("command", _commands(main))
def test_every_command_has_help(command):
    ctx = click.Context(main)
    cmd = main
    for part in command.split()[1:]:
        cmd = cmd.get_command(ctx, part)
    assert cmd.help and cmd.help.strip()


@pytest.mark.parametrize(("key", "default", "help_text"), settings_reference())
def test_every_setting_is_documented(key, default, help_text):
    assert help_text, f"{key} has no description"
    assert f"| `{key}` |" in CONFIG_PAGE, f"{key} missing from the configuration table of docs/configuration.md"


def test_every_metric_is_documented():
    names = {m.name for m in REGISTRY.collect()}
    names.discard("")
    missing = [
        n
        for n in names
        if f"`{n}`" not in METRICS_PAGE
        and f"`{n}_total`" not in METRICS_PAGE
        and f"`{n}_info`" not in METRICS_PAGE
        and not (n.startswith("scrapewatch_process_") and "`scrapewatch_process_*`" in METRICS_PAGE)
    ]
    assert not missing, missing


def test_scrape_time_metrics_are_documented(tmp_path):
    from monitor.db import open_db
    from monitor.metrics import StoreCollector

    path = tmp_path / "m.db"
    open_db(path).close()
    names = {m.name for m in StoreCollector(lambda: open_db(path, migrate=False).conn).collect()}
    assert {"scrapewatch_store_up", "scrapewatch_incidents_open", "scrapewatch_alert_outbox_pending"} <= names
    assert "scrapewatch_policy_crawl_allowed" in names
    for n in names:
        assert f"`{n}`" in METRICS_PAGE


def test_store_collector_never_raises():
    from monitor.metrics import StoreCollector

    def broken():
        raise OSError("disk gone")

    (up,) = list(StoreCollector(broken).collect())
    assert up.name == "scrapewatch_store_up" and up.samples[0].value == 0
