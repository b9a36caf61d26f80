"""SQL for the versioned verdict matrix; called by monitor.store inside its transactions (and for reads).

Stored per group: every (domain, path class) has one row per set of agents whose verdicts are equal (agent
``'*'`` and an agent set, a JSON array kept once by its SHA-256 in ``policy_agent_sets``), so a first audit writes
a row per robots.txt group and path class — ~12 for a typical site — not one per agent (~650). Rows from before
migration 0015 name their agent and have no set; both shapes read the same. Readers always get one verdict per
(agent, path class): :func:`current` as Cells, :func:`at` and :func:`history` as dicts.
"""

from __future__ import annotations

import hashlib
import json
import operator
from collections.abc import Iterator
from dataclasses import fields
from typing import Any

import sqlite_utils

from monitor.policy.matrix import Cell

GROUP = "*"  # the agent column of a row that holds an agent set's verdicts (never an RFC 9309 product token)

_FIELDS = [f.name for f in fields(Cell)]
_COLUMNS = ["grp" if n == "group" else n for n in _FIELDS]
_SELECT = ", ".join(_COLUMNS)
# What a verdict is, besides its domain and agent (path_class first): one C-level call per cell into a tuple.
_VERDICT = operator.attrgetter(*_FIELDS[2:])
_INSERT = (
    f"INSERT INTO policy_verdicts ({_SELECT}, agent_set, valid_from) VALUES ({', '.join('?' * (len(_FIELDS) + 2))})"
)
_CLOSE = "UPDATE policy_verdicts SET valid_to = ? WHERE id = ?"

# Agent sets are content-addressed, so a decoded set never goes stale; a registry has few distinct sets.
_sets: dict[str, tuple[str, ...]] = {}


def _agent_sets(db: Any, shas: set[str]) -> dict[str, tuple[str, ...]]:
    missing = [s for s in shas if s not in _sets]
    if missing:
        marks = ", ".join("?" * len(missing))
        for sha, agents in db.execute(
            f"SELECT sha256, agents FROM policy_agent_sets WHERE sha256 IN ({marks})", missing
        ):
            _sets[sha] = tuple(json.loads(agents))
    return {s: _sets[s] for s in shas}


def in_force_summary(conn: Any) -> Iterator[tuple[Any, ...]]:
    """(domain, agent, path class, crawl_allowed, restriction, contradictions) of every verdict in force, one per
    agent: what /metrics exports on every scrape, read from the covering index policy_verdicts_current_metrics and
    expanded here with the cached agent sets (json_each in SQL parsed every set again on every scrape)."""
    rows = conn.execute(
        "SELECT domain, agent, path_class, crawl_allowed, restriction, contradictions, agent_set FROM policy_verdicts "
        "WHERE valid_to IS NULL"
    ).fetchall()
    sets = _agent_sets(conn, {r[6] for r in rows if r[6] is not None})
    for row in rows:
        if row[6] is None:
            yield row[:6]
        else:
            for agent in sets[row[6]]:
                yield (row[0], agent, *row[2:6])


def _rows(db: sqlite_utils.Database, where: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """Stored rows as (columns..., agent_set, id, valid_from, valid_to)."""
    return db.execute(
        f"SELECT {_SELECT}, agent_set, id, valid_from, valid_to FROM policy_verdicts WHERE {where}", params
    ).fetchall()


def _expand(db: sqlite_utils.Database, rows: list[tuple[Any, ...]]) -> list[tuple[str, tuple[Any, ...]]]:
    """(agent, row) for every agent a row holds: its own, or each agent of its set."""
    sets = _agent_sets(db, {r[len(_FIELDS)] for r in rows if r[len(_FIELDS)] is not None})
    out = []
    for row in rows:
        agent_set = row[len(_FIELDS)]
        for agent in sets[agent_set] if agent_set is not None else (row[1],):
            out.append((agent, row))
    return out


def current(db: sqlite_utils.Database, domain: str) -> dict[tuple[str, str], Cell]:
    """The verdicts in force now for ``domain``, keyed by (agent, path class)."""
    n = len(_FIELDS)
    rows = _rows(db, "domain = ? AND valid_to IS NULL", [domain])
    sets = _agent_sets(db, {r[n] for r in rows if r[n] is not None})
    out = {}
    for row in rows:
        cell = Cell(row[0], row[1], row[2], bool(row[3]), *row[4:n])  # SQLite hands back crawl_allowed as 0/1
        if row[n] is None:
            out[cell.key] = cell
            continue
        # The set's agents share every field but their name: copy the fields (a frozen dataclass's __init__
        # costs ~6 us a cell, ~4 ms for a registry's worth of agents on every audit whose inputs changed).
        state = cell.__dict__
        for agent in sets[row[n]]:
            member = object.__new__(Cell)
            member.__dict__.update(state, agent=agent)
            out[(agent, cell.path_class)] = member
    return out


def _as_dict(agent: str, row: tuple[Any, ...]) -> dict[str, Any]:
    n = len(_FIELDS)
    return dict(zip(_COLUMNS, row[:n], strict=True)) | {
        "agent": agent,
        "id": row[n + 1],
        "valid_from": row[n + 2],
        "valid_to": row[n + 3],
    }


def at(db: sqlite_utils.Database, domain: str, when: str) -> list[dict[str, Any]]:
    """The verdicts that held at ``when`` (ISO-8601 UTC): valid_from <= when < valid_to."""
    rows = _rows(db, "domain = ? AND valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)", [domain, when, when])
    return sorted((_as_dict(a, r) for a, r in _expand(db, rows)), key=lambda d: (d["agent"], d["path_class"]))


def history(db: sqlite_utils.Database, domain: str) -> list[dict[str, Any]]:
    """Every version of every (agent, path class) verdict of ``domain``, newest first.

    A version spans every stored row that held the agent's verdict unchanged back to back: an agent moving between
    sets (another agent's verdict changed, the registry grew) is no new version of its own.
    """
    n = len(_FIELDS)
    versions: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for agent, row in sorted(_expand(db, _rows(db, "domain = ?", [domain])), key=lambda ar: (ar[1][n + 2], ar[0])):
        mine = versions.setdefault((agent, row[2]), [])
        last = mine[-1] if mine else None
        if last is not None and last["valid_to"] == row[n + 2] and last["_verdict"] == row[2:n]:
            last["valid_to"] = row[n + 3]
            continue
        mine.append(_as_dict(agent, row) | {"_verdict": row[2:n]})
    out = [{k: v for k, v in d.items() if k != "_verdict"} for vs in versions.values() for d in vs]
    return sorted(out, key=lambda d: (d["valid_from"], d["agent"], d["path_class"]), reverse=True)


def _grouped(cells: list[Cell]) -> dict[tuple[str, str], tuple[tuple[Any, ...], tuple[str, ...]]]:
    """The rows that hold ``cells``: (path class, agent-set sha) -> (verdict, agents)."""
    by_verdict: dict[tuple[Any, ...], list[str]] = {}
    for cell in cells:
        by_verdict.setdefault(_VERDICT(cell), []).append(cell.agent)
    out = {}
    for verdict, agents in by_verdict.items():
        members = tuple(sorted(agents))
        sha = hashlib.sha256(json.dumps(members).encode()).hexdigest()
        out[(verdict[0], sha)] = (verdict, members)
    return out


def apply(
    db: sqlite_utils.Database,
    domain: str,
    cells: list[Cell],
    now: str,
    before: dict[tuple[str, str], Cell] | None = None,
) -> list[tuple[Cell | None, Cell]]:
    """Close changed verdicts and open their new versions; returns (old, new) for every changed cell.

    Must run inside the caller's transaction. Cells that vanished (an agent dropped from the registry, a path
    class removed from the config) are closed too. ``before`` may pass the current verdicts the caller already
    read (one job per domain at a time keeps them current); otherwise they are read here. Nothing is written
    when no cell changed; otherwise only the group rows whose verdict or agents changed are closed and reopened.
    """
    if before is None:
        before = current(db, domain)
    changes: list[tuple[Cell | None, Cell]] = []
    keep = set()
    for cell in cells:
        keep.add(cell.key)
        old = before.get(cell.key)
        if old != cell:
            changes.append((old, cell))
    if not changes and keep.issuperset(before):
        return changes
    n = len(_FIELDS)
    stored = {
        (row[2], row[n] if row[n] is not None else f"agent:{row[1]}"): row
        for row in _rows(db, "domain = ? AND valid_to IS NULL", [domain])
    }
    wanted = _grouped(cells)
    closing = [[now, row[n + 1]] for key, row in stored.items() if key not in wanted or row[2:n] != wanted[key][0]]
    opening = {key: new for key, new in wanted.items() if key not in stored or stored[key][2:n] != new[0]}
    if closing:
        db.conn.executemany(_CLOSE, closing)
    if opening:
        db.conn.executemany(
            "INSERT OR IGNORE INTO policy_agent_sets (sha256, agents) VALUES (?, ?)",
            [(sha, json.dumps(agents)) for (_, sha), (_, agents) in opening.items()],
        )
        db.conn.executemany(
            _INSERT, [(domain, GROUP, *verdict, sha, now) for (_, sha), (verdict, _) in opening.items()]
        )
    return changes
