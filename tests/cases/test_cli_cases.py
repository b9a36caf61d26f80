"""The ``case`` commands with CliRunner on a real database: list, show, status, assign, note, notice-sent."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.runtime.components import open_store
from monitor.settings import load_settings
from tests.cases.support import CID, evidence, finding, run
from tests.helpers.proc import write_config


@pytest.fixture
def config(tmp_path):
    cfg = write_config(tmp_path / "c.yaml", {"storage": {"data_dir": str(tmp_path / "data")},
                                             "cases": {"recheck_after_seconds": 86400}})  # fmt: skip
    store = open_store(load_settings(cfg, env={}))
    a, b = finding("a.example"), finding("b.example", "proxy", "high")
    run(store, [a, finding("a.example", "mirror", "medium")], [evidence(a, client_id=CID)])
    run(store, [b], [evidence(b, client_id=CID)])  # the same client_id: b's case merges into a's
    run(store, [finding("c.example", "mirror", "low")])
    store.db.close()
    return cfg


def cli(config, *args):
    return CliRunner().invoke(main, [*args, "--config", str(config)], catch_exceptions=False)


def test_list_and_show(config):
    rows = json.loads(cli(config, "case", "list", "--json").output)
    assert [(r["id"], r["domain"], r["incidents"], r["severity"]) for r in rows] == [
        (1, "a.example", 3, "critical"), (3, "c.example", 1, "low")
    ]  # fmt: skip
    table = cli(config, "case", "list").output
    assert "a.example" in table and "b.example" not in table and "critical" in table
    shown = cli(config, "case", "show", "1")
    assert shown.exit_code == 0
    for needle in ("case #1 [critical] new  a.example", "b.example", f"client_id  {CID}", "merged", "#2 into #1"):
        assert needle in shown.output, needle
    view = json.loads(cli(config, "case", "show", "1", "--json").output)
    assert {d["domain"] for d in view["domains"]} == {"a.example", "b.example"} and len(view["incidents"]) == 3
    merged = cli(config, "case", "show", "2")
    assert "merged into case #1" in merged.output
    missing = cli(config, "case", "show", "99")
    assert missing.exit_code == 4 and "no case with id 99" in missing.output


def test_workflow_status_assign_note_notice(config):
    out = cli(config, "case", "status", "1", "investigating", "--note", "looking", "--by", "alice")
    assert out.exit_code == 0 and "case #1 is investigating" in out.output
    assert "case #1 is owned by bob" in cli(config, "case", "assign", "1", "bob").output
    assert cli(config, "case", "note", "1", "host is in NL", "--by", "bob").exit_code == 0
    sent = cli(config, "case", "notice-sent", "1", "--to", "hosting", "--message-id", "<n1@sw>",
               "--address", "abuse@host.example", "--json")  # fmt: skip
    view = json.loads(sent.output)
    assert view["status"] == "notice_sent" and view["notices"][0]["address"] == "abuse@host.example"
    assert view["next_check_at"][:10] > view["notice_sent_at"][:10]  # a day later (cases.recheck_after_seconds)
    assert [e["action"] for e in view["timeline"]][-4:] == ["status_changed", "owner_changed", "note", "notice_sent"]
    refused = cli(config, "case", "status", "1", "new")
    assert refused.exit_code == 1 and "case #1 is notice_sent; it cannot become new" in refused.output
    merged = cli(config, "case", "note", "2", "x")
    assert merged.exit_code == 1 and "merged into case #1" in merged.output
    bad = cli(config, "case", "notice-sent", "1", "--to", "police", "--message-id", "x")
    assert bad.exit_code == 2
    assert cli(config, "case", "status", "1", "taken_down").exit_code == 0
    assert [r["id"] for r in json.loads(cli(config, "case", "list", "--status", "taken_down", "--json").output)] == [1]
