"""Alert tables against a real SQLite file: fan-out per channel, outbox status, mutes, retry, probe health."""

from __future__ import annotations

from datetime import timedelta

import pytest

from monitor.alerts.router import Mute
from monitor.db import open_db
from monitor.errors import InvalidTransition, NotFound
from monitor.incidents import Evaluation
from monitor.settings import AlertChannel
from monitor.store import alerts as store_alerts
from monitor.store.core import ProbeRun, Store, utcnow
from tests.alerts.support import finding, rows, write_findings

HOOK = "json://127.0.0.1:9/hook"


def test_migration_0003_adds_deliveries_and_mutes(tmp_path):
    db = open_db(tmp_path / "a.db")
    assert {"alert_deliveries", "alert_mutes"} <= set(db.table_names())
    assert "routed_at" in db["alert_outbox"].columns_dict
    applied = [r["name"] for r in db.query("SELECT name FROM _sqlite_migrations ORDER BY id")]
    assert applied.index("0003_alert_deliveries") == applied.index("0002_policy_verdicts") + 1
    db.close()
    open_db(tmp_path / "a.db").close()  # applies nothing twice


def test_routing_fans_out_one_delivery_per_channel_in_one_transaction(store, clock):
    write_findings(store, [finding(1, severity="high"), finding(2, severity="low", kind="policy_lint")])
    channels = {
        "chat": AlertChannel(name="chat", url=HOOK, min_severity="medium"),
        "mail": AlertChannel(name="mail", url=HOOK, kinds=["policy_lint"]),
    }
    muted = store_alerts.route_new(store, channels, [], clock())
    assert muted == {}
    got = rows(store, "SELECT d.channel, d.status, d.detail, d.idempotency_key, o.idempotency_key AS outbox_key "
                      "FROM alert_deliveries d JOIN alert_outbox o ON o.id = d.outbox_id ORDER BY d.id")  # fmt: skip
    assert [(r["channel"], r["status"]) for r in got] == [
        ("chat", "pending"), ("mail", "filtered"), ("chat", "filtered"), ("mail", "pending")
    ]  # fmt: skip
    assert all(r["idempotency_key"] == f"{r['outbox_key']}:{r['channel']}" for r in got)
    assert got[1]["detail"] == "kind exposed_audio not in the channel's kinds"
    assert all(r["routed_at"] for r in rows(store, "SELECT routed_at FROM alert_outbox"))
    assert store_alerts.route_new(store, channels, [], clock()) == {}  # routed once only
    assert len(rows(store, "SELECT id FROM alert_deliveries")) == 4


def test_outbox_status_summarises_its_deliveries(store, clock):
    write_findings(store, [finding(1)])
    store_alerts.route_new(store, {"a": None, "b": None}, [], clock())
    a, b = rows(store, "SELECT id FROM alert_deliveries ORDER BY id")
    outbox = lambda: rows(store, "SELECT status, sent_at, attempts, last_error FROM alert_outbox")[0]  # noqa: E731
    store_alerts.mark_sent(store, [a["id"]], "k", clock())
    assert outbox()["status"] == "pending"
    store_alerts.mark_failed(store, [(b["id"], None)], "HTTP 500", clock())
    assert outbox()["status"] == "dead" and outbox()["last_error"] == "HTTP 500" and outbox()["attempts"] == 1
    store_alerts.retry(store, b["id"], clock())
    assert outbox()["status"] == "pending"
    store_alerts.mark_sent(store, [b["id"]], "k2", clock())
    assert outbox()["status"] == "sent" and outbox()["sent_at"]
    assert store.outbox_pending() == 0


def test_cli_mutes_and_config_mutes_record_instead_of_sending(store, clock):
    write_findings(store, [finding(1, domain="cdn.downloader.example"), finding(2, domain="other.example")])
    mute = store_alerts.add_mute(store, "downloader.example", None, clock() + timedelta(hours=2), "takedown",
                                 "alice", clock())  # fmt: skip
    muted = store_alerts.route_new(store, {"hook": None}, store_alerts.db_mutes(store, clock()), clock())
    assert muted == {"hook": 1}
    got = {r["domain"]: r for r in rows(store, "SELECT * FROM alert_deliveries")}
    assert got["cdn.downloader.example"]["status"] == "muted"
    assert got["cdn.downloader.example"]["detail"].startswith(f"mute #{mute['id']} (domain=downloader.example)")
    assert got["other.example"]["status"] == "pending"
    # A mute added later holds deliveries still waiting.
    later = [Mute("other.example", None, clock() + timedelta(minutes=5), "maintenance")]
    assert store_alerts.mute_pending(store, later, clock()) == {"hook": 1}
    assert {r["status"] for r in rows(store, "SELECT status FROM alert_deliveries")} == {"muted"}
    assert rows(store, "SELECT status FROM alert_outbox") == [{"status": "sent"}] * 2  # settled: nothing to send


def test_mute_list_and_lift(store, clock):
    m = store_alerts.add_mute(store, None, "policy_lint", clock() + timedelta(hours=1), "", "bob", clock())
    assert [r["id"] for r in store_alerts.list_mutes(store, clock())] == [m["id"]]
    assert store_alerts.list_mutes(store, clock() + timedelta(hours=2)) == []  # expired
    store_alerts.lift_mute(store, m["id"], "carol", clock())
    assert store_alerts.list_mutes(store, clock()) == [] and store_alerts.db_mutes(store, clock()) == []
    assert store_alerts.list_mutes(store, clock(), include_ended=True)[0]["lifted_by"] == "carol"
    with pytest.raises(InvalidTransition):
        store_alerts.lift_mute(store, m["id"], "carol", clock())
    with pytest.raises(NotFound):
        store_alerts.lift_mute(store, 999, "carol", clock())


def test_retry_refuses_what_was_settled(store, clock):
    write_findings(store, [finding(1)])
    store_alerts.route_new(store, {"hook": None}, [], clock())
    (d,) = rows(store, "SELECT id FROM alert_deliveries")
    store_alerts.mark_sent(store, [d["id"]], "k", clock())
    with pytest.raises(InvalidTransition, match="is sent"):
        store_alerts.retry(store, d["id"], clock())
    with pytest.raises(NotFound):
        store_alerts.retry(store, 12345, clock())


def _run(store: Store, job: str, outcome: str) -> list:
    """Apply one run with no findings; the transitions its probe-health check wrote in the same transaction."""
    now = utcnow()
    kind = {"failure": "http_5xx", "error": "crash"}.get(outcome)
    run = ProbeRun(job, "policy_snapshot", "m.soundcloud.com", now, now, outcome, kind, 0.1)
    return store.apply(run, Evaluation(f"policy_snapshot:{job}"), health_threshold=3).transitions


def test_probe_health_opens_after_n_failures_and_resolves_on_success(store, clock):
    job = "policy_snapshot:m.soundcloud.com"
    assert _run(store, job, "success") == []  # nothing open, nothing to resolve
    for _ in range(2):
        assert _run(store, job, "failure") == []
    assert [t.action for t in _run(store, job, "failure")] == ["opened"]
    # still failing: counted, not announced again
    assert [t.action for t in _run(store, job, "failure")] == ["updated"]
    (inc,) = store.list_incidents(kind="probe_health")
    assert inc["title"] == f"{job} failed 4 runs in a row" and inc["data"]["error_kinds"] == {"http_5xx": 4}
    assert [t.action for t in _run(store, job, "success")] == ["resolved"]
    outbox = rows(store, "SELECT transition, payload FROM alert_outbox ORDER BY id")
    assert [o["transition"] for o in outbox] == ["opened", "resolved"]
    assert '"kind": "probe_health"' in outbox[0]["payload"]


def test_digest_is_queued_once_per_period(store, clock):
    payload = {"open": 0, "by_severity": {}, "incidents": []}
    assert store_alerts.enqueue_digest(store, ["a", "b"], 42, payload, clock()) == 2
    assert store_alerts.enqueue_digest(store, ["a", "b"], 42, payload, clock()) == 0  # e.g. after a restart
    assert store_alerts.enqueue_digest(store, ["a"], 43, payload, clock()) == 1
    assert [r["idempotency_key"] for r in rows(store, "SELECT idempotency_key FROM alert_deliveries ORDER BY id")] == [
        "digest-42:a", "digest-42:b", "digest-43:a"
    ]  # fmt: skip
