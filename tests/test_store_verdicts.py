"""Verdict versions with validity intervals in a real SQLite file: any past moment can be answered."""

from __future__ import annotations

from dataclasses import replace

from monitor.policy.matrix import Cell
from monitor.store import verdicts as store_verdicts


def cell(agent="GPTBot", path_class="track", allowed=False, line=2):
    return Cell("soundcloud.com", agent, path_class, allowed, "/a/t", "specific", line, "disallow", "/",
                None, None, None, None, None, None, "full")  # fmt: skip


def test_versions_open_and_close(store):
    db = store.db
    a, b = cell(), cell(agent="CCBot")
    assert len(store_verdicts.apply(db, "soundcloud.com", [a, b], "2026-01-01T00:00:00")) == 2
    assert store_verdicts.apply(db, "soundcloud.com", [a, b], "2026-01-02T00:00:00") == []  # nothing changed
    a2 = replace(a, crawl_allowed=True, rule_directive="allow", restriction="none")
    (change,) = store_verdicts.apply(db, "soundcloud.com", [a2, b], "2026-01-03T00:00:00")
    assert change == (a, a2)
    assert store_verdicts.current(db, "soundcloud.com")[("GPTBot", "track")] == a2
    past = store_verdicts.at(db, "soundcloud.com", "2026-01-02T12:00:00")
    assert [(r["agent"], r["crawl_allowed"]) for r in past] == [("CCBot", 0), ("GPTBot", 0)]
    now = store_verdicts.at(db, "soundcloud.com", "2026-01-03T00:00:00")  # valid_from is inclusive
    assert dict((r["agent"], r["crawl_allowed"]) for r in now) == {"CCBot": 0, "GPTBot": 1}
    assert store_verdicts.at(db, "soundcloud.com", "2025-12-31T00:00:00") == []


def test_vanished_cells_are_closed(store):
    db = store.db
    store_verdicts.apply(db, "soundcloud.com", [cell(), cell(agent="OldBot")], "2026-01-01T00:00:00")
    store_verdicts.apply(db, "soundcloud.com", [cell()], "2026-01-02T00:00:00")
    assert set(store_verdicts.current(db, "soundcloud.com")) == {("GPTBot", "track")}
    assert len(store_verdicts.history(db, "soundcloud.com")) == 2
