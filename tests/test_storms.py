"""Storm control: many alerting transitions of one kind on one domain in one run become one summary that alerts
once; the items are kept, quiet, linked to it; the summary resolves with the last of them. Pure, then a real store."""

from __future__ import annotations

from monitor.db import open_db
from monitor.incidents import Evaluation, Finding, contain_storms, transition
from monitor.store import ProbeRun, Store, utcnow


def finding(n: int, kind: str = "policy_regression", domain: str = "soundcloud.com", **data) -> Finding:
    return Finding(f"{kind}:{domain}:agent{n}", kind, "high", domain, f"agent{n} is newly allowed", "", data)


def test_more_than_the_threshold_becomes_one_alerting_summary():
    found = transition(Evaluation("s", [finding(n) for n in range(12)]), {})
    out = contain_storms(found, {}, 10)
    loud = [t for t in out if t.alerts]
    (summary,) = loud
    assert summary.action == "opened" and summary.dedupe_key.startswith("storm:policy_regression:soundcloud.com:")
    assert summary.finding.data["count"] == 12 and "12 policy_regression incidents opened" in summary.finding.title
    assert "agent0 is newly allowed" in summary.finding.detail and "and 2 more" in summary.finding.detail
    items = [t for t in out if t.dedupe_key != summary.dedupe_key]
    assert len(items) == 12 and all(t.quiet and t.summary == summary.dedupe_key for t in items)


def test_at_the_threshold_or_split_over_kinds_and_domains_nothing_is_summarised():
    ten = transition(Evaluation("s", [finding(n) for n in range(10)]), {})
    assert contain_storms(ten, {}, 10) == ten
    mixed = [finding(n) for n in range(6)] + [finding(n, "policy_lint") for n in range(6)]
    mixed += [finding(n, domain="m.soundcloud.com") for n in range(6)]
    found = transition(Evaluation("s", mixed), {})
    assert contain_storms(found, {}, 10) == found
    assert contain_storms(transition(Evaluation("s", [finding(n) for n in range(50)]), {}), {}, 0)[0].alerts  # off
    quiet = transition(Evaluation("s", [finding(n, quiet=True) for n in range(50)]), {})
    assert not [t for t in contain_storms(quiet, {}, 10) if t.alerts]  # quiet items never storm


def run(store: Store, evaluation: Evaluation):
    now = utcnow()
    return store.apply(ProbeRun("job", "policy_snapshot", "soundcloud.com", now, now, "success", None, 0.0), evaluation)


def outbox(store: Store) -> list[tuple[str, str]]:
    return store.db.execute("SELECT transition, json_extract(payload, '$.title') FROM alert_outbox").fetchall()


def test_a_storm_in_a_real_store_alerts_once_and_resolves_with_its_last_item(tmp_path):
    store = Store(open_db(tmp_path / "s.db"), storm_threshold=10)
    keys = [finding(n).dedupe_key for n in range(30)]
    run(store, Evaluation("s", [finding(n) for n in range(30)]))
    assert [t for t, _ in outbox(store)] == ["opened"] and "30 policy_regression" in outbox(store)[0][1]
    rows = store.db.execute("SELECT count(*) FROM incidents WHERE json_extract(data, '$.summary') IS NOT NULL")
    assert rows.fetchone()[0] == 30
    # Re-found items stay linked; some resolve quietly, the summary waits for the last one.
    run(store, Evaluation("s", [finding(n) for n in range(5, 30)], cleared=keys[:5]))
    assert len(outbox(store)) == 1
    run(store, Evaluation("s", [], cleared=keys[5:]))
    assert [t for t, _ in outbox(store)] == ["opened", "resolved"]
    active = store.db.execute("SELECT count(*) FROM incidents WHERE status = 'open'").fetchone()[0]
    assert active == 0
    # The same set storming again reopens its summary: one more alert, not 30.
    run(store, Evaluation("s", [finding(n) for n in range(30)]))
    assert [t for t, _ in outbox(store)] == ["opened", "resolved", "reopened"]
    # A single item reopening on its own later is news of its own.
    run(store, Evaluation("s", [], cleared=keys))
    run(store, Evaluation("s", [finding(3)]))
    assert outbox(store)[-1][0] == "reopened" and "agent3" in outbox(store)[-1][1]
