"""The incident lifecycle as a table: findings + previous state -> transitions."""

import pytest

from monitor.errors import InvalidTransition
from monitor.incidents import Evaluation, Finding, IncidentState, manual_status, transition


def f(key="k", severity="medium"):
    return Finding(key, "policy_file_changed", severity, "soundcloud.com", "t")


def prev(status="open", severity="medium", key="k"):
    return IncidentState(1, key, "policy_file_changed", severity, status)


@pytest.mark.parametrize(
    ("finding", "previous", "cleared", "expected"),
    [
        (f(), None, [], [("opened", "open", "medium", True)]),
        (f(), prev("open"), [], [("updated", "open", "medium", False)]),
        (f(severity="low"), prev("open", "high"), [], [("updated", "open", "high", False)]),
        (f(severity="critical"), prev("open", "medium"), [], [("escalated", "open", "critical", True)]),
        (f(severity="high"), prev("acknowledged"), [], [("escalated", "acknowledged", "high", True)]),
        (f(), prev("resolved"), [], [("reopened", "open", "medium", True)]),
        (f(severity="critical"), prev("false_positive"), [], [("updated", "false_positive", "medium", False)]),
        (None, prev("open"), ["k"], [("resolved", "resolved", "medium", True)]),
        (None, prev("acknowledged"), ["k"], [("resolved", "resolved", "medium", True)]),
        (None, prev("resolved"), ["k"], []),
        (None, prev("false_positive"), ["k"], []),
        (None, None, ["k"], []),
        # seen and cleared in one run (two files disagreeing): being seen wins
        (f(), prev("open"), ["k"], [("updated", "open", "medium", False)]),
    ],
)
def test_transition_table(finding, previous, cleared, expected):
    ev = Evaluation("scope", [finding] if finding else [], cleared)
    out = transition(ev, {"k": previous} if previous else {})
    assert [(t.action, t.status, t.severity, t.alerts) for t in out] == expected


def test_duplicate_findings_in_one_run_count_once():
    out = transition(Evaluation("s", [f(), f()]), {})
    assert len(out) == 1


def test_unknown_severity_is_rejected():
    with pytest.raises(ValueError, match="severity"):
        Finding("k", "x", "urgent", "d", "t")


@pytest.mark.parametrize(
    ("action", "current", "expected"),
    [
        ("acknowledged", "open", "acknowledged"),
        ("resolved", "open", "resolved"),
        ("resolved", "acknowledged", "resolved"),
        ("false_positive", "resolved", "false_positive"),
        ("reopened", "false_positive", "open"),
    ],
)
def test_manual_status(action, current, expected):
    assert manual_status(action, current) == expected


@pytest.mark.parametrize(("action", "current"), [("acknowledged", "resolved"), ("resolved", "resolved"), ("x", "open")])
def test_manual_status_refuses(action, current):
    with pytest.raises(InvalidTransition):
        manual_status(action, current)


@pytest.mark.parametrize(
    ("clean_runs", "resolve_after", "action"), [(0, 3, "clean"), (1, 3, "clean"), (2, 3, "resolved")]
)
def test_resolve_after_k_clean_runs(clean_runs, resolve_after, action):
    state = IncidentState(1, "k", "exposure", "high", "open", 4, clean_runs)
    (t,) = transition(Evaluation("s", [], ["k"], resolve_after), {"k": state})
    assert t.action == action and not (t.alerts and action == "clean")
    assert t.status == ("resolved" if action == "resolved" else "open")


def test_clean_runs_are_counted_in_the_store_and_reset_when_seen_again(tmp_path):
    from monitor.db import open_db
    from monitor.store.core import ProbeRun, Store

    store = Store(open_db(tmp_path / "db.sqlite"))
    run = ProbeRun("job", "exposure", "dl.example", "t0", "t1", "success", None, 0.1)

    def apply(findings, cleared):
        with store._tx():
            run_id = store._insert_run(run, 0)
            assert run_id
            return store._apply_evaluation(Evaluation("s", findings, cleared, resolve_after=2), "t1")

    finding = Finding("k", "exposure", "high", "dl.example", "t")
    apply([finding], [])
    apply([], ["k"])
    (row,) = store.db.query("SELECT status, clean_runs FROM incidents")
    assert (row["status"], row["clean_runs"]) == ("open", 1)
    apply([finding], [])  # seen again: the count starts over
    (row,) = store.db.query("SELECT status, clean_runs FROM incidents")
    assert (row["status"], row["clean_runs"]) == ("open", 0)
    apply([], ["k"])
    apply([], ["k"])
    (row,) = store.db.query("SELECT status, clean_runs FROM incidents")
    assert (row["status"], row["clean_runs"]) == ("resolved", 0)
    events = [e["action"] for e in store.db.query("SELECT action FROM incident_events ORDER BY id")]
    assert events == ["opened", "updated", "resolved"]  # clean runs are counted, not events


def test_an_event_resolves_without_an_alert_and_reopens_with_one():
    prev = IncidentState(7, "k", "policy_file_changed", "medium", "open", resolves_silently=True)
    (resolved,) = transition(Evaluation("s", cleared=["k"]), {"k": prev})
    assert resolved.action == "resolved" and not resolved.alerts
    done = IncidentState(7, "k", "policy_file_changed", "medium", "resolved", resolves_silently=True)
    (again,) = transition(Evaluation("s", findings=[f("k")]), {"k": done})
    assert again.action == "reopened" and again.alerts
    plain = IncidentState(8, "p", "policy_file_missing", "high", "open")
    (loud,) = transition(Evaluation("s", cleared=["p"]), {"p": plain})
    assert loud.action == "resolved" and loud.alerts
