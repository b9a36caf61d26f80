"""Evidence bundles: reproducible bytes, the WARC and manifest inside, verification, missing evidence, the record."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import zipfile

import pytest
from warcio.archiveiterator import ArchiveIterator

from monitor.cases.bundle import GENESIS, chain_link, export, record_export, recorded_heads, verify
from monitor.errors import StorageError
from monitor.incidents import Evaluation, Evidence, Finding
from monitor.store import ProbeRun
from tests.notices.cases import AUDIO_HEAD, PAGE, SHOT, add_event, refresh, seeded


@pytest.fixture
def case(tmp_path):
    return seeded(tmp_path)


def _members(path):
    with zipfile.ZipFile(path) as archive:
        return [(info, archive.read(info)) for info in archive.infolist()]


def _records(warc):
    """The WARC's records, each with its payload read while the iterator is on it."""
    return [(r, r.content_stream().read()) for r in ArchiveIterator(io.BytesIO(warc))]


def _rewrite(path, members):
    """Write ``members`` (ZipInfo, bytes) back as a zip, keeping each member's own metadata."""
    with zipfile.ZipFile(path, "w") as archive:
        for info, content in members:
            archive.writestr(info, content)


def test_the_same_case_state_gives_the_same_bytes_and_a_new_event_a_new_head(case, tmp_path):
    store, facts = case
    first = export(facts, store.files, tmp_path / "a")
    second = export(facts, store.files, tmp_path / "b")
    assert first.path.read_bytes() == second.path.read_bytes() and first.chain_head == second.chain_head
    # Recording the export adds an `exported` event: not part of the state a bundle captures.
    record_export(store.db, facts["id"], first, "ana", "2026-11-05T10:00:00+00:00")
    again = export(refresh(store, facts), store.files, tmp_path / "c")
    assert again.path.read_bytes() == first.path.read_bytes()
    add_event(store, facts["id"], "2026-11-04T08:00:00+00:00", "note")
    changed = export(refresh(store, facts), store.files, tmp_path / "d")
    assert changed.chain_head != first.chain_head and changed.exported_at == "2026-11-04T08:00:00+00:00"
    assert verify(changed.path).ok


def test_the_bundle_holds_the_warc_screenshots_request_log_and_case(case, tmp_path):
    store, facts = case
    result = export(facts, store.files, tmp_path / "out")
    members = _members(result.path)
    names = [info.filename for info, _ in members]
    shot = hashlib.sha256(SHOT).hexdigest()
    assert names[:2] == ["case.json", "evidence.warc.gz"] and names[-1] == "manifest.json"
    assert f"screenshots/{shot}.png" in names and len(names) == 5 and result.files == 4
    content = dict((info.filename, data) for info, data in members)
    assert content[f"screenshots/{shot}.png"] == SHOT
    assert all(info.date_time == (2026, 11, 1, 9, 0, 4) and info.external_attr == 0o644 << 16 for info, _ in members)
    state = json.loads(content["case.json"])
    assert state["exported_at"] == "2026-11-01T09:00:05+00:00" and state["case"]["id"] == facts["id"]
    assert [i["id"] for i in state["case"]["incidents"]] == [i["id"] for i in facts["incidents"]]
    assert [e["action"] for e in state["case"]["timeline"]] == ["opened"]
    read = _records(content["evidence.warc.gz"])
    records = [r for r, _ in read]
    kinds = [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI")) for r in records]
    assert kinds == [
        ("response", "https://dl.example/"),
        ("request", "https://dl.example/"),
        ("response", "https://cf-media.sndcdn.com/abc.128.mp3?Policy=x"),
        ("request", "https://cf-media.sndcdn.com/abc.128.mp3?Policy=x"),
        ("request", "https://dl.example/track/1"),  # a link match: no response was kept, none is made up
    ]
    assert {r.rec_headers.get_header("WARC-Date") for r in records} == {"2026-11-01T09:00:05Z"}
    ids = [r.rec_headers.get_header("WARC-Record-ID") for r in records]
    assert len(set(ids)) == 5 and records[1].rec_headers.get_header("WARC-Concurrent-To") == ids[0]
    page, audio = read[0], read[2]
    assert page[0].http_headers.get_header("X-Archive-Orig-content-encoding") == "gzip"
    assert page[0].http_headers.get_header("content-encoding") is None and page[1] == PAGE
    assert audio[1] == AUDIO_HEAD and audio[0].http_headers.get_header("content-type") == "audio/mpeg"
    assert gzip.decompress(content["evidence.warc.gz"]).startswith(b"WARC/1.0\r\n")


def test_the_manifest_chains_every_entry_and_ends_in_the_head(case, tmp_path):
    store, facts = case
    result = export(facts, store.files, tmp_path)
    manifest = json.loads(dict((i.filename, d) for i, d in _members(result.path))["manifest.json"])
    chain = GENESIS
    for entry, (info, data) in zip(manifest["files"], _members(result.path)[:-1], strict=True):
        assert entry["name"] == info.filename and entry["size"] == len(data)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        chain = chain_link(chain, entry["sha256"], entry["name"])
        assert entry["chain"] == chain
    assert manifest["chain_head"] == chain == result.chain_head and manifest["missing"] == 0


def test_verify_accepts_an_intact_bundle(case, tmp_path):
    store, facts = case
    result = export(facts, store.files, tmp_path)
    checked = verify(result.path)
    assert checked.ok and checked.problems == [] and checked.chain_head == result.chain_head
    assert checked.case_id == facts["id"] and checked.files == 4


@pytest.mark.parametrize("index", [0, 1, 2, 3, 4])
def test_verify_rejects_one_changed_byte_in_any_member(case, tmp_path, index):
    store, facts = case
    path = export(facts, store.files, tmp_path).path
    members = _members(path)
    info, data = members[index]
    flipped = bytearray(data)
    flipped[len(flipped) // 2] ^= 0x01
    members[index] = (info, bytes(flipped))
    _rewrite(path, members)
    checked = verify(path)
    assert not checked.ok
    if info.filename == "manifest.json":
        assert any("manifest" in p or "SHA-256" in p or "chain" in p for p in checked.problems), checked.problems
    else:
        assert f"{info.filename} does not match its SHA-256 in the manifest" in checked.problems


def test_verify_rejects_a_flipped_byte_in_the_archive_file(case, tmp_path):
    store, facts = case
    path = export(facts, store.files, tmp_path).path
    raw = bytearray(path.read_bytes())
    raw[200] ^= 0xFF  # inside the first member's compressed data
    path.write_bytes(bytes(raw))
    assert not verify(path).ok


def test_verify_rejects_reordered_removed_and_extra_members(case, tmp_path):
    store, facts = case
    path = export(facts, store.files, tmp_path).path
    members = _members(path)
    _rewrite(path, [members[1], members[0], *members[2:]])
    assert verify(path).problems == ["bundle members are not in manifest order"]
    _rewrite(path, [m for i, m in enumerate(members) if i != 3])
    assert f"{members[3][0].filename} is in the manifest but not in the bundle" in verify(path).problems
    extra = zipfile.ZipInfo("notes.txt", members[0][0].date_time)
    _rewrite(path, [*members[:-1], (extra, b"added later"), members[-1]])
    assert verify(path).problems == ["notes.txt is in the bundle but not in the manifest"]
    _rewrite(path, members[:-1])
    assert "manifest.json must be the bundle's last member" in verify(path).problems[0]
    path.write_bytes(b"not a zip")
    assert "cannot read" in verify(path).problems[0]


def test_verify_rejects_reordered_manifest_entries_and_a_changed_head(case, tmp_path):
    store, facts = case
    path = export(facts, store.files, tmp_path).path
    members = _members(path)
    manifest = json.loads(members[-1][1])
    manifest["files"][0], manifest["files"][1] = manifest["files"][1], manifest["files"][0]
    _rewrite(path, [*members[:-1], (members[-1][0], json.dumps(manifest).encode())])
    assert "manifest chain broken at evidence.warc.gz" in verify(path).problems
    manifest = json.loads(members[-1][1])
    manifest["chain_head"] = "f" * 64
    _rewrite(path, [*members[:-1], (members[-1][0], json.dumps(manifest).encode())])
    assert verify(path).problems == ["manifest chain head does not match its entries"]


def test_evidence_missing_on_disk_is_listed_and_the_bundle_still_written(case, tmp_path):
    store, facts = case
    body = hashlib.sha256(PAGE).hexdigest()
    shot = hashlib.sha256(SHOT).hexdigest()
    store.files.path(body).unlink()
    store.files.path(shot).write_bytes(b"altered after the fact")
    result = export(facts, store.files, tmp_path / "out")
    assert result.path.exists()
    assert [(m.name, m.reason, m.evidence_ids) for m in result.missing] == [
        (f"bodies/{body}", "not on disk", (facts["evidence"][0]["id"],)),
        (f"screenshots/{shot}.png", "content does not match its hash", (facts["evidence"][0]["id"],)),
    ]
    checked = verify(result.path)
    assert checked.problems == [
        f"bodies/{body} (body) was missing at export: not on disk",
        f"screenshots/{shot}.png (screenshot) was missing at export: content does not match its hash",
    ]
    names = [info.filename for info, _ in _members(result.path)]
    assert f"screenshots/{shot}.png" not in names
    warc = dict((i.filename, d) for i, d in _members(result.path))["evidence.warc.gz"]
    responses = [r.rec_headers.get_header("WARC-Target-URI") for r, _ in _records(warc) if r.rec_type == "response"]
    assert responses == ["https://cf-media.sndcdn.com/abc.128.mp3?Policy=x"]


def test_an_export_is_recorded_and_verify_checks_the_recorded_head(case, tmp_path):
    store, facts = case
    result = export(facts, store.files, tmp_path)
    assert verify(result.path, set()).problems == [
        f"chain head {result.chain_head} is not one recorded for case {facts['id']} in the database"
    ]
    record_export(store.db, facts["id"], result, "ana", "2026-11-05T10:00:00+00:00")
    assert recorded_heads(store.db, facts["id"]) == {result.chain_head}
    assert verify(result.path, lambda case_id: recorded_heads(store.db, case_id)).ok
    row = store.db.execute("SELECT case_id, path, files, actor FROM case_exports").fetchone()
    assert row == (facts["id"], str(result.path), 4, "ana")
    event = store.db.execute("SELECT action, data FROM case_events WHERE action = 'exported'").fetchone()
    assert json.loads(event[1])["chain_head"] == result.chain_head


def test_verify_rejects_a_change_anywhere_in_the_file(case, tmp_path):
    store, facts = case
    path = export(facts, store.files, tmp_path).path
    raw = path.read_bytes()
    step = max(1, len(raw) // 200)
    for offset in [*range(0, len(raw), step), len(raw) - 1]:  # headers, contents, central directory, end record
        flipped = bytearray(raw)
        flipped[offset] ^= 0x20
        path.write_bytes(bytes(flipped))
        assert not verify(path).ok, offset
    path.write_bytes(raw)
    assert verify(path).ok


def test_a_body_seen_again_is_a_revisit_of_the_first_response(case, tmp_path):
    store, facts = case
    # Seen again with other headers: a new evidence row (an identical sighting would only count on the first).
    again = Evidence(f"exposure:{facts['domain']}:downloader:-", "https://dl.example/", "https://dl.example/",
                     "SC-DL-PAGE", "critical", body=PAGE, body_type="text/html",
                     headers={"content-type": ["text/html; charset=utf-8"]})  # fmt: skip
    finding = Finding(again.dedupe_key, "exposure_downloader", "critical", "dl.example", "Downloader")
    run = ProbeRun("exposure_watch:dl.example", "exposure_watch", "dl.example", "2026-11-02T09:00:00+00:00",
                   "2026-11-02T09:00:05+00:00", "success", None, 5.0)  # fmt: skip
    store.apply(run, Evaluation("exposure:dl.example", [finding]), evidence=[again])
    result = export(refresh(store, facts), store.files, tmp_path)
    warc = dict((i.filename, d) for i, d in _members(result.path))["evidence.warc.gz"]
    records = _records(warc)
    first, revisit = records[0][0], records[-2][0]
    assert revisit.rec_type == "revisit" and records[-2][1] == b""
    assert revisit.rec_headers.get_header("WARC-Refers-To-Target-URI") == "https://dl.example/"
    assert revisit.rec_headers.get_header("WARC-Refers-To-Date") == "2026-11-01T09:00:05Z"
    assert revisit.rec_headers.get_header("WARC-Payload-Digest") == first.rec_headers.get_header("WARC-Payload-Digest")
    assert revisit.rec_headers.get_header("WARC-Date") == "2026-11-02T09:00:05Z" and verify(result.path).ok


def test_recording_an_export_is_one_transaction(case, tmp_path):
    store, facts = case
    result = export(facts, store.files, tmp_path)
    store.db.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON case_events WHEN NEW.action = 'exported' "
        "BEGIN SELECT RAISE(ABORT, 'timeline refused'); END"
    )
    with pytest.raises(StorageError, match=r"timeline refused.*nothing was recorded"):
        record_export(store.db, facts["id"], result, "ana", "2026-11-05T10:00:00+00:00")
    assert recorded_heads(store.db, facts["id"]) == set() and not store.db.conn.in_transaction


@pytest.mark.parametrize(
    "files", [{"case.json": 1}, [1, 2], [{"name": 1, "sha256": "x"}], [{"name": "case.json"}], "case.json"]
)
def test_a_manifest_of_the_wrong_shape_is_reported_not_raised(case, tmp_path, files):
    store, facts = case
    path = export(facts, store.files, tmp_path).path
    members = _members(path)
    manifest = {**json.loads(members[-1][1]), "files": files}
    _rewrite(path, [*members[:-1], (members[-1][0], json.dumps(manifest).encode())])
    assert verify(path).problems[0].startswith("manifest.json is damaged")
