"""Reads and writes of alert delivery: outbox routing, deliveries, retries, dead letters, mutes, probe health.

Every write is one transaction opened by the :class:`~monitor.store.Store` (``store._tx()``): the store stays
the only writer and its transaction owner; this module only holds the alert-specific statements.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from monitor.alerts.router import Facts, Mute, active_mute, decide
from monitor.errors import InvalidTransition, NotFound
from monitor.settings import AlertChannel
from monitor.store.core import Store

FINAL = ("sent", "dead", "muted", "filtered")


def iso(at: datetime) -> str:
    """The store's time format: ISO-8601 UTC with microseconds (sorts as text)."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


# ---- routing -------------------------------------------------------------------------------------------


def route_new(
    store: Store, channels: dict[str, AlertChannel | None], mutes: list[Mute], now: datetime, limit: int = 1000
) -> dict[str, int]:
    """Fan every unrouted outbox row out to one delivery per channel (pending, muted or filtered), in one
    transaction with marking the rows routed. Returns how many deliveries were muted per channel."""
    muted: dict[str, int] = {}
    at = iso(now)
    with store._tx():
        rows = list(
            store.db.query(
                "SELECT id, incident_id, idempotency_key, transition, severity, payload FROM alert_outbox "
                "WHERE status = 'pending' AND routed_at IS NULL ORDER BY id LIMIT ?",
                [limit],
            )
        )
        for row in rows:
            payload = json.loads(row["payload"])
            facts = Facts(payload["kind"], row["severity"], payload["domain"], row["transition"],
                          payload.get("case_id") is not None)  # fmt: skip
            for name, channel in channels.items():
                status, detail = decide(channel, facts, mutes, now)
                store.db.execute(
                    "INSERT OR IGNORE INTO alert_deliveries (outbox_id, incident_id, channel, idempotency_key, "
                    "transition, kind, severity, domain, status, detail, next_attempt_at, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [row["id"], row["incident_id"], name, f"{row['idempotency_key']}:{name}", facts.transition,
                     facts.kind, facts.severity, facts.domain, status, detail, at, at],
                )  # fmt: skip
                if status == "muted":
                    muted[name] = muted.get(name, 0) + 1
            store.db.execute("UPDATE alert_outbox SET routed_at = ? WHERE id = ?", [at, row["id"]])
        _refresh_outbox(store, [r["id"] for r in rows], at)
    return muted


def mute_pending(store: Store, mutes: list[Mute], now: datetime) -> dict[str, int]:
    """Mute pending deliveries that a mute added since they were routed now holds; muted count per channel."""
    if not mutes:
        return {}
    muted: dict[str, int] = {}
    with store._tx():
        rows = list(
            store.db.query(
                "SELECT id, outbox_id, channel, kind, severity, domain, transition FROM alert_deliveries "
                "WHERE status = 'pending' AND transition != 'digest'"
            )
        )
        touched = []
        for r in rows:
            facts = Facts(r["kind"], r["severity"], r["domain"], r["transition"])
            mute = active_mute(mutes, facts, now)  # routing was decided already: only mutes matter now
            if mute is not None:
                store.db.execute(
                    "UPDATE alert_deliveries SET status = 'muted', detail = ? WHERE id = ?", [mute.label, r["id"]]
                )
                muted[r["channel"]] = muted.get(r["channel"], 0) + 1
                touched.append(r["outbox_id"])
        _refresh_outbox(store, touched, iso(now))
    return muted


def _refresh_outbox(store: Store, outbox_ids: list[int | None], at: str) -> None:
    """Keep the outbox row's status the summary of its deliveries: pending while any is, dead if any is."""
    for outbox_id in {i for i in outbox_ids if i is not None}:
        store.db.execute(
            "UPDATE alert_outbox SET "
            "status = CASE "
            "WHEN EXISTS (SELECT 1 FROM alert_deliveries WHERE outbox_id = :id AND status = 'pending') THEN 'pending' "
            "WHEN EXISTS (SELECT 1 FROM alert_deliveries WHERE outbox_id = :id AND status = 'dead') THEN 'dead' "
            "  ELSE 'sent' END, "
            "attempts = (SELECT coalesce(max(attempts), 0) FROM alert_deliveries WHERE outbox_id = :id), "
            "last_error = (SELECT last_error FROM alert_deliveries WHERE outbox_id = :id AND last_error IS NOT NULL "
            "  ORDER BY last_attempt_at DESC LIMIT 1) "
            "WHERE id = :id",
            {"id": outbox_id},
        )
        store.db.execute(
            "UPDATE alert_outbox SET sent_at = coalesce(sent_at, :at) WHERE id = :id AND status = 'sent'",
            {"id": outbox_id, "at": at},
        )


# ---- sending -------------------------------------------------------------------------------------------


def due(store: Store, now: datetime, limit: int = 1000) -> list[dict[str, Any]]:
    """Pending deliveries whose time has come, oldest first, with the alert payload and the incident's data."""
    rows = store.db.query(
        "SELECT d.*, o.payload AS alert, i.data AS incident_data FROM alert_deliveries d "
        "LEFT JOIN alert_outbox o ON o.id = d.outbox_id LEFT JOIN incidents i ON i.id = d.incident_id "
        "WHERE d.status = 'pending' AND d.next_attempt_at <= ? ORDER BY d.id LIMIT ?",
        [iso(now), limit],
    )
    out = []
    for r in rows:
        alert = json.loads(r.pop("alert") or r["payload"] or "{}")
        alert["incident_data"] = json.loads(r.pop("incident_data") or "{}")
        out.append({**r, "alert": alert})
    return out


def mark_sent(store: Store, ids: list[int], message_key: str, now: datetime, detail: str | None = None) -> None:
    """The channel accepted the message carrying these deliveries: all of them are sent, together."""
    at = iso(now)
    with store._tx():
        marks = ",".join("?" * len(ids))
        store.db.execute(
            f"UPDATE alert_deliveries SET status = 'sent', sent_at = ?, last_attempt_at = ?, attempts = attempts + 1, "
            f"message_key = ?, detail = coalesce(?, detail) WHERE id IN ({marks}) AND status = 'pending'",
            [at, at, message_key, detail, *ids],
        )
        _refresh_outbox(store, _outbox_ids(store, ids), at)


def mark_failed(store: Store, outcomes: list[tuple[int, datetime | None]], error: str, now: datetime) -> int:
    """A send failed: each (delivery id, next attempt) is retried then, or is a dead letter when the time is
    None. Returns how many became dead letters."""
    at = iso(now)
    dead = 0
    with store._tx():
        for delivery_id, next_at in outcomes:
            if next_at is None:
                dead += 1
            store.db.execute(
                "UPDATE alert_deliveries SET attempts = attempts + 1, last_attempt_at = ?, last_error = ?, "
                "status = ?, next_attempt_at = ? WHERE id = ? AND status = 'pending'",
                [at, error, "dead" if next_at is None else "pending", iso(next_at) if next_at else at, delivery_id],
            )
        _refresh_outbox(store, _outbox_ids(store, [i for i, _ in outcomes]), at)
    return dead


def _outbox_ids(store: Store, ids: list[int]) -> list[int | None]:
    marks = ",".join("?" * len(ids))
    return [
        r["outbox_id"] for r in store.db.query(f"SELECT outbox_id FROM alert_deliveries WHERE id IN ({marks})", ids)
    ]


def enqueue_digest(store: Store, channels: list[str], period: int, payload: dict[str, Any], now: datetime) -> int:
    """One digest delivery per channel for this period (a restart in the same period adds nothing)."""
    at = iso(now)
    added = 0
    with store._tx():
        for name in channels:
            cur = store.db.execute(
                "INSERT OR IGNORE INTO alert_deliveries (channel, idempotency_key, transition, kind, severity, domain, "
                "payload, next_attempt_at, created_at) VALUES (?, ?, 'digest', 'digest', 'info', '', ?, ?, ?)",
                [name, f"digest-{period}:{name}", json.dumps(payload), at, at],
            )
            added += cur.rowcount
    return added


# ---- the CLI's reads and writes ------------------------------------------------------------------------


def list_deliveries(store: Store, failed: bool = False, limit: int = 100) -> list[dict[str, Any]]:
    """Deliveries, newest first; ``failed``: dead letters and pending ones whose last attempt failed."""
    where = "WHERE d.status = 'dead' OR (d.status = 'pending' AND d.attempts > 0)" if failed else ""
    rows = store.db.query(
        "SELECT d.id, d.channel, d.status, d.attempts, d.next_attempt_at, d.last_attempt_at, d.sent_at, "
        "d.idempotency_key, d.message_key, d.incident_id, d.transition, d.kind, d.severity, d.domain, d.detail, "
        "d.last_error, d.created_at, json_extract(o.payload, '$.title') AS title FROM alert_deliveries d "
        f"LEFT JOIN alert_outbox o ON o.id = d.outbox_id {where} ORDER BY d.id DESC LIMIT ?",
        [limit],
    )
    return list(rows)


def retry(store: Store, delivery_id: int, now: datetime) -> dict[str, Any]:
    """Queue a dead letter (or a pending delivery waiting for its backoff) for the next drain, attempts reset."""
    with store._tx():
        row = store._one("SELECT id, status FROM alert_deliveries WHERE id = ?", [delivery_id])
        if row is None:
            raise NotFound(f"no alert delivery with id {delivery_id}")
        if row["status"] not in ("dead", "pending"):
            raise InvalidTransition(
                f"delivery #{delivery_id} is {row['status']}; only dead or pending ones are retried"
            )
        store.db.execute(
            "UPDATE alert_deliveries SET status = 'pending', attempts = 0, next_attempt_at = ? WHERE id = ?",
            [iso(now), delivery_id],
        )
        _refresh_outbox(store, _outbox_ids(store, [delivery_id]), iso(now))
    return list_one(store, delivery_id)


def list_one(store: Store, delivery_id: int) -> dict[str, Any]:
    row = store._one("SELECT * FROM alert_deliveries WHERE id = ?", [delivery_id])
    if row is None:
        raise NotFound(f"no alert delivery with id {delivery_id}")
    return row


def add_mute(
    store: Store, domain: str | None, kind: str | None, until: datetime, reason: str, actor: str, now: datetime
) -> dict[str, Any]:
    if not domain and not kind:
        raise ValueError("a mute needs a domain, a kind or both")
    with store._tx():
        cur = store.db.execute(
            "INSERT INTO alert_mutes (domain, kind, until, reason, actor, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            [domain.lower() if domain else None, kind, iso(until), reason, actor, iso(now)],
        )
    return store._one("SELECT * FROM alert_mutes WHERE id = ?", [cur.lastrowid]) or {}


def lift_mute(store: Store, mute_id: int, actor: str, now: datetime) -> dict[str, Any]:
    with store._tx():
        row = store._one("SELECT * FROM alert_mutes WHERE id = ?", [mute_id])
        if row is None:
            raise NotFound(f"no mute with id {mute_id}")
        if row["lifted_at"] is not None:
            raise InvalidTransition(f"mute #{mute_id} was already lifted")
        store.db.execute("UPDATE alert_mutes SET lifted_at = ?, lifted_by = ? WHERE id = ?", [iso(now), actor, mute_id])
    return store._one("SELECT * FROM alert_mutes WHERE id = ?", [mute_id]) or {}


def list_mutes(store: Store, now: datetime, include_ended: bool = False) -> list[dict[str, Any]]:
    where = "" if include_ended else "WHERE lifted_at IS NULL AND until > ?"
    args = [] if include_ended else [iso(now)]
    return list(store.db.query(f"SELECT * FROM alert_mutes {where} ORDER BY id", args))


def db_mutes(store: Store, now: datetime) -> list[Mute]:
    """The CLI mutes in force now."""
    return [
        Mute(r["domain"], r["kind"], datetime.fromisoformat(r["until"]), r["reason"], r["id"])
        for r in list_mutes(store, now)
    ]


# ---- numbers -------------------------------------------------------------------------------------------


def counts(store: Store) -> dict[str, int]:
    """Deliveries by status."""
    out = dict.fromkeys(("pending", *FINAL), 0)
    # alert_delivery_counts is kept by triggers (migration 0012): a few rows, however long the history.
    for r in store.db.query("SELECT status, sum(n) AS n FROM alert_delivery_counts GROUP BY status"):
        out[r["status"]] = r["n"]
    return out
