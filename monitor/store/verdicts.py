"""SQL for the versioned verdict matrix; called by monitor.store inside its transactions (and for reads)."""

from __future__ import annotations

import operator
from dataclasses import fields
from typing import Any

import sqlite_utils

from monitor.policy.matrix import Cell

_COLUMNS = [f.name for f in fields(Cell) if f.name != "group"] + ["grp"]


_FIELDS = [f.name for f in fields(Cell)]
# One C-level call per cell into a plain tuple (a first audit writes every cell: ~650 per domain); SQLite stores the
# bool crawl_allowed as 0/1.
_VALUES = operator.attrgetter(*_FIELDS)
_INSERT = (
    f"INSERT INTO policy_verdicts ({', '.join('grp' if n == 'group' else n for n in _FIELDS)}, valid_from) "
    f"VALUES ({', '.join('?' * (len(_FIELDS) + 1))})"
)


def _cell(row: dict[str, Any]) -> Cell:
    data = {k: row[k] for k in _COLUMNS}
    data["group"] = data.pop("grp")
    data["crawl_allowed"] = bool(data["crawl_allowed"])
    return Cell(**data)


_SELECT = ", ".join("grp" if name == "group" else name for name in [f.name for f in fields(Cell)])


def current(db: sqlite_utils.Database, domain: str) -> dict[tuple[str, str], Cell]:
    """The verdicts in force now for ``domain``, keyed by (agent, path class)."""
    # Plain tuples straight into Cell: this runs for every audited domain, ~650 rows each.
    rows = db.conn.execute(
        f"SELECT {_SELECT} FROM policy_verdicts WHERE domain = ? AND valid_to IS NULL", [domain]
    ).fetchall()
    out = {}
    for row in rows:
        cell = Cell(row[0], row[1], row[2], bool(row[3]), *row[4:])  # SQLite hands back 0/1
        out[cell.key] = cell
    return out


def at(db: sqlite_utils.Database, domain: str, when: str) -> list[dict[str, Any]]:
    """The verdicts that held at ``when`` (ISO-8601 UTC): valid_from <= when < valid_to."""
    return list(
        db.query(
            "SELECT * FROM policy_verdicts WHERE domain = ? AND valid_from <= ? AND (valid_to IS NULL OR valid_to > ?) "
            "ORDER BY agent, path_class",
            [domain, when, when],
        )
    )


def history(db: sqlite_utils.Database, domain: str) -> list[dict[str, Any]]:
    """Every verdict version of ``domain``, newest first."""
    return list(
        db.query("SELECT * FROM policy_verdicts WHERE domain = ? ORDER BY valid_from DESC, agent, path_class", [domain])
    )


def apply(
    db: sqlite_utils.Database,
    domain: str,
    cells: list[Cell],
    now: str,
    before: dict[tuple[str, str], Cell] | None = None,
) -> list[tuple[Cell | None, Cell]]:
    """Close changed verdicts and open their new versions; returns (old, new) for every change.

    Must run inside the caller's transaction. Cells that vanished (an agent dropped from the registry, a path
    class removed from the config) are closed too. ``before`` may pass the current verdicts the caller already
    read (one job per domain at a time keeps them current); otherwise they are read here.
    """
    if before is None:
        before = current(db, domain)
    changes: list[tuple[Cell | None, Cell]] = []
    keep = set()
    closing: list[list[Any]] = []
    rows: list[tuple[Any, ...]] = []
    for cell in cells:
        keep.add(cell.key)
        old = before.get(cell.key)
        if old == cell:
            continue
        if old is not None:
            closing.append([now, domain, cell.agent, cell.path_class])
        rows.append((*_VALUES(cell), now))
        changes.append((old, cell))
    close_sql = (
        "UPDATE policy_verdicts SET valid_to = ? WHERE domain = ? AND agent = ? AND path_class = ? AND valid_to IS NULL"
    )
    if closing:
        db.conn.executemany(close_sql, closing)
    if rows:
        db.conn.executemany(_INSERT, rows)
    vanished = [[now, domain, key[0], key[1]] for key in before if key not in keep]
    if vanished:
        db.conn.executemany(close_sql, vanished)
    return changes
