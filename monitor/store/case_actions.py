"""What people and the takedown re-check do to a case: status (validated), owner, notes, "notice sent", re-check
results, each one transaction with its timeline event. Cases are read through ``monitor.cases.reads``."""

from __future__ import annotations

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


def change_status(store: Store, case_id: int, status: str, actor: str, note: str | None = None) -> None:
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


def assign(store: Store, case_id: int, owner: str, actor: str) -> None:
    """Give a case to ``owner`` ("" takes it from whoever has it)."""
    now = utcnow()
    with store._tx():
        row = _case(store, case_id)
        store.db.execute("UPDATE cases SET owner = ?, updated_at = ? WHERE id = ?", [owner or None, now, case_id])
        case_event(store.db, case_id, now, "owner_changed", actor, None, {"from": row["owner"], "to": owner or None})


def add_note(store: Store, case_id: int, text: str, actor: str) -> None:
    """A note on the case's timeline."""
    if not text.strip():
        raise InvalidTransition("a note needs some text")
    now = utcnow()
    with store._tx():
        _case(store, case_id)
        case_event(store.db, case_id, now, "note", actor, text)


def notice_sent(
    store: Store,
    case_id: int,
    recipient: str,
    address: str | None,
    message_id: str | None,
    actor: str,
    recheck_after_seconds: float = DEFAULT_RECHECK_SECONDS,
) -> None:
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
