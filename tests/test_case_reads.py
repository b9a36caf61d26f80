"""Case reads over a real SQLite store: list filters and keyset pages, case facts in the contract's shape (tracks
joined to the catalogue, one sorted timeline), paged sections, and the counts behind the case metrics."""

from __future__ import annotations

import pytest

from monitor.db import open_db
from monitor.incidents import Evidence
from monitor.signatures.catalogue import Catalogue, CatalogueTrack
from monitor.store.case_reads import list_cursor, public_timeline, section_cursor
from monitor.store.core import Store
from monitor.store.files import EvidenceFiles
from tests.helpers.cases import at, finding, host_facts, insert_case, store_findings, track

FACT_KEYS = {"id", "domain", "title", "status", "severity", "owner", "opened_at", "first_seen", "last_seen",
             "notice_sent_at", "taken_down_at", "next_check_at", "domains", "incidents", "evidence", "tracks", "urls",
             "links", "host_intel", "notices", "timeline"}  # fmt: skip


@pytest.fixture
def store(tmp_path):
    st = Store(open_db(tmp_path / "t.db"), EvidenceFiles(tmp_path / "evidence"), storm_threshold=0)
    yield st
    st.db.close()


def _many(store: Store, n: int) -> list[int]:
    """``n`` cases on their own domains, with distinct statuses, severities, owners and some equal last_seen."""
    statuses = ("new", "investigating", "notice_sent", "taken_down", "no_action", "reappeared")
    ids = []
    for i in range(n):
        domain = f"site{i:02d}.example"
        incident = store_findings(store, [finding(domain, i)], minute=i)
        ids.append(insert_case(store, domain, list(incident.values()), status=statuses[i % 6],
                               severity=("high", "critical")[i % 2], owner=("ana", None)[i % 2],
                               minute=i, last_minute=i // 3))  # fmt: skip
    return ids


def test_list_filters_and_hides_merged_cases(store):
    ids = _many(store, 12)
    merged = insert_case(store, "old.example", [], merged_into=ids[0], minute=30)
    listed = [c["id"] for c in store.list_cases(limit=100)]
    assert merged not in listed and sorted(listed) == sorted(ids)
    assert merged in [c["id"] for c in store.list_cases(limit=100, merged=True)]
    assert {c["status"] for c in store.list_cases(status="taken_down")} == {"taken_down"}
    assert len(store.list_cases(status="taken_down")) == 2
    active = store.list_cases(status="active", limit=100)
    assert len(active) == 8 and {c["status"] for c in active} == {"new", "investigating", "notice_sent", "reappeared"}
    assert {c["severity"] for c in store.list_cases(severity="critical")} == {"critical"}
    assert {c["owner"] for c in store.list_cases(owner="ana", limit=100)} == {"ana"}
    assert [c["id"] for c in store.list_cases(domain="site03.example")] == [ids[3]]
    assert store.list_cases(domain="nowhere.example") == []
    assert [c["id"] for c in store.list_cases(q="site07")] == [ids[7]]
    assert store.list_cases(q="%") == [] and store.list_cases(q="_") == []  # LIKE wildcards are literal
    row = store.list_cases(domain="site05.example")[0]
    assert row["incidents"] == 1 and row["domains"] == ["site05.example"]


def test_a_domain_filter_finds_a_case_by_any_of_its_domains(store):
    ids = store_findings(store, [finding("a.example", 1)])
    case = insert_case(store, "a.example", list(ids.values()), domains=["b.example"])
    assert [c["id"] for c in store.list_cases(domain="b.example")] == [case]
    assert store.list_cases()[0]["domains"] == ["a.example", "b.example"]
    assert store.case_facets() == (["a.example", "b.example"], [])


def test_keyset_pages_cover_every_case_once_in_order_even_when_cases_change_between_pages(store):
    ids = _many(store, 14)
    expected = [c["id"] for c in store.list_cases(limit=100)]
    assert len(expected) == 14
    pages, after = [], None
    while True:
        page = store.list_cases(limit=4, after=after)
        if not page:
            break
        pages.append([c["id"] for c in page])
        after = list_cursor(page[-1])
        if len(pages) == 1:
            # A case seen again while someone pages moves to the top: it is not listed twice, nor does a row shift.
            store.db.execute("UPDATE cases SET last_seen = ? WHERE id = ?", [at(999), ids[0]])
            store.db.conn.commit()
    flat = [i for p in pages for i in p]
    # ids[0] was last in the order; once moved ahead of the pages read it is not met again, and nothing repeats.
    assert expected[-1] == ids[0] and [len(p) for p in pages] == [4, 4, 4, 1]
    assert flat == expected[:-1]
    assert expected[:3] == [ids[13], ids[12], ids[11]]  # equal last_seen: the higher id first
    with pytest.raises(ValueError):
        store.list_cases(after="not-a-cursor")
    with pytest.raises(ValueError):
        store.list_cases(after=section_cursor("evidence", {"id": 3}))  # a cursor of another shape


def test_case_facts_shape_tracks_timeline_and_host_intel(store):
    shot = b"\x89PNG\r\n\x1a\nnot really"
    data1 = {"catalogue_track": track("111", "Night Drive", canary=True)}
    data2 = {"catalogue_tracks": [track("222", "Demo", no_ai=True), track("111")]}
    f1, f2 = finding("dl.example", 1, "critical", data1), finding("dl.example", 2, "high", data2)
    ev = [Evidence(f1.dedupe_key, "https://dl.example/get?u=1", "https://dl.example/", "SC-DL-PAGE", "critical",
                   "offers MP3", headers={"server": "nginx"}, screenshot=shot),
          Evidence(f2.dedupe_key, "https://cdn.dl.example/a.mp3", "https://dl.example/", "SC-CDN", "high")]  # fmt: skip
    ids = store_findings(store, [f1, f2], ev, minute=0)
    case = insert_case(
        store, "dl.example", list(ids.values()), minute=5, domains=["dl2.example"],
        events=[(6, "note", "looked at it", {}), (7, "owner_changed", None, {"owner": "ana"})],
        notices=[("hosting", "abuse@hosting.test", "<m1@test>")],
        links=[("client_id", "abc", "dl2.example"), ("client_id", "zzz", "unrelated.example")],
        host_intel={"dl.example": host_facts("dl.example")},
    )  # fmt: skip
    catalogue = Catalogue()
    catalogue.add(CatalogueTrack("222", "https://soundcloud.com/x/demo", title="Demo (catalogue)", no_ai=True))
    facts = store.case_facts(case, catalogue)
    assert set(facts) == FACT_KEYS and facts["id"] == case and facts["status"] == "new"
    assert [d["domain"] for d in facts["domains"]] == ["dl.example", "dl2.example"]
    assert [i["id"] for i in facts["incidents"]] == sorted(ids.values())
    assert facts["incidents"][0]["data"]["catalogue_track"]["id"] == "111"
    assert set(facts["evidence"][0]) == {
        "id",
        "incident_id",
        "at",
        "url",
        "page_url",
        "signature",
        "severity",
        "detail",
        "headers",
        "body_sha256",
        "screenshot_sha256",
        "requests_sha256",
        "last_seen_at",
        "sightings",
    }
    assert facts["evidence"][0]["headers"] == {"server": "nginx"} and facts["evidence"][0]["screenshot_sha256"]
    assert facts["evidence"][0]["sightings"] == 1 and facts["evidence"][0]["last_seen_at"] == facts["evidence"][0]["at"]
    assert facts["tracks"] == [
        {"track_id": "111", "title": "Night Drive", "artist": "Example Artist",
         "url": "https://soundcloud.com/artist/111", "no_ai": False, "canary": True},
        {"track_id": "222", "title": "Demo (catalogue)", "artist": "", "url": "https://soundcloud.com/x/demo",
         "no_ai": True, "canary": False},
    ]  # fmt: skip
    assert facts["urls"] == ["https://cdn.dl.example/a.mp3", "https://dl.example/", "https://dl.example/get?u=1"]
    assert facts["links"] == [{"kind": "client_id", "value": "abc", "domain": "dl2.example"}]
    assert facts["host_intel"]["dl.example"]["networks"][0]["abuse_email"] == "abuse@hosting.test"
    assert facts["notices"] == [{"recipient": "hosting", "address": "abuse@hosting.test", "message_id": "<m1@test>",
                                 "sent_at": at(6), "actor": "analyst"}]  # fmt: skip
    timeline = facts["timeline"]
    assert [(t["source"], t["action"]) for t in timeline] == [
        ("incident", "opened"),
        ("incident", "opened"),
        ("case", "opened"),
        ("case", "note"),
        ("case", "owner_changed"),
    ]
    assert [t["at"] for t in timeline] == sorted(t["at"] for t in timeline)
    assert timeline[0]["data"]["to_status"] == "open" and timeline[0]["incident_id"] == min(ids.values())
    assert timeline[3]["note"] == "looked at it" and timeline[4]["data"] == {"owner": "ana"}
    # Without a catalogue, tracks are what the incidents recorded.
    assert store.case_facts(case)["tracks"][1]["title"] == "Demo"
    assert store.case_facts(case + 100) is None


def test_sections_page_with_cursors_to_the_end(store):
    findings = [finding("big.example", i) for i in range(7)]
    ev = [Evidence(f.dedupe_key, f"https://big.example/{i}", "https://big.example/", "SC-X", "high")
          for i, f in enumerate(findings)]  # fmt: skip
    ids = store_findings(store, findings, ev)
    case = insert_case(store, "big.example", list(ids.values()), events=[(1, "note", f"n{i}", {}) for i in range(5)])
    full = store.case_facts(case)
    for section, reader, total in (("incidents", store.case_incidents, 7), ("evidence", store.case_evidence, 7),
                                   ("timeline", store.case_timeline, 13)):  # fmt: skip
        seen, after = [], None
        while page := reader(case, after=after, limit=3):
            seen.extend(page)
            after = section_cursor(section, page[-1])
        assert len(seen) == total, section
        if section == "timeline":
            seen = public_timeline(seen)
        assert seen == full[section], section


def test_case_counts(store):
    assert store.case_counts() == {
        "by_status": dict.fromkeys(("new", "investigating", "notice_sent", "taken_down", "no_action", "reappeared"), 0),
        "notices_sent": {"hosting": 0, "registrar": 0, "site": 0},
        "takedowns_confirmed": 0,
        "median_seconds": None,
    }
    # Takedowns after 60, 120 and 600 minutes (median 120); one more after 30 (median of 60 and 120: 90).
    for n, minutes in enumerate((60, 120, 600)):
        insert_case(store, f"t{n}.example", [], status="taken_down", taken_down_minute=minutes,
                    notices=[("hosting", "abuse@h.test", f"<{n}>")])  # fmt: skip
    insert_case(store, "open.example", [], status="investigating", notices=[("registrar", "a@r.test", "<r>")])
    counts = store.case_counts()
    assert counts["by_status"]["taken_down"] == 3 and counts["by_status"]["investigating"] == 1
    assert counts["notices_sent"] == {"hosting": 3, "registrar": 1, "site": 0}
    assert counts["takedowns_confirmed"] == 3 and counts["median_seconds"] == pytest.approx(7200, abs=0.01)
    insert_case(store, "t3.example", [], status="taken_down", taken_down_minute=30)
    assert store.case_counts()["median_seconds"] == pytest.approx(5400, abs=0.01)
    # A merged case no longer counts as a case of its own.
    insert_case(store, "gone.example", [], status="taken_down", taken_down_minute=1, merged_into=1)
    assert store.case_counts()["takedowns_confirmed"] == 4
