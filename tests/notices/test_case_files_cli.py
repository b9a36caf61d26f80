"""The notice, export and verify commands, attached to a small click group as the `case` group attaches them."""

from __future__ import annotations

import email
import hashlib
import json
import zipfile
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

from monitor.cli.case_files import export, notice, verify
from monitor.store import Store
from tests.notices.cases import SHOT, refresh, seeded


@click.group()
def case() -> None:
    """Cases (the test's stand-in for the `case` group)."""


for command in (notice, export, verify):
    case.add_command(command)


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A configured data directory holding one case, and Store.case_facts reading it (from this test's builder)."""
    store, facts = seeded(tmp_path)
    ids = [i["id"] for i in facts["incidents"]]
    config = tmp_path / "config.yaml"
    settings = {
        "storage": {"data_dir": str(tmp_path / "data")},
        "notices": {"sender_name": "Ana Lys", "sender_email": "legal@soundcloud.example"},
    }
    config.write_text(yaml.safe_dump(settings))

    def case_facts(self, case_id, catalogue=None):
        return refresh(self, facts, ids) if case_id == facts["id"] else None

    monkeypatch.setattr(Store, "case_facts", case_facts, raising=False)
    return store, facts, config


def run(*args):
    return CliRunner().invoke(case, [str(a) for a in args], catch_exceptions=False)


def test_notice_prints_the_draft_and_says_what_is_missing(env):
    _, facts, config = env
    result = run("notice", facts["id"], "--to", "hosting", "--config", config)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("To: abuse@hostco.example\n") and "https://dl.example/track/1" in result.stdout
    assert "to: abuse@hostco.example" in result.stderr
    assert "missing: good_faith, accuracy, signature" in result.stderr


def test_notice_writes_an_eml_with_its_message_id(env, tmp_path):
    _, facts, config = env
    out = tmp_path / "notice.eml"
    result = run("notice", facts["id"], "--to", "site", "--format", "eml", "--out", out, "--config", config,
                 "--confirm-good-faith", "--confirm-accuracy")  # fmt: skip
    assert result.exit_code == 0, result.output
    msg = email.message_from_bytes(out.read_bytes())
    assert msg["To"] == "abuse@dl.example" and f"message-id: {msg['Message-ID']}" in result.stderr
    assert "missing:" not in result.stderr


def test_notice_errors_write_nothing(env, tmp_path):
    _, facts, config = env
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "notice.md.j2").write_text("{{ case.nope }}")
    settings = yaml.safe_load(config.read_text())
    settings["notices"]["templates_dir"] = str(templates)
    config.write_text(yaml.safe_dump(settings))
    out = tmp_path / "draft.md"
    result = run("notice", facts["id"], "--to", "hosting", "--out", out, "--config", config)
    assert result.exit_code == 2 and "notice template notice.md.j2" in result.stderr and "nope" in result.stderr
    assert not out.exists() and list(tmp_path.glob(".draft.md*")) == []
    assert run("notice", 999, "--to", "hosting", "--config", config).exit_code == 4
    assert run("notice", facts["id"], "--to", "hosting", "--format", "pdf", "--config", config).exit_code == 2
    bad = run("notice", facts["id"], "--to", "site", "--address", "x@y.example\nBcc: z@w.example", "--config", config)
    assert bad.exit_code == 2 and "plain mail address" in bad.stderr


def test_export_then_verify_then_tamper(env):
    store, facts, config = env
    result = run("export", facts["id"], "--config", config)
    assert result.exit_code == 0, result.output
    path = result.stdout.splitlines()[0]
    assert path.startswith(str(config.parent / "data" / "exports" / f"case-{facts['id']}-"))
    head = store.db.execute("SELECT chain_head FROM case_exports").fetchone()[0]
    assert f"chain head {head}, 4 files" in result.stdout
    assert store.db.execute("SELECT count(*) FROM case_events WHERE action = 'exported'").fetchone()[0] == 1
    ok = run("verify", path, "--against-db", "--config", config)
    assert ok.exit_code == 0 and ok.stdout == f"ok: case {facts['id']}, 4 files, chain head {head}\n"
    # The same state exported again: the same file, the same head.
    assert run("export", facts["id"], "--config", config).stdout.splitlines()[0] == path
    raw = bytearray(Path(path).read_bytes())
    raw[-300] ^= 0x01  # in the central directory or the manifest: either way the bundle is no longer intact
    with open(path, "wb") as fh:
        fh.write(bytes(raw))
    bad = run("verify", path)
    assert bad.exit_code == 1 and bad.stdout.startswith("problem: ") and "failed verification" in bad.stderr


def test_export_with_a_missing_evidence_file_writes_the_bundle_and_says_so(env, tmp_path):
    store, facts, config = env
    shot = hashlib.sha256(SHOT).hexdigest()
    store.files.path(shot).unlink()
    out = tmp_path / "bundles"
    result = run("export", facts["id"], "--out", out, "--config", config)
    assert result.exit_code == 1 and f"MISSING screenshot {shot}" in result.stderr
    assert "1 evidence file(s) missing" in result.stderr
    [bundle] = out.glob("*.zip")
    checked = run("verify", bundle)
    assert checked.exit_code == 1 and f"problem: screenshots/{shot}.png (screenshot) was missing" in checked.stdout
    manifest = json.loads(zipfile.ZipFile(bundle).read("manifest.json"))
    assert manifest["missing"] == 1
