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


def matrix(domain="soundcloud.com", named=("GPTBot",), others=("CCBot", "Bytespider", "YouBot")):
    """Agents in ``named`` disallowed by their own group, the rest allowed by `*`, over two path classes."""
    cells = []
    for agent in (*named, *others):
        for path_class in ("home", "track"):
            own = agent in named
            cells.append(
                Cell(
                    domain,
                    agent,
                    path_class,
                    not own,
                    "/",
                    "specific" if own else "global",
                    2 if own else 9,
                    "disallow" if own else "allow",
                    "/",
                    "no" if own else None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    "full" if own else "none",
                )
            )
    return cells


def rows(db, where="valid_to IS NULL"):
    return db.execute(f"SELECT agent, path_class, agent_set FROM policy_verdicts WHERE {where}").fetchall()


def test_a_first_audit_writes_one_row_per_group_and_reads_back_every_cell(store):
    db = store.db
    cells = matrix()
    assert len(store_verdicts.apply(db, "soundcloud.com", cells, "2026-01-01T00:00:00")) == 8
    assert len(rows(db)) == 4  # 2 groups x 2 path classes, not 4 agents x 2 path classes
    assert {r[0] for r in rows(db)} == {store_verdicts.GROUP}
    assert db.execute("SELECT count(*) FROM policy_agent_sets").fetchone()[0] == 2
    assert store_verdicts.current(db, "soundcloud.com") == {c.key: c for c in cells}
    # The same sets on another domain are not stored again.
    store_verdicts.apply(db, "other.example", matrix("other.example"), "2026-01-01T00:00:00")
    assert db.execute("SELECT count(*) FROM policy_agent_sets").fetchone()[0] == 2
    # The view reads one row per agent, as the cells are.
    view = db.execute(
        "SELECT agent, path_class, crawl_allowed FROM policy_verdicts_in_force WHERE domain = 'soundcloud.com'"
    ).fetchall()
    assert sorted(view) == sorted((c.agent, c.path_class, int(c.crawl_allowed)) for c in cells)


def test_an_agent_moving_group_changes_only_its_cells_and_its_neighbours_keep_one_version(store):
    db = store.db
    store_verdicts.apply(db, "soundcloud.com", matrix(), "2026-01-01T00:00:00")
    assert store_verdicts.apply(db, "soundcloud.com", matrix(), "2026-01-02T00:00:00") == []
    assert len(rows(db, "1")) == 4  # nothing written when nothing changed
    moved = matrix(named=("GPTBot", "CCBot"), others=("Bytespider", "YouBot"))
    changes = store_verdicts.apply(db, "soundcloud.com", moved, "2026-01-03T00:00:00")
    assert sorted((new.agent, new.path_class) for _, new in changes) == [("CCBot", "home"), ("CCBot", "track")]
    assert all(old is not None and old.crawl_allowed and not new.crawl_allowed for old, new in changes)
    assert store_verdicts.current(db, "soundcloud.com") == {c.key: c for c in moved}
    history = store_verdicts.history(db, "soundcloud.com")
    # Bytespider's set was rewritten without it changing: still one version, open since the first audit.
    (byte,) = [v for v in history if v["agent"] == "Bytespider" and v["path_class"] == "home"]
    assert (byte["valid_from"], byte["valid_to"]) == ("2026-01-01T00:00:00", None)
    ccbot = [v for v in history if v["agent"] == "CCBot" and v["path_class"] == "home"]
    assert [(v["valid_from"], v["crawl_allowed"]) for v in ccbot] == [
        ("2026-01-03T00:00:00", 0),
        ("2026-01-01T00:00:00", 1),
    ]
    before = store_verdicts.at(db, "soundcloud.com", "2026-01-02T00:00:00")
    assert {(r["agent"], r["path_class"]): r["crawl_allowed"] for r in before}[("CCBot", "track")] == 1
    assert len(before) == 8 and "agent_set" not in before[0]


def test_rows_stored_per_agent_before_the_migration_read_the_same_and_are_regrouped_on_a_change(store):
    db = store.db
    cells = matrix()
    # The pre-0015 shape: one row per agent and path class, no agent set.
    db.conn.executemany(
        f"INSERT INTO policy_verdicts ({store_verdicts._SELECT}, valid_from) VALUES "
        f"({', '.join('?' * (len(store_verdicts._FIELDS) + 1))})",
        [(*(getattr(c, f) for f in store_verdicts._FIELDS), "2025-06-01T00:00:00") for c in cells],
    )
    assert store_verdicts.current(db, "soundcloud.com") == {c.key: c for c in cells}
    assert len(db.execute("SELECT * FROM policy_verdicts_in_force").fetchall()) == 8
    assert store_verdicts.apply(db, "soundcloud.com", cells, "2026-01-01T00:00:00") == []
    assert len(rows(db)) == 8  # unchanged: left as it was
    moved = matrix(named=("GPTBot", "CCBot"), others=("Bytespider", "YouBot"))
    assert len(store_verdicts.apply(db, "soundcloud.com", moved, "2026-01-02T00:00:00")) == 2
    assert len(rows(db)) == 4 and all(r[2] is not None for r in rows(db))
    history = store_verdicts.history(db, "soundcloud.com")
    assert [v["valid_from"] for v in history if v["agent"] == "YouBot"] == ["2025-06-01T00:00:00"] * 2


def test_the_policy_metrics_expand_groups_to_one_series_per_agent(store):
    from prometheus_client.core import GaugeMetricFamily

    from monitor.metrics_sql import policy_metrics

    store_verdicts.apply(store.db, "soundcloud.com", matrix(), "2026-01-01T00:00:00")
    families = [GaugeMetricFamily(name, "", labels=labels) for name, labels in (
        ("allowed", ["domain", "agent", "path_class"]), ("restriction", ["domain", "agent"]),
        ("contradictions", ["domain"]), ("last_change", ["domain"]), ("present", ["domain", "file"]))]  # fmt: skip
    policy_metrics(store.db.conn, *families)
    allowed = {tuple(s.labels.values()): s.value for s in families[0].samples}
    assert len(allowed) == 8 and allowed[("soundcloud.com", "GPTBot", "track")] == 0
    assert allowed[("soundcloud.com", "YouBot", "home")] == 1
    assert {s.labels["agent"]: s.value for s in families[1].samples} == {
        "GPTBot": 2, "CCBot": 0, "Bytespider": 0, "YouBot": 0}  # fmt: skip
