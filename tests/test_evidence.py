"""Evidence files under the data directory and evidence rows in SQLite: stored once, atomic, clear on a full disk."""

from __future__ import annotations

import hashlib

import pytest

from monitor.db import open_db
from monitor.errors import StorageError
from monitor.incidents import Evaluation, Evidence, Finding
from monitor.store.core import ProbeRun, Store
from monitor.store.files import EvidenceFiles
from tests.test_full_disk import tiny_disk  # noqa: F401  (fixture)

RUN = ProbeRun("exposure_watch:dl", "exposure_watch", "dl", "t0", "t1", "success", None, 0.5)


def test_content_is_stored_once_by_hash(tmp_path):
    files = EvidenceFiles(tmp_path / "evidence")
    a = files.put(b"<html>downloader</html>", "body", "text/html")
    b = files.put(b"<html>downloader</html>", "body", "text/html")
    assert a == b and a.sha256 == hashlib.sha256(b"<html>downloader</html>").hexdigest()
    assert files.get(a.sha256) == b"<html>downloader</html>"
    assert [p.name for p in (tmp_path / "evidence").rglob("*") if p.is_file()] == [a.sha256]
    assert files.get("0" * 64) is None and files.get("../../etc/passwd") is None
    with pytest.raises(ValueError):
        files.path("../x")


def test_a_full_disk_is_a_storage_error_and_leaves_no_partial_file(tiny_disk):  # noqa: F811
    files = EvidenceFiles(tiny_disk / "evidence")
    with pytest.raises(StorageError, match="evidence file"):
        files.put(b"x" * 2_000_000, "body")
    assert not [p for p in (tiny_disk / "evidence").rglob("*") if p.is_file()]


def test_exposure_run_writes_incidents_and_evidence_in_one_transaction(tmp_path):
    files = EvidenceFiles(tmp_path / "evidence")
    store = Store(open_db(tmp_path / "sw.db"), files)
    page = b"<a href='https://cf-media.sndcdn.com/x.128.mp3'>"
    body = files.put(page, "body", "text/html")
    shot = files.put(b"\x89PNG fake", "screenshot", "image/png")
    finding = Finding("exposure:dl.example:downloader:-", "exposure_downloader", "critical", "dl.example", "t")
    rows = [
        Evidence(finding.dedupe_key, "https://dl.example/", "https://dl.example/", "SC-DL-PAGE", "critical",
                 body=page, body_type="text/html", screenshot=b"\x89PNG fake", headers={"content-type": ["text/html"]}),
        Evidence(finding.dedupe_key, "https://dl.example/a", "https://dl.example/", "SC-CDN-PROGRESSIVE", "high",
                 body=page, body_type="text/html"),
        Evidence("exposure:elsewhere:-:-", "https://x/", "https://x/", "SC-X", "high"),  # no finding: dropped
    ]  # fmt: skip
    applied = store.apply(RUN, Evaluation("exposure:dl", [finding]), evidence=rows)
    incident_id = applied.incident_ids[finding.dedupe_key]
    evidence = store.evidence(incident_id)
    assert [e["signature"] for e in evidence] == ["SC-CDN-PROGRESSIVE", "SC-DL-PAGE"]
    assert evidence[1]["headers"] == {"content-type": ["text/html"]} and evidence[1]["screenshot_sha256"] == shot.sha256
    assert store.evidence_file(body.sha256)["kind"] == "body"
    assert store.db.execute("SELECT count(*) FROM evidence_files").fetchone()[0] == 2
    assert store.active_keys("exposure:dl") == [finding.dedupe_key]
