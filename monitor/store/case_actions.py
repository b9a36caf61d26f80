"""What people and the takedown re-check do to a case: status (validated), owner, notes, "notice sent", re-check
results, each one transaction with its timeline event; and the small reads the ``case`` command prints."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from monitor.cases.grouping import registrable
from monitor.errors import InvalidTransition, NotFound
from monitor.store.case_writes import SYSTEM_ACTOR, case_event, live_case
from monitor.store.core import Store, utcnow
from monitor.vocabulary import CASE_STATUSES, NOTICE_RECIPIENTS

# Status -> the statuses a person may move it to. notice_sent is reached by recording a notice (`case
# notice-sent`, with its message id), reappeared only by the material showing again.
MANUAL_STATUS: dict[str, tuple[str, ...]] = {
    "new": ("investigating", "no_action", "taken_down"),
    "investigating": ("new", "no_action", "taken_down"),
    "notice_sent": ("investigating", "no_action", "taken_down"),
    "taken_down": ("investigating", "no_action"),
    "no_action": ("investigating",),
    "reappeared": ("investigating", "no_action", "taken_down"),
}
NOTICE_FROM = ("new", "investigating", "notice_sent", "reappeared")
DEFAULT_RECHECK_SECONDS = 7 * 86400


def _case(store: Store, case_id: int) -> dict[str, Any]:
    row = store._one("SELECT * FROM cases WHERE id = ?", [case_id])
    if row is None:
        raise NotFound(f"no case with id {case_id}")
    if row["merged_into"] is not None:
        raise InvalidTransition(f"case #{case_id} was merged into case #{live_case(store.db, case_id)}; use that one")
    return row


def _later(now: str, seconds: float) -> str:
    return (datetime.fromisoformat(now) + timedelta(seconds=seconds)).isoformat(timespec="microseconds")


def change_status(store: Store, case_id: int, status: str, actor: str, note: str | None = None) -> dict[str, Any]:
    """Move a case to ``status`` (see MANUAL_STATUS); raises InvalidTransition / NotFound."""
    if status not in CASE_STATUSES:
        raise InvalidTransition(f"unknown case status {status!r} (one of {', '.join(CASE_STATUSES)})")
    now = utcnow()
    with store._tx():
        row = _case(store, case_id)
        if status == "notice_sent":
            raise InvalidTransition("record the notice with `scrapewatch case notice-sent` (it keeps the message id)")
        if status not in MANUAL_STATUS[row["status"]]:
            raise InvalidTransition(f"case #{case_id} is {row['status']}; it cannot become {status}")
        closed = status in ("taken_down", "no_action")
        store.db.execute(
            "UPDATE cases SET status = ?, updated_at = ?, taken_down_at = CASE WHEN ? THEN ? ELSE taken_down_at END, "
            "next_check_at = CASE WHEN ? THEN NULL ELSE next_check_at END WHERE id = ?",
            [status, now, status == "taken_down", now, closed, case_id],
        )
        case_event(store.db, case_id, now, "status_changed", actor, note, {"from": row["status"], "to": status})
    return case_view(store, case_id)


def assign(store: Store, case_id: int, owner: str, actor: str) -> dict[str, Any]:
    """Give a case to ``owner`` ("" takes it from whoever has it)."""
    now = utcnow()
    with store._tx():
        row = _case(store, case_id)
        store.db.execute("UPDATE cases SET owner = ?, updated_at = ? WHERE id = ?", [owner or None, now, case_id])
        case_event(store.db, case_id, now, "owner_changed", actor, None, {"from": row["owner"], "to": owner or None})
    return case_view(store, case_id)


def add_note(store: Store, case_id: int, text: str, actor: str) -> dict[str, Any]:
    """A note on the case's timeline."""
    if not text.strip():
        raise InvalidTransition("a note needs some text")
    now = utcnow()
    with store._tx():
        _case(store, case_id)
        case_event(store.db, case_id, now, "note", actor, text)
    return case_view(store, case_id)


def notice_sent(
    store: Store,
    case_id: int,
    recipient: str,
    address: str | None,
    message_id: str | None,
    actor: str,
    recheck_after_seconds: float = DEFAULT_RECHECK_SECONDS,
) -> dict[str, Any]:
    """Record a takedown notice sent by a person (scrapewatch never sends one): the notice row, status
    notice_sent, and the first re-check ``recheck_after_seconds`` from now."""
    if recipient not in NOTICE_RECIPIENTS:
        raise InvalidTransition(f"unknown recipient {recipient!r} (one of {', '.join(NOTICE_RECIPIENTS)})")
    now = utcnow()
    with store._tx():
        row = _case(store, case_id)
        if row["status"] not in NOTICE_FROM:
            raise InvalidTransition(f"case #{case_id} is {row['status']}; reopen it (investigating) before a notice")
        store.db.execute(
            "INSERT INTO case_notices (case_id, recipient, address, message_id, sent_at, actor) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [case_id, recipient, address, message_id, now, actor],
        )
        store.db.execute(
            "UPDATE cases SET status = 'notice_sent', notice_sent_at = coalesce(notice_sent_at, ?), "
            "next_check_at = ?, updated_at = ? WHERE id = ?",
            [now, _later(now, recheck_after_seconds), now, case_id],
        )
        case_event(
            store.db,
            case_id,
            now,
            "notice_sent",
            actor,
            None,
            {"recipient": recipient, "address": address, "message_id": message_id},
        )
    return case_view(store, case_id)


def due_rechecks(store: Store, now: str) -> list[dict[str, Any]]:
    """Cases waiting on a notice whose re-check is due, with the URLs to fetch again."""
    rows = list(
        store.db.query(
            "SELECT id, domain, notice_sent_at FROM cases WHERE status = 'notice_sent' AND merged_into IS NULL "
            "AND next_check_at IS NOT NULL AND next_check_at <= ? ORDER BY next_check_at",
            [now],
        )
    )
    return [{**r, "urls": case_urls(store, r["id"])} for r in rows]


def case_urls(store: Store, case_id: int) -> list[str]:
    """Where the case's material was seen on its own domains: the evidence URLs (archive API pages excluded)."""
    rows = store.db.query(
        "SELECT DISTINCT e.url, e.page_url FROM evidence e JOIN case_incidents ci ON ci.incident_id = e.incident_id "
        "WHERE ci.case_id = ?",
        [case_id],
    )
    domains = {r["domain"] for r in store.db.query("SELECT domain FROM case_domains WHERE case_id = ?", [case_id])}
    urls = {u for r in rows for u in (r["url"], r["page_url"]) if u and registrable(u) in domains}
    return sorted(urls)


def record_recheck(
    store: Store, case_id: int, up: list[str], checked: list[str], recheck_after_seconds: float, now: str | None = None
) -> str:
    """The re-check's answer: ``up`` are the URLs still serving the material of ``checked``. Every URL gone ->
    taken_down; otherwise a ``recheck`` event "still up after N days" and the next check scheduled."""
    now = now or utcnow()
    with store._tx():
        row = _case(store, case_id)
        if row["status"] != "notice_sent":
            return row["status"]  # a person moved it meanwhile: their decision stands
        sent = datetime.fromisoformat(row["notice_sent_at"] or now)
        days = max(0, (datetime.fromisoformat(now) - sent).days)
        data = {"up": bool(up), "days": days, "urls": sorted(up or checked)}
        note = f"still up after {days} day(s): {len(up)} of {len(checked)} URL(s)" if up else "every URL is gone"
        case_event(store.db, case_id, now, "recheck", SYSTEM_ACTOR, note, data)
        if up:
            store.db.execute(
                "UPDATE cases SET next_check_at = ?, updated_at = ? WHERE id = ?",
                [_later(now, recheck_after_seconds), now, case_id],
            )
            return "recheck"
        store.db.execute(
            "UPDATE cases SET status = 'taken_down', taken_down_at = ?, next_check_at = NULL, updated_at = ? "
            "WHERE id = ?",
            [now, now, case_id],
        )
        case_event(store.db, case_id, now, "taken_down", SYSTEM_ACTOR, f"after {days} day(s)", {"urls": checked})
        return "taken_down"


# ---- what the `case` command prints ------------------------------------------------------------------------


def case_rows(store: Store, status: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
    """Live cases (merged ones excluded), most severe and most recent first, with their incident counts."""
    where, args = "WHERE c.merged_into IS NULL", []
    if status:
        where, args = where + " AND c.status = ?", [status]
    return list(
        store.db.query(
            "SELECT c.id, c.domain, c.status, c.severity, c.owner, c.first_seen, c.last_seen, c.next_check_at, "
            "(SELECT count(*) FROM case_incidents ci WHERE ci.case_id = c.id) AS incidents, "
            "(SELECT count(*) FROM case_incidents ci JOIN incidents i ON i.id = ci.incident_id "
            " WHERE ci.case_id = c.id AND i.status IN ('open', 'acknowledged')) AS active "
            f"FROM cases c {where} ORDER BY CASE c.severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 "
            "WHEN 'medium' THEN 2 WHEN 'low' THEN 3 ELSE 4 END, c.last_seen DESC, c.id LIMIT ?",
            [*args, limit],
        )
    )


def case_view(store: Store, case_id: int) -> dict[str, Any]:
    """One case with its domains, links, incidents, notices and timeline; a merged case names where it went."""
    row = store._one("SELECT * FROM cases WHERE id = ?", [case_id])
    if row is None:
        raise NotFound(f"no case with id {case_id}")
    domains = list(
        store.db.query(
            "SELECT domain, reason, linked_at FROM case_domains WHERE case_id = ? ORDER BY linked_at, domain", [case_id]
        )
    )
    names = [d["domain"] for d in domains]
    marks = ",".join("?" * len(names))
    links = (
        list(
            store.db.query(
                f"SELECT kind, value, domain, first_seen FROM case_links WHERE domain IN ({marks}) "
                "ORDER BY kind, value, domain",
                names,
            )
        )
        if names
        else []
    )
    incidents = list(
        store.db.query(
            "SELECT i.id, i.kind, i.severity, i.status, i.domain, i.title, i.first_seen, i.last_seen FROM incidents i "
            "JOIN case_incidents ci ON ci.incident_id = i.id WHERE ci.case_id = ? ORDER BY i.id",
            [case_id],
        )
    )
    events = [
        {**e, "data": json.loads(e["data"] or "{}")}
        for e in store.db.query(
            "SELECT at, action, actor, note, data FROM case_events WHERE case_id = ? ORDER BY at, id", [case_id]
        )
    ]
    notices = list(
        store.db.query(
            "SELECT recipient, address, message_id, sent_at, actor FROM case_notices WHERE case_id = ? ORDER BY id",
            [case_id],
        )
    )
    merged = live_case(store.db, case_id) if row["merged_into"] is not None else None
    return {
        **row,
        "live_case": merged,
        "domains": domains,
        "links": links,
        "incidents": incidents,
        "notices": notices,
        "timeline": events,
    }
