"""Evidence sightings coalesced: a standing finding's identical evidence is one row with a count and its last time;
a change in substance is a new row; places stay apart; a run applied twice counts once; old databases backfilled."""

from __future__ import annotations

import io
import json
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
import sqlite_utils
from warcio.archiveiterator import ArchiveIterator

from monitor.cases.warc import build_warc
from monitor.db import migrations, open_db
from monitor.incidents import Evaluation, Evidence, Finding
from monitor.store import EvidenceFiles, ProbeRun, Store, case_actions
from monitor.store.evidence_writes import substance
from monitor.web import triage
from tests.helpers.proc import cli, cli_json, write_config

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
KEY = "exposure:dl.example:downloader:-"
FINDING = Finding(KEY, "exposure_downloader", "critical", "dl.example", "Downloader serving SoundCloud audio")
PAGE = b"<html><a download href='https://cf-media.sndcdn.com/abc.128.mp3'>MP3</a></html>"


def at(n: int) -> str:
    return (T0 + timedelta(hours=n)).isoformat(timespec="microseconds")


def probe_run(n: int, key: str | None = None) -> ProbeRun:
    return ProbeRun("exposure_watch:dl.example", "exposure_watch", "dl.example", at(n), at(n), "success", None, 1.0,
                    key=key)  # fmt: skip


def sighting(n: int = 0, url: str = "https://dl.example/get", **changes) -> Evidence:
    """What run ``n`` sees: the same page every hour, but its Date and request-id headers differ every time."""
    fields = dict(
        detail="offers an MP3 download", snippet="<a download href=...abc.128.mp3>", body=PAGE, body_type="text/html",
        headers={"content-type": ["text/html"], "server": ["nginx"], "date": [at(n)], "x-request-id": [f"r{n}"],
                 "cf-ray": [f"{n}-AMS"]},
        data={"policy_expiry": 4102444800, "live": True, "catalogue_track": {"id": "111"}},
    )  # fmt: skip
    fields.update(changes)
    return Evidence(KEY, url, "https://dl.example/", "SC-DL-PAGE", "critical", **fields)


@pytest.fixture
def store(tmp_path):
    s = Store(open_db(tmp_path / "sw.db"), EvidenceFiles(tmp_path / "evidence"))
    yield s
    s.db.close()


def see(store: Store, n: int, evidence: list[Evidence], key: str | None = None) -> int:
    return store.apply(probe_run(n, key), Evaluation("exposure:dl.example", [FINDING]), evidence=evidence).run_id


def rows(store: Store) -> list[dict]:
    return list(store.db.query("SELECT * FROM evidence ORDER BY id"))


def test_a_standing_finding_seen_50_runs_is_one_row_with_50_sightings(store):
    run_ids = [see(store, n, [sighting(n)]) for n in range(50)]
    (row,) = rows(store)
    assert (row["sightings"], row["at"], row["last_seen_at"]) == (50, at(0), at(49))
    assert (row["run_id"], row["last_run_id"]) == (run_ids[0], run_ids[-1])
    assert json.loads(row["headers"])["date"] == [at(0)]  # the row keeps what the first sighting captured
    (shown,) = store.evidence(row["incident_id"])  # what the API and the incident page read
    assert (shown["sightings"], shown["last_seen_at"], shown["last_run_id"]) == (50, at(49), run_ids[-1])
    assert store.db.execute("SELECT count(*) FROM evidence_files").fetchone()[0] == 1


@pytest.mark.parametrize(
    "change",
    [
        {"snippet": "<a download href=...def.128.mp3>"},
        {"body": PAGE + b"<!-- v2 -->"},
        {"detail": "offers an MP3 and a WAV download"},
        {"data": {"policy_expiry": 4102444800, "live": False, "catalogue_track": {"id": "111"}}},  # the link expired
        {"headers": {"content-type": ["audio/mpeg"], "server": ["nginx"], "date": ["later"]}},  # a stable header
        {"screenshot": b"\x89PNG another page"},
    ],
)
def test_a_change_in_substance_is_a_new_row_and_going_back_another(store, change):
    see(store, 0, [sighting(0)])
    see(store, 1, [sighting(1)])
    see(store, 2, [sighting(2, **change)])
    see(store, 3, [sighting(3, **change)])
    see(store, 4, [sighting(4)])  # what went away and came back: a new row, so the history says when
    got = [(r["at"], r["last_seen_at"], r["sightings"]) for r in rows(store)]
    assert got == [(at(0), at(1), 2), (at(2), at(3), 2), (at(4), at(4), 1)]


def test_volatile_headers_do_not_count_and_the_others_do():
    def key(headers):
        return substance("high", "d", "s", json.dumps(headers), "b", None, None, "{}")

    base = {"content-type": ["text/html"], "content-disposition": ["attachment; filename=a.mp3"]}
    noisy = {**base, "Date": ["x"], "Age": ["3"], "Set-Cookie": ["sid=9"], "X-Amzn-RequestId": ["q"], "ETag": ['"7"'],
             "x-cloud-trace-context": ["t"], "x-cache": ["HIT"], "expires": ["y"]}  # fmt: skip
    assert key(base) == key(noisy)
    assert key(base) != key({**base, "content-disposition": ["attachment; filename=b.mp3"]})
    assert key(base) != key({"content-type": ["text/html"]})


def test_two_places_of_one_incident_stay_two_rows_each_counted(store):
    for n in range(3):
        see(store, n, [sighting(n), sighting(n, url="https://dl.example/get?track=2")])
    assert [(r["url"], r["sightings"]) for r in rows(store)] == [
        ("https://dl.example/get", 3),
        ("https://dl.example/get?track=2", 3),
    ]


def test_several_things_at_one_place_in_one_run_each_coalesce_and_a_duplicate_counts_once(store):
    a, b = {"snippet": "link A"}, {"snippet": "link B"}
    for n in range(4):
        see(store, n, [sighting(n, **a), sighting(n, **b), sighting(n, **a)])
    assert [(r["snippet"], r["sightings"], r["last_seen_at"]) for r in rows(store)] == [
        ("link A", 4, at(3)),
        ("link B", 4, at(3)),
    ]
    see(store, 4, [sighting(4, **a)])
    see(store, 5, [sighting(5, **a), sighting(5, **b)])  # B was gone in run 4: seen again, a new row
    assert [(r["snippet"], r["sightings"]) for r in rows(store)] == [("link A", 6), ("link B", 4), ("link B", 1)]


def test_a_run_delivered_twice_counts_one_sighting(store):
    see(store, 0, [sighting(0)], key="coordinator-run-1")
    see(store, 1, [sighting(1)], key="coordinator-run-2")
    see(store, 1, [sighting(1)], key="coordinator-run-2")  # the same result again (a worker retried)
    (row,) = rows(store)
    assert (row["sightings"], row["last_seen_at"]) == (2, at(1))


def test_the_writer_finds_the_latest_rows_by_index(store):
    see(store, 0, [sighting(0)])
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)
    see(store, 1, [sighting(1), sighting(1, url="https://dl.example/other")])
    store.db.conn.set_trace_callback(None)
    (lookup,) = [s for s in statements if s.startswith("WITH k ")]  # one query for every place of the run
    plan = [r[3] for r in store.db.execute("EXPLAIN QUERY PLAN " + lookup)]
    assert any("SEARCH e USING" in p and "evidence_place" in p for p in plan), plan
    assert any("SEARCH x USING COVERING INDEX evidence_place" in p for p in plan), plan
    assert not [p for p in plan if p.startswith("SCAN e") or p.startswith("SCAN x")], plan


def test_an_old_database_is_backfilled_and_its_rows_coalesce_with_new_sightings(tmp_path):
    path = tmp_path / "old.db"
    old = sqlite_utils.Database(path)
    migrations.apply(old, stop_before="0014_evidence_sightings")
    old.execute(
        "INSERT INTO probe_runs (id, job, probe, domain, started_at, finished_at, outcome, duration_seconds) "
        "VALUES (1, 'exposure_watch:dl.example', 'exposure_watch', 'dl.example', ?, ?, 'success', 1)",
        [at(0), at(0)],
    )
    old.execute(
        "INSERT INTO incidents (id, dedupe_key, kind, severity, status, domain, scope, title, detail, data, "
        "first_seen, last_seen, occurrences, updated_at) VALUES (1, ?, 'exposure_downloader', 'critical', 'open', "
        "'dl.example', 'exposure:dl.example', ?, '', '{}', ?, ?, 1, ?)",
        [KEY, FINDING.title, at(0), at(0), at(0)],
    )
    e = sighting(0, body=None)
    for url in ("https://dl.example/get", "https://dl.example/other"):
        old.execute(
            "INSERT INTO evidence (incident_id, run_id, at, url, page_url, signature, severity, detail, snippet, "
            "headers, data) VALUES (1, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [at(0), url, e.page_url, e.signature, e.severity, e.detail, e.snippet, json.dumps(e.headers),
             json.dumps(e.data)],
        )  # fmt: skip
    old.conn.commit()
    old.conn.close()
    store = Store(open_db(path), EvidenceFiles(tmp_path / "evidence"))
    assert [(r["last_seen_at"], r["last_run_id"], r["sightings"]) for r in rows(store)] == [(at(0), 1, 1)] * 2
    see(store, 1, [sighting(1, body=None)])  # the first place seen again, identical: counted on the old row
    assert [(r["url"], r["sightings"], r["last_seen_at"]) for r in rows(store)] == [
        ("https://dl.example/get", 2, at(1)),
        ("https://dl.example/other", 1, at(0)),
    ]
    with pytest.raises(sqlite3.IntegrityError):  # sightings is NOT NULL like the columns it joins
        store.db.execute("UPDATE evidence SET sightings = NULL")
    assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store.db.close()


def test_a_sighting_after_the_notice_shows_on_the_case(store):
    see(store, 0, [sighting(0)])
    (case,) = list(store.db.query("SELECT id FROM cases"))
    case_actions.notice_sent(store, case["id"], "hosting", "abuse@host.example", "<n@sw>", "alice", 60)
    sent = store.db.execute("SELECT notice_sent_at FROM cases").fetchone()[0]
    later = datetime.fromisoformat(sent) + timedelta(hours=1)
    run = ProbeRun("exposure_watch:dl.example", "exposure_watch", "dl.example", later.isoformat(),
                   later.isoformat(), "success", None, 1.0)  # fmt: skip
    store.apply(run, Evaluation("exposure:dl.example", [FINDING]), evidence=[sighting(0)])
    (row,) = store.case_facts(case["id"])["evidence"]
    assert row["sightings"] == 2 and row["at"] < sent < row["last_seen_at"]  # still up after the notice, and when
    assert case_actions.due_rechecks(store, "9999")[0]["urls"] == ["https://dl.example/", "https://dl.example/get"]


def test_pages_and_bundles_say_how_often_and_when_last(store, tmp_path):
    for n in range(3):
        see(store, n, [sighting(n)])
    see(store, 3, [sighting(3, snippet="something else")])
    incident_id = rows(store)[0]["incident_id"]
    html = triage.render_detail(store.get_incident(incident_id), store.evidence(incident_id), False).decode()
    assert html.count("seen 3 times, last") == 1 and f'datetime="{at(2)}"' in html
    (case,) = list(store.db.query("SELECT id FROM cases"))
    out = io.BytesIO()
    assert build_warc(store.case_facts(case["id"])["evidence"], store.files, out) == []
    records = [r.rec_headers for r in ArchiveIterator(io.BytesIO(out.getvalue())) if r.rec_type != "request"]
    assert [h.get_header("WARC-Scrapewatch-Sightings") for h in records] == ["3", None]  # a response, a revisit
    assert records[0].get_header("WARC-Scrapewatch-Last-Seen") == "2026-03-01T11:00:00Z"
    assert records[0].get_header("WARC-Date") == "2026-03-01T09:00:00Z"  # the capture's own time


def test_incidents_show_lists_evidence_with_first_and_last_seen_and_sightings(tmp_path):
    write_config(tmp_path / "c.yaml", {"storage": {"data_dir": str(tmp_path / "data")}})
    store = Store(open_db(tmp_path / "data" / "scrapewatch.db"), EvidenceFiles(tmp_path / "data" / "evidence"))
    for n in range(4):
        see(store, n, [sighting(n)])
    see(store, 4, [sighting(4, snippet="changed")])
    incident_id = rows(store)[0]["incident_id"]
    store.db.close()
    out = cli("incidents", "show", str(incident_id), "--config", str(tmp_path / "c.yaml"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    table = out.stdout.split("Evidence (all;")[1].splitlines()
    assert "first seen (UTC)" in table[1] and "sightings" in table[1]
    newest, first = table[3].split(), table[4].split()
    assert newest[:3] == [at(4)[:19], at(4)[:19], "1"] and first[:3] == [at(0)[:19], at(3)[:19], "4"]
    shown = cli_json("incidents", "show", str(incident_id), "--config", str(tmp_path / "c.yaml"), cwd=tmp_path)
    assert [(e["sightings"], e["last_seen_at"]) for e in shown["evidence"]] == [(1, at(4)), (4, at(3))]
    assert shown["evidence_more"] is False
