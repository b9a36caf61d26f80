"""The ``case`` commands with CliRunner on a real database: list (the web's order and filters, keyset pages), show,
status, assign, note, notice-sent; and their JSON equal to what the JSON API answers for the same database."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.cli.cases import PAGE_MAX
from monitor.incidents import Finding
from monitor.runtime.components import open_store
from monitor.settings import load_settings
from monitor.signatures.catalogue import load_catalogue
from monitor.web.api import MAX_PAGE
from tests.cases.support import CID, evidence, finding, run
from tests.helpers.proc import write_config
from tests.test_http_evidence import request, serving

TRACK = "1234567890"


@pytest.fixture
def config(tmp_path):
    catalogue = tmp_path / "catalogue.csv"
    permalink = "https://soundcloud.com/example-artist/night-drive"
    catalogue.write_text(
        f"id,permalink,media_tokens,title,artist,no_ai,canary\n{TRACK},{permalink},,Night Drive,Example,true,false\n"
    )
    cfg = write_config(tmp_path / "c.yaml", {"storage": {"data_dir": str(tmp_path / "data")},
                                             "catalogue": {"path": str(catalogue)},
                                             "cases": {"recheck_after_seconds": 86400}})  # fmt: skip
    store = open_store(load_settings(cfg, env={}))
    # The incident recorded the track under an older title: the catalogue's title is shown now.
    recorded = {"catalogue_track": {"id": TRACK, "title": "old title", "no_ai": False}}
    a = Finding("exposure:a.example:dl:1", "exposure_downloader", "critical", "a.example", "a.example dl", "", recorded)
    b = finding("b.example", "proxy", "high")
    run(store, [a, finding("a.example", "mirror", "medium")], [evidence(a, client_id=CID)])
    run(store, [b], [evidence(b, client_id=CID)])  # the same client_id: b's case merges into a's
    # Case 3 is low but seen last: most recently seen first puts it above critical case 1 (severity first did not).
    run(store, [finding("c.example", "mirror", "low")])
    store.db.close()
    return cfg


def cli(config, *args):
    return CliRunner().invoke(main, [*args, "--config", str(config)], catch_exceptions=False)


def cli_json(config, *args):
    result = cli(config, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def api(url: str, path: str):
    status, _, body = request(url + path)
    assert status == 200, body
    return json.loads(body)


def test_list_and_show_answer_as_the_api_does(config):
    settings = load_settings(config, env={})
    with serving(settings.storage.database_path, settings.storage.data_dir / "evidence", None,
                 catalogue=load_catalogue(settings.catalogue.path)) as url:  # fmt: skip
        listed = cli_json(config, "case", "list")
        assert [c["id"] for c in listed["cases"]] == [3, 1]  # most recently seen first, as /cases lists them
        assert listed == api(url, "/api/cases")
        page = request(url + "/cases?status=any")[2].decode()
        assert [int(i) for i in re.findall(r'<tr data-id="(\d+)"', page)] == [3, 1]  # the Cases page's order
        for case_id in (1, 2, 3):  # 2 was merged into 1
            assert cli_json(config, "case", "show", str(case_id)) == api(url, f"/api/cases/{case_id}")
        shown = cli_json(config, "case", "show", "1")
        assert shown["tracks"][0]["title"] == "Night Drive" and shown["tracks"][0]["no_ai"] is True
        assert {e["source"] for e in shown["timeline"]} == {"case", "incident"}
        after = cli_json(config, "case", "notice-sent", "1", "--to", "hosting", "--message-id", "<n1@sw>")
        assert after == api(url, "/api/cases/1") and after["status"] == "notice_sent"
        for query, args in (("?severity=critical", ["--severity", "critical"]), ("?domain=b.example", ["--domain",
                            "b.example"]), ("?merged=true&limit=2", ["--merged", "--limit", "2"])):  # fmt: skip
            assert cli_json(config, "case", "list", *args) == api(url, "/api/cases" + query), query
    assert PAGE_MAX == MAX_PAGE


def test_list_filters_and_pages(config):
    assert [c["id"] for c in cli_json(config, "case", "list", "--severity", "low")["cases"]] == [3]
    assert [c["id"] for c in cli_json(config, "case", "list", "--domain", "b.example")["cases"]] == [1]
    assert [c["id"] for c in cli_json(config, "case", "list", "--merged")["cases"]] == [3, 2, 1]
    assert [c["id"] for c in cli_json(config, "case", "list", "--title", "c.example")["cases"]] == [3]
    first = cli_json(config, "case", "list", "--limit", "1")
    assert [c["id"] for c in first["cases"]] == [3] and first["next"]
    second = cli_json(config, "case", "list", "--limit", "1", "--after", first["next"])
    assert [c["id"] for c in second["cases"]] == [1] and second["next"] is None
    text = cli(config, "case", "list", "--limit", "1")
    assert "c.example" in text.output and "a.example" not in text.output and f"--after {first['next']}" in text.stderr
    bad = cli(config, "case", "list", "--after", "nonsense")
    assert bad.exit_code == 2 and "not a cursor" in bad.output
    assert cli(config, "case", "list", "--limit", "0").exit_code == 2
    assert "no cases" in cli(config, "case", "list", "--owner", "nobody-here").output


def test_show_as_text(config):
    table = cli(config, "case", "list").output
    assert table.index("c.example") < table.index("a.example, b.example") and "critical" in table
    shown = cli(config, "case", "show", "1")
    assert shown.exit_code == 0
    for needle in ("case #1 [critical] new  a.example", "b.example", f"client_id  {CID}", "merged", "#2 into #1",
                   "Night Drive", "no_ai", "opened"):  # fmt: skip
        assert needle in shown.output, needle
    merged = cli(config, "case", "show", "2")
    assert "merged into case #1" in merged.output
    missing = cli(config, "case", "show", "99")
    assert missing.exit_code == 4 and "no case with id 99" in missing.output


def test_workflow_status_assign_note_notice(config):
    out = cli(config, "case", "status", "1", "investigating", "--note", "looking", "--by", "alice")
    assert out.exit_code == 0 and "case #1 is investigating" in out.output
    assert "case #1 is owned by bob" in cli(config, "case", "assign", "1", "bob").output
    assert [c["id"] for c in cli_json(config, "case", "list", "--owner", "bob")["cases"]] == [1]
    assert cli(config, "case", "note", "1", "host is in NL", "--by", "bob").exit_code == 0
    view = cli_json(config, "case", "notice-sent", "1", "--to", "hosting", "--message-id", "<n1@sw>",
                    "--address", "abuse@host.example")  # fmt: skip
    assert view["status"] == "notice_sent" and view["notices"][0]["address"] == "abuse@host.example"
    assert view["next_check_at"][:10] > view["notice_sent_at"][:10]  # a day later (cases.recheck_after_seconds)
    case_events = [e["action"] for e in view["timeline"] if e["source"] == "case"]
    assert case_events[-4:] == ["status_changed", "owner_changed", "note", "notice_sent"]
    refused = cli(config, "case", "status", "1", "new")
    assert refused.exit_code == 1 and "case #1 is notice_sent; it cannot become new" in refused.output
    merged = cli(config, "case", "note", "2", "x")
    assert merged.exit_code == 1 and "merged into case #1" in merged.output
    bad = cli(config, "case", "notice-sent", "1", "--to", "police", "--message-id", "x")
    assert bad.exit_code == 2
    assert cli(config, "case", "status", "1", "taken_down").exit_code == 0
    assert [r["id"] for r in cli_json(config, "case", "list", "--status", "taken_down")["cases"]] == [1]
    assert [r["id"] for r in cli_json(config, "case", "list", "--status", "active")["cases"]] == [3]


def test_notice_describes_the_tracks_from_the_catalogue_as_the_case_page_does(config):
    draft = cli(config, "case", "notice", "1", "--to", "site")
    assert draft.exit_code == 0, draft.output
    assert '"Night Drive" by Example' in draft.stdout and "old title" not in draft.stdout
