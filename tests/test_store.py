"""The writer against a real SQLite file: one probe result is one transaction, events and outbox included."""

import pytest

from monitor.db import open_db
from monitor.errors import InvalidTransition, NotFound, StorageError
from monitor.incidents import Evaluation
from monitor.policy.snapshot import Fetched, evaluate
from monitor.store.core import ProbeRun, Store, utcnow
from spiders.items import PolicyFileItem

V1 = b"User-agent: GPTBot\nDisallow: /\n"
V2 = b"User-agent: GPTBot\nAllow: /\n"


def run_policy(store: Store, robots: tuple[int | None, bytes], domain="soundcloud.com"):
    status, body = robots
    item = PolicyFileItem(domain, "robots.txt", f"https://{domain}/robots.txt", status=status, body=body,
                          size=len(body), error_kind=None if status else "timeout")  # fmt: skip
    verdict = evaluate(
        Fetched(domain, "robots.txt", status, body, item.error_kind), store.previous_file(domain, "robots.txt")
    )
    ev = Evaluation(f"policy_snapshot:{domain}", list(verdict.findings), list(verdict.cleared))
    now = utcnow()
    run = ProbeRun("job", "policy_snapshot", domain, now, now, "success", None, 0.1)
    return store.apply(run, ev, files=[(item, verdict)])


def count(store, table):
    return store.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_migrations_create_tables_in_wal_mode(tmp_path):
    db = open_db(tmp_path / "x.db")
    assert {"probe_runs", "bodies", "observations", "snapshots", "incidents", "incident_events", "alert_outbox"} <= set(
        db.table_names()
    )
    assert db.journal_mode == "wal"
    db.close()
    open_db(tmp_path / "x.db").close()  # re-opening applies nothing twice


def test_change_history_versions_bodies_incidents_and_outbox(store):
    run_policy(store, (200, V1))
    run_policy(store, (200, V1))
    assert count(store, "snapshots") == 1 and count(store, "bodies") == 1 and count(store, "observations") == 2
    applied = run_policy(store, (200, V2))
    assert [t.action for t in applied.transitions] == ["opened"]
    run_policy(store, (200, V1))  # flips back: a new version, the same body stored once
    assert count(store, "snapshots") == 3 and count(store, "bodies") == 2
    (inc,) = store.list_incidents()
    assert inc["kind"] == "policy_file_changed" and inc["occurrences"] == 2 and inc["status"] == "open"
    full = store.get_incident(inc["id"])
    assert [e["action"] for e in full["events"]] == ["opened", "updated"]
    outbox = list(store.db.query("SELECT * FROM alert_outbox"))
    assert len(outbox) == 1 and outbox[0]["transition"] == "opened" and outbox[0]["status"] == "pending"
    assert outbox[0]["idempotency_key"] == f"incident-{inc['id']}-event-{full['events'][0]['id']}"


def test_unreachable_then_recovery_resolves(store):
    run_policy(store, (200, V1))
    assert [t.action for t in run_policy(store, (None, b"")).transitions] == []  # one failed fetch is weather
    run_policy(store, (None, b""))  # the second in a row is an incident
    (inc,) = store.list_incidents(status="open")
    assert inc["kind"] == "policy_file_unreachable"
    run_policy(store, (200, V1))
    assert store.get_incident(inc["id"])["status"] == "resolved"
    run_policy(store, (503, b""))
    assert store.get_incident(inc["id"])["status"] == "resolved"
    run_policy(store, (503, b""))
    assert store.get_incident(inc["id"])["status"] == "open"  # reopened
    actions = [e["action"] for e in store.get_incident(inc["id"])["events"]]
    assert actions == ["opened", "resolved", "reopened"]
    assert count(store, "alert_outbox") == 3


def test_a_failure_inside_the_transaction_writes_nothing(store, monkeypatch):
    run_policy(store, (200, V1))
    before = {t: count(store, t) for t in ("probe_runs", "observations", "snapshots", "incidents", "alert_outbox")}

    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store, "_write_transition", boom)
    with pytest.raises(RuntimeError):
        run_policy(store, (200, V2))
    after = {t: count(store, t) for t in before}
    assert after == before
    monkeypatch.undo()
    assert [t.action for t in run_policy(store, (200, V2)).transitions] == ["opened"]  # the next cycle finds it


def test_manual_changes_write_events_and_refuse_invalid(store):
    run_policy(store, (200, V1))
    run_policy(store, (200, V2))
    (inc,) = store.list_incidents()
    out = store.change_incident(inc["id"], "acknowledged", "alice", "looking")
    assert out["status"] == "acknowledged"
    assert out["events"][-1]["actor"] == "alice" and out["events"][-1]["note"] == "looking"
    store.change_incident(inc["id"], "false_positive", "bob", "planned change")
    run_policy(store, (200, V1))  # seen again: counted, silent
    inc2 = store.get_incident(inc["id"])
    assert inc2["status"] == "false_positive" and inc2["occurrences"] == 2
    assert count(store, "alert_outbox") == 1
    with pytest.raises(InvalidTransition):
        store.change_incident(inc["id"], "acknowledged", "carol", "x")
    with pytest.raises(NotFound):
        store.change_incident(9999, "resolved", "carol", "x")


def test_filters_and_pagination(store):
    for i in range(5):
        run_policy(store, (200, V1), domain=f"d{i}.example")
        run_policy(store, (None, b""), domain=f"d{i}.example")
        run_policy(store, (None, b""), domain=f"d{i}.example")
    assert store.count_incidents(kind="policy_file_unreachable") == 5
    page = store.list_incidents(limit=2, offset=1)
    assert len(page) == 2
    assert store.count_incidents(severity="critical") == 0
    assert store.count_incidents(since="2999-01-01T00:00:00") == 0


def test_unwritable_location_is_a_clear_storage_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StorageError, match="cannot create the database directory"):
        open_db(blocker / "sub" / "x.db")


def test_not_a_database_is_a_clear_storage_error(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError, match=r"bad.db is damaged \(integrity_check: file is not a database\)"):
        open_db(bad)


def test_integrity_after_many_runs(store):
    for i in range(20):
        run_policy(store, (200, V1 if i % 2 else V2))
    assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_database_from_before_error_runs_is_migrated_with_its_runs(tmp_path):
    import sqlite3

    import sqlite_utils

    from monitor.db import migrations

    path = tmp_path / "old.db"
    old = sqlite_utils.Database(path)
    migrations.apply(old, stop_before="0005_run_error_detail")
    old.execute(
        "INSERT INTO probe_runs (job, probe, domain, started_at, finished_at, outcome, duration_seconds) "
        "VALUES ('j', 'policy_snapshot', 'd', 't0', 't1', 'failure', 1)"
    )
    old.conn.commit()
    old.conn.close()
    db = open_db(path)
    assert [r["outcome"] for r in db.query("SELECT outcome FROM probe_runs")] == ["failure"]
    db.execute(
        "INSERT INTO probe_runs (job, probe, domain, started_at, finished_at, outcome, error_detail, duration_seconds)"
        " VALUES ('j', 'policy_snapshot', 'd', 't2', 't3', 'error', 'ValueError: x', 1)"
    )
    with pytest.raises(sqlite3.IntegrityError):
        db.execute(
            "INSERT INTO probe_runs (job, probe, domain, started_at, finished_at, outcome, duration_seconds) "
            "VALUES ('j', 'p', 'd', 't', 't', 'maybe', 1)"
        )
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
