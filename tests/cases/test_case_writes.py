"""Cases written inside Store.apply on a real SQLite file: linking, merges, severity, reappearance, manual
changes, notices and the backfill of an existing database."""

from __future__ import annotations

import json

import pytest

from monitor.db import open_db
from monitor.errors import InvalidTransition, NotFound
from monitor.incidents import Evaluation, Finding
from monitor.store import EvidenceFiles
from monitor.store import case_actions as actions_
from monitor.store.case_writes import backfill, merge_linked
from monitor.store.core import ProbeRun, Store, utcnow
from tests.cases.support import CID, actions, cases, evidence, finding, run


@pytest.fixture
def store(tmp_path):
    st = Store(open_db(tmp_path / "c.db"), EvidenceFiles(tmp_path / "evidence"))
    yield st
    st.db.close()


def members(store, case_id):
    return sorted(r[0] for r in store.db.execute("SELECT incident_id FROM case_incidents WHERE case_id = ?", [case_id]))


def test_incidents_of_one_site_form_one_case(store):
    a1, a2 = finding("a.example", "downloader"), finding("www.a.example", "proxy", "high")
    applied = run(store, [a1, a2, finding("b.example", "mirror", "medium")])
    (ca, cb) = cases(store)
    assert (ca["domain"], ca["severity"], ca["status"]) == ("a.example", "critical", "new")
    assert (cb["domain"], cb["severity"]) == ("b.example", "medium")
    assert members(store, ca["id"]) == sorted(applied.incident_ids[f.dedupe_key] for f in (a1, a2))
    assert actions(store, ca["id"]) == ["opened", "incident_linked", "incident_linked"]
    run(store, [a1, a2])  # seen again: nothing new on the timeline
    assert actions(store, ca["id"]) == ["opened", "incident_linked", "incident_linked"]
    assert len(cases(store)) == 2


def test_policy_and_probe_health_incidents_belong_to_no_case(store):
    policy = Finding("policy_breach:soundcloud.com", "policy_breach", "high", "soundcloud.com", "t")
    run(store, [policy], scope="policy:soundcloud.com")
    assert cases(store) == [] and store.db.execute("SELECT count(*) FROM case_incidents").fetchone()[0] == 0


def test_severity_rises_with_an_escalated_event_and_follows_active_incidents(store):
    low = finding("a.example", "mirror", "medium")
    run(store, [low])
    (case,) = cases(store)
    run(store, [low, finding("a.example", "downloader", "critical")])
    assert cases(store)[0]["severity"] == "critical"
    assert actions(store, case["id"])[-1] == "escalated"
    run(store, [low], cleared=[finding("a.example", "downloader").dedupe_key])  # the critical one resolves
    assert cases(store)[0]["severity"] == "medium"


def test_shared_client_id_merges_younger_into_older(store):
    a, b = finding("a.example"), finding("b.example")
    run(store, [a], [evidence(a, client_id=CID)])
    run(store, [b], [evidence(b, client_id="Hq2Rt8Yp4Lm6Nb0Vc3Xz7Kj1Gf5Ds9AB")])
    assert len([c for c in cases(store) if c["merged_into"] is None]) == 2  # different ids stay apart
    c = finding("c.example")
    run(store, [c], [evidence(c, client_id=CID)])
    ca, cb, cc = cases(store)
    assert cc["merged_into"] == ca["id"] and ca["merged_into"] is None and cb["merged_into"] is None
    assert members(store, ca["id"]) == sorted(
        r[0] for r in store.db.execute("SELECT id FROM incidents WHERE domain IN ('a.example', 'c.example')")
    )
    domains = dict(store.db.execute("SELECT domain, case_id FROM case_domains").fetchall())
    assert domains == {"a.example": ca["id"], "b.example": cb["id"], "c.example": ca["id"]}
    merged = [json.loads(r[0]) for r in store.db.execute("SELECT data FROM case_events WHERE action = 'merged'")]
    assert len(merged) == 2 and merged[0] == {
        "from": cc["id"],
        "into": ca["id"],
        "link": {"kind": "client_id", "value": CID, "domain": "a.example"},
    }
    # A later incident on the merged domain joins the surviving case.
    run(store, [finding("c.example", "proxy")])
    assert len(members(store, ca["id"])) == 3


def test_soundcloud_widget_id_and_shared_cdn_do_not_merge(store):
    a, b = finding("a.example"), finding("b.example")
    widget = "https://w.soundcloud.com/player/"
    run(
        store,
        [a, b],
        [
            evidence(a, widget, client_id=CID),
            evidence(a, client_id=CID),
            evidence(b, widget, client_id=CID),
            evidence(b, client_id=CID),
            evidence(a, "https://cdnjs.cloudflare.com/x.js"),
            evidence(b, "https://cdnjs.cloudflare.com/x.js"),
        ],
    )
    assert [c["merged_into"] for c in cases(store)] == [None, None]


def test_merge_linked_uses_links_written_by_others(store):
    run(store, [finding("a.example")])
    run(store, [finding("b.example")])
    now = utcnow()
    with store._tx():
        for d in ("a.example", "b.example"):
            store.db.execute(
                "INSERT INTO case_links (kind, value, domain, first_seen) VALUES ('ip', '203.0.113.5', ?, ?)", [d, now]
            )
    assert merge_linked(store, now) == 1
    assert merge_linked(store, now) == 0  # idempotent
    assert [c["merged_into"] for c in cases(store)] == [None, 1]


def test_taken_down_case_reappears_when_the_material_shows_again(store):
    a = finding("a.example")
    run(store, [a])
    (case,) = cases(store)
    actions_.change_status(store, case["id"], "taken_down", "alice", "host removed it")
    assert cases(store)[0]["taken_down_at"] is not None
    run(store, [a])  # still seen after being marked taken down
    assert cases(store)[0]["status"] == "reappeared" and actions(store, case["id"])[-1] == "reappeared"


def test_no_action_case_reappears_only_on_new_material(store):
    a = finding("a.example")
    run(store, [a])
    actions_.change_status(store, 1, "no_action", "alice")
    run(store, [a])
    assert cases(store)[0]["status"] == "no_action"
    run(store, [a, finding("a.example", "proxy")])
    assert cases(store)[0]["status"] == "reappeared"


def test_manual_changes_are_validated_and_on_the_timeline(store):
    run(store, [finding("a.example")])
    actions_.change_status(store, 1, "investigating", "alice", "looking")
    assert store.case_facts(1)["status"] == "investigating"
    with pytest.raises(InvalidTransition, match="cannot become investigating"):
        actions_.change_status(store, 1, "investigating", "alice")
    with pytest.raises(InvalidTransition, match="notice-sent"):
        actions_.change_status(store, 1, "notice_sent", "alice")
    with pytest.raises(InvalidTransition, match="unknown case status"):
        actions_.change_status(store, 1, "closed", "alice")
    with pytest.raises(NotFound):
        actions_.assign(store, 99, "bob", "alice")
    actions_.assign(store, 1, "bob", "alice")
    assert store.case_facts(1)["owner"] == "bob"
    actions_.add_note(store, 1, "registrar is slow", "bob")
    assert store.case_facts(1)["timeline"][-1]["note"] == "registrar is slow"
    actions_.notice_sent(store, 1, "hosting", "abuse@host.example", "<m1@x>", "bob", recheck_after_seconds=60)
    view = store.case_facts(1)
    assert view["status"] == "notice_sent" and view["notices"][0]["message_id"] == "<m1@x>"
    assert view["next_check_at"] > view["notice_sent_at"]
    with pytest.raises(InvalidTransition, match="unknown recipient"):
        actions_.notice_sent(store, 1, "police", None, None, "bob")
    assert [e["action"] for e in view["timeline"]][-4:] == ["status_changed", "owner_changed", "note", "notice_sent"]


def test_recheck_records_still_up_then_taken_down(store):
    a = finding("a.example")
    run(store, [a], [evidence(a, "https://a.example/dl")])
    actions_.notice_sent(store, 1, "site", None, "m", "bob", recheck_after_seconds=0)
    (due,) = actions_.due_rechecks(store, utcnow())
    assert due["urls"] == ["https://a.example/dl"]
    assert actions_.record_recheck(store, 1, ["https://a.example/dl"], due["urls"], 3600) == "recheck"
    assert actions_.due_rechecks(store, utcnow()) == []  # the next one is an hour away
    assert actions_.record_recheck(store, 1, [], due["urls"], 3600) == "taken_down"
    view = store.case_facts(1)
    assert view["status"] == "taken_down" and view["next_check_at"] is None
    assert [e["action"] for e in view["timeline"]][-3:] == ["recheck", "recheck", "taken_down"]


def test_backfill_builds_cases_for_an_existing_database_once(tmp_path):
    st = Store(open_db(tmp_path / "old.db"), EvidenceFiles(tmp_path / "ev"))
    a, c = finding("a.example"), finding("c.example")
    run(st, [a, c], [evidence(a, client_id=CID), evidence(c, client_id=CID)])
    with st._tx():  # as if written before cases existed
        for table in ("case_events", "case_links", "case_incidents", "case_domains"):
            st.db.execute(f"DELETE FROM {table}")
        st.db.execute("DELETE FROM cases")
    assert backfill(st.db, utcnow()) == 2
    assert backfill(st.db, utcnow()) == 0
    live = [c for c in cases(st) if c["merged_into"] is None]
    assert len(live) == 1 and len(members(st, live[0]["id"])) == 2
    st.db.close()


def test_a_failure_in_the_case_writes_rolls_back_the_whole_run(store, monkeypatch):
    from monitor.store import case_writes

    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(case_writes, "link_incident", boom)
    with pytest.raises(RuntimeError):
        run(store, [finding("a.example")])
    assert store.db.execute("SELECT count(*) FROM incidents").fetchone()[0] == 0
    assert cases(store) == []


def test_incidents_apply_without_evidence_store_for_cases(tmp_path):
    st = Store(open_db(tmp_path / "n.db"))
    now = utcnow()
    f = finding("a.example")
    st.apply(ProbeRun("j", "watch", "a.example", now, now, "success", None, 0.1), Evaluation("s", [f]))
    assert len(cases(st)) == 1
    st.db.close()
