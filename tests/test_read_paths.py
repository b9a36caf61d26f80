"""The read side as history grows: timelines that grow with changes, keyset pages stable under inserts, indexes for
every filter (EXPLAIN QUERY PLAN), counts and filter menus kept by triggers, and one incident's events paged."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from monitor.db import open_db
from monitor.incidents import Evaluation, Finding
from monitor.store import alerts as store_alerts
from monitor.store.core import ProbeRun, Store
from tests.test_http_evidence import request, serving

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat(timespec="microseconds")


def run(when: str, job: str = "watch:x") -> ProbeRun:
    return ProbeRun(job, "watch", "x.example", when, when, "success", None, 0.1)


@pytest.fixture
def store(tmp_path):
    s = Store(open_db(tmp_path / "db.sqlite"), storm_threshold=0)
    yield s
    s.db.close()


def finding(i: int, severity: str = "low", detail: str = "", kind: str | None = None) -> Finding:
    kinds = ("exposure_mirror", "exposure_downloader", "canary_leak")
    return Finding(f"k{i}", kind or kinds[i % 3], severity, f"d{i % 7}.example", f"finding {i}", detail)


def populate(store: Store, n: int) -> None:
    severities = ("info", "low", "medium", "high", "critical")
    ids = {}
    for i in range(n):
        ids |= store.apply(run(at(i)), Evaluation("s", [finding(i, severities[i % 5])])).incident_ids
    for i in range(0, n, 4):  # some resolved, some acknowledged: every status and severity is there
        store.apply(run(at(n + i)), Evaluation("s", cleared=[f"k{i}"]))
    for i in (i for i in range(1, n, 9) if i % 4):
        store.change_incident(ids[f"k{i}"], "acknowledged", "t")


# ---- history that grows with changes ---------------------------------------------------------------------


def test_a_standing_finding_counts_sightings_without_growing_its_timeline(store):
    for minute in range(60):  # an hour of runs seeing the same thing
        store.apply(run(at(minute)), Evaluation("s", [finding(1)]))
    (inc,) = store.list_incidents()
    assert inc["occurrences"] == 60 and inc["last_seen"] == at(59) and inc["first_seen"] == at(0)
    assert [e["action"] for e in store.get_incident(inc["id"])["events"]] == ["opened"]
    # What people see changed: one event, and at most one such event per incident per day (coalesced).
    store.apply(run(at(61)), Evaluation("s", [finding(1, detail="now with 3 tracks")]))
    store.apply(run(at(62)), Evaluation("s", [finding(1, detail="now with 4 tracks")]))
    full = store.get_incident(inc["id"])
    assert [e["action"] for e in full["events"]] == ["opened", "updated"]
    assert full["detail"] == "now with 4 tracks" and full["occurrences"] == 62  # the row holds the latest
    store.apply(run(at(60 * 24 + 1)), Evaluation("s", [finding(1, detail="now with 5 tracks")]))  # the next day
    assert [e["action"] for e in store.get_incident(inc["id"])["events"]] == ["opened", "updated", "updated"]
    # State changes are still events, and the alerting ones still reach the outbox.
    store.apply(run(at(60 * 24 + 2)), Evaluation("s", [finding(1, "high", "now with 5 tracks")]))
    store.apply(run(at(60 * 24 + 3)), Evaluation("s", cleared=["k1"]))
    actions = [e["action"] for e in store.get_incident(inc["id"])["events"]]
    assert actions == ["opened", "updated", "updated", "escalated", "resolved"]
    outbox = [r[0] for r in store.db.execute("SELECT transition FROM alert_outbox ORDER BY id")]
    assert outbox == ["opened", "escalated", "resolved"]


def test_a_sighting_after_clean_runs_is_an_event(store):
    store.apply(run(at(0)), Evaluation("s", [finding(1)], resolve_after=3))
    store.apply(run(at(1)), Evaluation("s", cleared=["k1"], resolve_after=3))
    store.apply(run(at(2)), Evaluation("s", [finding(1)], resolve_after=3))  # the countdown to resolution restarts
    store.apply(run(at(3)), Evaluation("s", [finding(1)], resolve_after=3))  # and this is just a sighting
    events = [r[0] for r in store.db.execute("SELECT action FROM incident_events ORDER BY id")]
    assert events == ["opened", "updated"]


# ---- keyset pages --------------------------------------------------------------------------------------------


def test_keyset_pages_are_stable_under_inserts_and_sightings(store):
    for i in range(40):  # ties on last_seen: five incidents per run
        store.apply(run(at(i // 5)), Evaluation("s", [finding(i)]))
    original = [r["id"] for r in store.list_incidents(limit=500)]
    seen: list[int] = []
    rows, cursor = store.page_incidents(limit=7)
    seen += [r["id"] for r in rows]
    moved = set()
    minute = 100
    while cursor:
        minute += 1
        store.apply(run(at(minute)), Evaluation("s", [finding(1000 + minute)]))  # new: lands on page 1
        old = original[-1 - minute % 20]  # an old one seen again: moves to page 1
        if old not in seen:
            moved.add(old)
        store.apply(run(at(minute)), Evaluation("s", [finding(int(store.get_incident(old)["dedupe_key"][1:]))]))
        rows, cursor = store.page_incidents(limit=7, after=cursor)
        seen += [r["id"] for r in rows]
    assert len(seen) == len(set(seen))  # never listed twice
    assert [i for i in original if i not in moved] == [i for i in seen if i in original and i not in moved]
    # The triage order (severity, then newest) pages the same way.
    pages, cursor = [], None
    while True:
        rows, total, cursor = store.search_incidents(status="all", page_size=6, after=cursor)
        pages += [r["id"] for r in rows]
        if cursor is None:
            break
    assert pages == [r["id"] for r in store.search_incidents(status="all", page_size=500)[0]] and total == len(pages)
    with pytest.raises(ValueError):
        store.page_incidents(after="bm90IGEgY3Vyc29y")


# ---- indexes ------------------------------------------------------------------------------------------------

LISTS = [
    ("page_incidents", {}),
    ("page_incidents", {"status": "open"}),
    ("page_incidents", {"severity": "high"}),
    ("page_incidents", {"kind": "exposure_mirror"}),
    ("page_incidents", {"domain": "d3.example"}),
    ("page_incidents", {"since": at(30)}),
    ("page_incidents", {"status": "resolved", "kind": "canary_leak"}),
    ("search_incidents", {}),
    ("search_incidents", {"status": "all"}),
    ("search_incidents", {"status": "resolved"}),
    ("search_incidents", {"severity": "medium"}),
    ("search_incidents", {"kind": "exposure_downloader"}),
    ("search_incidents", {"domain": "d2.example", "status": "all"}),
    ("search_incidents", {"status": "all", "kind": "canary_leak", "severity": "low"}),
]


@pytest.mark.parametrize(("method", "filters"), LISTS, ids=[f"{m}-{'-'.join(f) or 'none'}" for m, f in LISTS])
def test_every_filtered_list_and_count_reads_an_index(store, method, filters):
    populate(store, 120)
    store.db.execute("ANALYZE")
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)
    try:
        size = {"limit": 3} if method == "page_incidents" else {"page_size": 3}
        cursor = getattr(store, method)(**filters, **size)[-1]
        assert cursor is not None  # a second page exists, so the cursor query is planned too
        getattr(store, method)(**filters, **size, after=cursor)
    finally:
        store.db.conn.set_trace_callback(None)
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT") and "incidents" in s]
    assert len(reads) >= 2
    for sql in reads:
        plan = [row[3] for row in store.db.execute("EXPLAIN QUERY PLAN " + sql)]
        assert not [p for p in plan if re.fullmatch(r"SCAN incidents", p)], (sql, plan)  # no unindexed pass
        if {k: v for k, v in filters.items() if v != "all"}:  # a filter is a SEARCH of its index, not a filtered walk
            assert all(p.startswith("SEARCH") or "incidents_active_rank" in p for p in plan), (sql, plan)
        assert not [p for p in plan if "TEMP B-TREE" in p], (sql, plan)  # the index holds the order
        if "(last_seen, id) <" in sql or "severity_rank, last_seen, id) <" in sql:
            assert any("<" in p and "USING" in p for p in plan), (sql, plan)  # the cursor is a range, not a skip


# ---- counts kept by triggers ---------------------------------------------------------------------------------


def test_counts_and_filter_menus_follow_applies_resolves_and_people(store):
    populate(store, 60)
    store.apply(run(at(500)), Evaluation("s", [finding(7, "critical")]))  # escalated
    inc = store.list_incidents(kind="canary_leak", limit=1)[0]
    store.change_incident(inc["id"], "false_positive", "t")
    store.apply(run(at(502)), Evaluation("s", [Finding("solo", "policy_regression", "high", "only.example", "t")]))
    with store._tx():  # any writer keeps the counts: another kind or domain, a deleted incident
        store.db.execute("UPDATE incidents SET domain = 'moved.example' WHERE dedupe_key = 'solo'")
        store.db.execute("UPDATE incidents SET kind = 'brand_new_kind' WHERE dedupe_key = 'k8'")
        gone = "(SELECT id FROM incidents WHERE dedupe_key = 'k9')"
        store.db.execute(f"DELETE FROM alert_outbox WHERE incident_id = {gone}")
        store.db.execute(f"DELETE FROM incident_events WHERE incident_id = {gone}")
        store.db.execute(f"DELETE FROM case_incidents WHERE incident_id = {gone}")
        store.db.execute("DELETE FROM incidents WHERE dedupe_key = 'k9'")
    kept = sorted(store.db.execute("SELECT status, severity, kind, n FROM incident_counts").fetchall())
    scanned = sorted(
        store.db.execute("SELECT status, severity, kind, count(*) FROM incidents GROUP BY 1, 2, 3").fetchall()
    )
    assert kept == scanned
    kinds, domains = store.incident_facets()
    assert kinds == [r[0] for r in store.db.execute("SELECT DISTINCT kind FROM incidents ORDER BY 1")]
    assert domains == [r[0] for r in store.db.execute("SELECT DISTINCT domain FROM incidents ORDER BY 1")]
    assert "only.example" not in domains and "moved.example" in domains and "brand_new_kind" in kinds
    cases = ({}, {"status": "open"}, {"kind": "exposure_mirror"}, {"severity": "critical"}, {"domain": "d1.example"},
             {"since": at(20)}, {"status": "resolved", "kind": "canary_leak"})  # fmt: skip
    for filters in cases:
        assert store.count_incidents(**filters) == len(store.list_incidents(**filters, limit=10_000)), filters
    active = store.search_incidents(status="active", page_size=500)
    assert active[1] == len(active[0]) and {r["status"] for r in active[0]} == {"open", "acknowledged"}
    assert sorted(store.open_incident_counts()) == sorted(
        store.db.execute(
            "SELECT kind, severity, count(*) FROM incidents WHERE status IN ('open', 'acknowledged') GROUP BY 1, 2"
        ).fetchall()
    )


def test_delivery_counts_follow_routing_and_dead_letters(store):
    store.apply(run(at(0)), Evaluation("s", [finding(i) for i in range(3)]))
    from monitor.settings import AlertChannel

    channels = {
        name: AlertChannel(name=name, url=f"json://127.0.0.1:9/{name}", min_severity="info")
        for name in ("ops", "oncall")
    }
    store_alerts.route_new(store, channels, [], T0)
    due = store_alerts.due(store, T0 + timedelta(hours=1))
    store_alerts.mark_failed(store, [(d["id"], None) for d in due if d["channel"] == "ops"], "refused", T0)
    store_alerts.mark_sent(store, [d["id"] for d in due if d["channel"] == "oncall"][:1], "m", T0)
    counts = store_alerts.counts(store)
    assert counts == {**dict.fromkeys(counts, 0), "dead": 3, "sent": 1, "pending": 2}
    kept = sorted(store.db.execute("SELECT channel, status, n FROM alert_delivery_counts WHERE n > 0").fetchall())
    assert kept == [("oncall", "pending", 2), ("oncall", "sent", 1), ("ops", "dead", 3)]


# ---- one incident's events and evidence, paged over HTTP -------------------------------------------------------


def test_an_incident_with_many_events_is_served_in_pages(tmp_path):
    db = tmp_path / "db.sqlite"
    store = Store(open_db(db), storm_threshold=0)
    try:
        applied = store.apply(run(at(0)), Evaluation("s", [finding(1)]))
        incident_id = applied.incident_ids["k1"]
        with store._tx():  # a long history, written at once (the paging is what is tested)
            store.db.conn.executemany(
                "INSERT INTO incident_events (incident_id, at, action, actor, data) "
                "VALUES (?, ?, 'acknowledged', ?, '{}')",
                [[incident_id, at(i), f"person{i}"] for i in range(1, 260)],
            )
    finally:
        store.db.close()
    with serving(db, None, None) as base:
        status, _, body = request(f"{base}/api/incidents/{incident_id}")
        one = json.loads(body)
        assert status == 200 and len(one["events"]) == 100 and one["events"][0]["action"] == "opened"
        assert one["evidence"] == [] and one["evidence_next"] is None
        ids = [e["id"] for e in one["events"]]
        link = one["events_next"]
        while link:
            page = json.loads(request(base + link)[2])
            ids += [e["id"] for e in page["events"]]
            link = page["next"]
        assert len(ids) == 260 and ids == sorted(set(ids))
        assert request(f"{base}/api/incidents/{incident_id}/events?after=x!")[0] == 400
        assert request(f"{base}/api/incidents/99999/events")[0] == 404
        assert request(f"{base}/api/incidents/{incident_id}/other")[0] == 404
        listing = json.loads(request(f"{base}/api/incidents?limit=1&domain=d1.example")[2])
        assert [i["id"] for i in listing["incidents"]] == [incident_id] and listing["next"] is None
        assert listing["total"] == 1 and "severity_rank" not in listing["incidents"][0]
        html = request(f"{base}/triage/incidents/{incident_id}")[2].decode()
        assert html.count("<td>acknowledged</td>") == 199 and 'id="events-more"' in html
