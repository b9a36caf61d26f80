"""Case writes inside the store's transactions: incidents linked to their offender's case (opened when needed),
operator links recorded, cases merged when a link value joins them, severity, reappearance, case alerts.

The functions taking ``db`` run inside a transaction someone else owns (``Store.apply``, a migration); the ones
taking a store open their own. Grouping decisions are pure (:mod:`monitor.cases.grouping`); this module writes.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import sqlite_utils

from monitor.cases import grouping
from monitor.cases.grouping import Link
from monitor.incidents import ACTIVE, SEVERITY_RANK, Evidence, Transition

SYSTEM_ACTOR = "scrapewatch"
CLOSED = ("taken_down", "no_action")
# Case transitions a case-mode alert channel hears about (one message each, not one per incident).
CASE_ALERTS = ("opened", "escalated", "reappeared")


class TxStore(Protocol):
    """What the store-level functions need: the database and the store's one way to open a transaction."""

    db: sqlite_utils.Database
    case_options: CaseOptions

    def _tx(self) -> contextlib.AbstractContextManager[None]: ...


@dataclass(frozen=True)
class CaseOptions:
    """How cases are kept (from the ``cases`` and ``alerts`` settings)."""

    max_link_domains: int = grouping.MAX_LINK_DOMAINS
    ignored_client_ids: tuple[str, ...] = ()
    alerts: bool = False  # some channel alerts per case: write case alert rows to the outbox
    # Off only where cases are written by other means (tests of the case reads shape their cases by hand).
    link: bool = True


@dataclass
class _Touched:
    case_id: int
    opened: bool
    severity_before: str
    trigger: int  # the incident whose change this is, for the outbox row
    quiet: bool = True


def _one(db: sqlite_utils.Database, sql: str, args: Sequence[Any]) -> dict[str, Any] | None:
    rows = list(db.query(sql, list(args)))
    return rows[0] if rows else None


def live_case(db: sqlite_utils.Database, case_id: int | None) -> int | None:
    """Follow ``merged_into`` to the case that holds a merged case's incidents now."""
    seen = set()
    while case_id is not None and case_id not in seen:
        seen.add(case_id)
        row = _one(db, "SELECT merged_into FROM cases WHERE id = ?", [case_id])
        if row is None or row["merged_into"] is None:
            return case_id if row is not None else None
        case_id = row["merged_into"]
    return case_id


def case_event(db: sqlite_utils.Database, case_id: int, at: str, action: str, actor: str = SYSTEM_ACTOR,
               note: str | None = None, data: dict[str, Any] | None = None) -> int:  # fmt: skip
    """Append one row to a case's timeline; returns its id."""
    cur = db.execute(
        "INSERT INTO case_events (case_id, at, action, actor, note, data) VALUES (?, ?, ?, ?, ?, ?)",
        [case_id, at, action, actor, note, json.dumps(data or {}, default=str)],
    )
    return cur.lastrowid  # type: ignore[return-value]


def _case_of_domain(db: sqlite_utils.Database, domain: str) -> int | None:
    row = _one(db, "SELECT case_id FROM case_domains WHERE domain = ?", [domain])
    return live_case(db, row["case_id"]) if row else None


def _open_case(db: sqlite_utils.Database, site: str, incident: dict[str, Any], now: str) -> int:
    cur = db.execute(
        "INSERT INTO cases (domain, title, status, severity, opened_at, first_seen, last_seen, updated_at) "
        "VALUES (?, ?, 'new', ?, ?, ?, ?, ?)",
        [site, f"{site}: {incident['title']}"[:300], incident["severity"], now, incident["first_seen"],
         incident["last_seen"], now],
    )  # fmt: skip
    case_id: int = cur.lastrowid  # type: ignore[assignment]
    db.execute(
        "INSERT INTO case_domains (domain, case_id, reason, linked_at) VALUES (?, ?, 'opened', ?) "
        "ON CONFLICT (domain) DO UPDATE SET case_id = excluded.case_id",
        [site, case_id, now],
    )
    case_event(db, case_id, now, "opened", data={"domain": site, "incident": incident["id"]})
    return case_id


def link_incident(
    db: sqlite_utils.Database,
    incident: dict[str, Any],
    evidence: Iterable[Evidence],
    now: str,
    options: CaseOptions,
    action: str = "opened",
) -> tuple[_Touched | None, list[Link]]:
    """Put one incident (a row of ``incidents``, data decoded) in its case and record the operator links its data
    and ``evidence`` carry. ``action`` is the incident's transition (opened, updated, reopened…). Returns the case
    touched (None: the incident belongs to no case) and the links that are new."""
    data = incident["data"]
    site = grouping.offender(incident["kind"], incident["domain"], data)
    if site is None:
        return None, []
    linked = _one(db, "SELECT case_id FROM case_incidents WHERE incident_id = ?", [incident["id"]])
    case_id = live_case(db, linked["case_id"]) if linked else None
    opened = False
    if case_id is None:
        case_id = _case_of_domain(db, site)
        if case_id is None:
            case_id, opened = _open_case(db, site, incident, now), True
        db.execute(
            "INSERT INTO case_incidents (incident_id, case_id, linked_at) VALUES (?, ?, ?) "
            "ON CONFLICT (incident_id) DO UPDATE SET case_id = excluded.case_id",
            [incident["id"], case_id, now],
        )
        case_event(db, case_id, now, "incident_linked", data={"incident": incident["id"], "kind": incident["kind"],
                                                              "domain": site})  # fmt: skip
    case = _one(db, "SELECT status, severity, first_seen, last_seen FROM cases WHERE id = ?", [case_id])
    assert case is not None
    touched = _Touched(case_id, opened, incident["severity"] if opened else case["severity"], incident["id"])
    if action != "resolved" and incident["status"] in ACTIVE:
        db.execute(
            "UPDATE cases SET first_seen = min(first_seen, ?), last_seen = max(last_seen, ?), updated_at = ? "
            "WHERE id = ?",
            [incident["first_seen"], incident["last_seen"], now, case_id],
        )
        back = action in ("opened", "reopened") or case["status"] == "taken_down"
        if case["status"] in CLOSED and back:
            db.execute("UPDATE cases SET status = 'reappeared', updated_at = ? WHERE id = ?", [now, case_id])
            case_event(db, case_id, now, "reappeared", data={"incident": incident["id"], "was": case["status"]})
            _case_alert(db, case_id, "reappeared", incident["id"], now, options)
    links = grouping.operator_links(site, incident["kind"], data, evidence, options.ignored_client_ids)
    links += grouping.data_text_links(site, data)
    new = []
    for link in dict.fromkeys(links):
        cur = db.execute(
            "INSERT OR IGNORE INTO case_links (kind, value, domain, first_seen) VALUES (?, ?, ?, ?)",
            [link.kind, link.value, link.domain, now],
        )
        if cur.rowcount:
            new.append(link)
    return touched, new


def link_run(
    db: sqlite_utils.Database,
    transitions: Sequence[Transition],
    ids: dict[str, int],
    evidence: Sequence[Evidence],
    now: str,
    options: CaseOptions,
) -> list[int]:
    """Called by ``Store.apply`` inside its transaction: every changed incident of a case kind joins its case;
    severities, merges and case alerts follow. Returns the ids of the cases touched."""
    if not options.link:
        return []
    by_key: dict[str, list[Evidence]] = {}
    for e in evidence:
        by_key.setdefault(e.dedupe_key, []).append(e)
    touched: dict[int, _Touched] = {}
    new_links: list[Link] = []
    for t in transitions:
        if t.action == "clean" or t.dedupe_key not in ids:
            continue
        row = _one(db, "SELECT * FROM incidents WHERE id = ?", [ids[t.dedupe_key]])
        if row is None:
            continue
        row["data"] = json.loads(row["data"] or "{}")
        case, links = link_incident(db, row, by_key.get(t.dedupe_key, ()), now, options, t.action)
        if case is None:
            continue
        new_links += links
        first = touched.setdefault(case.case_id, case)
        first.opened = first.opened or case.opened
        # A finding people asked to keep quiet never alerts; a storm's quiet items still make the case's message.
        if not (t.finding is not None and t.finding.quiet) and t.action != "resolved":
            first.quiet = False
            first.trigger = row["id"]
        if t.alerts:  # its outbox row says which case it is in (case-mode channels skip it)
            db.execute(
                "UPDATE alert_outbox SET payload = json_set(payload, '$.case_id', ?) "
                "WHERE id = (SELECT max(id) FROM alert_outbox WHERE incident_id = ?)",
                [case.case_id, row["id"]],
            )
    for c in touched.values():
        after = refresh_severity(db, c.case_id, now)
        if c.opened:
            if not c.quiet:
                _case_alert(db, c.case_id, "opened", c.trigger, now, options)
        elif SEVERITY_RANK[after] > SEVERITY_RANK[c.severity_before]:
            case_event(db, c.case_id, now, "escalated", data={"from": c.severity_before, "to": after})
            if not c.quiet:
                _case_alert(db, c.case_id, "escalated", c.trigger, now, options)
    if new_links:
        merge_values(db, {(k.kind, k.value) for k in new_links}, now, options.max_link_domains)
    return sorted({live_case(db, c) or c for c in touched})


def refresh_severity(db: sqlite_utils.Database, case_id: int, now: str) -> str:
    """Case severity = the highest of its active incidents (of all of them when none is active)."""
    rows = list(db.query(
        "SELECT i.severity, i.status FROM case_incidents ci JOIN incidents i ON i.id = ci.incident_id "
        "WHERE ci.case_id = ?", [case_id]))  # fmt: skip
    active = [r["severity"] for r in rows if r["status"] in ACTIVE] or [r["severity"] for r in rows]
    current = _one(db, "SELECT severity FROM cases WHERE id = ?", [case_id])
    severity = max(active, key=SEVERITY_RANK.__getitem__) if active else (current or {}).get("severity", "info")
    db.execute("UPDATE cases SET severity = ? WHERE id = ? AND severity != ?", [severity, case_id, severity])
    return severity


# ---- merges ------------------------------------------------------------------------------------------------


def merge_values(
    db: sqlite_utils.Database, values: Iterable[tuple[str, str]] | None, now: str, max_domains: int
) -> int:
    """Merge the cases that share any of these link ``values`` (None: every recorded value); returns merges."""
    if values is None:
        rows = list(db.query("SELECT kind, value, domain FROM case_links"))
    else:
        rows = []
        for kind, value in sorted(values):
            rows += db.query("SELECT kind, value, domain FROM case_links WHERE kind = ? AND value = ?", [kind, value])
    if not rows:
        return 0
    links = [Link(r["kind"], r["value"], r["domain"]) for r in rows]
    domains = {link.domain for link in links} | {link.value for link in links if link.kind == "relay_host"}
    case_of = {d: c for d in sorted(domains) if (c := _case_of_domain(db, d)) is not None}
    done = 0
    for m in grouping.plan_merges(case_of, links, max_domains):
        source, into = live_case(db, m.source), live_case(db, m.into)
        if source is None or into is None or source == into:
            continue
        merge_cases(db, max(source, into), min(source, into), m.link, now)
        done += 1
    return done


def merge_cases(db: sqlite_utils.Database, source: int, into: int, link: Link, now: str) -> None:
    """Merge case ``source`` into the older ``into``: its domains, incidents and notices move; both timelines
    say so; ``into`` keeps its status and takes the wider seen-window and the higher severity."""
    db.execute("UPDATE cases SET merged_into = ?, updated_at = ? WHERE id = ?", [into, now, source])
    db.execute(
        "UPDATE case_domains SET case_id = ?, reason = CASE WHEN reason = 'opened' THEN ? ELSE reason END "
        "WHERE case_id = ?",
        [into, f"{link.kind} {link.value}", source],
    )
    db.execute("UPDATE case_incidents SET case_id = ? WHERE case_id = ?", [into, source])
    db.execute("UPDATE case_notices SET case_id = ? WHERE case_id = ?", [into, source])
    db.execute(
        "UPDATE cases SET first_seen = min(first_seen, (SELECT first_seen FROM cases WHERE id = :s)), "
        "last_seen = max(last_seen, (SELECT last_seen FROM cases WHERE id = :s)), updated_at = :now WHERE id = :i",
        {"s": source, "i": into, "now": now},
    )
    data = {"from": source, "into": into, "link": {"kind": link.kind, "value": link.value, "domain": link.domain}}
    case_event(db, source, now, "merged", data=data)
    case_event(db, into, now, "merged", data=data)
    refresh_severity(db, into, now)


def merge_linked(store: TxStore, now: str, max_domains: int | None = None) -> int:
    """Merge every set of cases that the recorded links join, including links others wrote (host intel's ``ip``
    and ``certificate`` rows), in one transaction; returns how many merges were made. ``max_domains`` defaults to
    the store's ``cases.max_link_domains``."""
    limit = max_domains if max_domains is not None else store.case_options.max_link_domains
    with store._tx():
        return merge_values(store.db, None, now, limit)


# ---- alerts ------------------------------------------------------------------------------------------------


def _case_alert(db: sqlite_utils.Database, case_id: int, action: str, incident_id: int, now: str,
                options: CaseOptions) -> None:  # fmt: skip
    """One outbox row for case-mode channels (incident-mode channels filter it out), idempotent per case event."""
    if not options.alerts:
        return
    case = _one(db, "SELECT * FROM cases WHERE id = ?", [case_id])
    event = _one(db, "SELECT max(id) AS id FROM incident_events WHERE incident_id = ?", [incident_id])
    last = _one(db, "SELECT max(id) AS id FROM case_events WHERE case_id = ?", [case_id])
    if case is None or event is None or event["id"] is None or last is None:
        return
    count = _one(db, "SELECT count(*) AS n FROM case_incidents WHERE case_id = ?", [case_id]) or {"n": 0}
    payload = {
        "case_id": case_id, "incident_id": incident_id, "transition": f"case_{action}", "kind": "case",
        "severity": case["severity"], "status": case["status"], "domain": case["domain"],
        "title": f"case #{case_id} {action}: {case['domain']} ({count['n']} incident(s), {case['severity']})",
        "detail": case["title"], "first_seen": case["first_seen"], "last_seen": case["last_seen"],
        "occurrences": count["n"],
    }  # fmt: skip
    db.execute(
        "INSERT OR IGNORE INTO alert_outbox (incident_id, event_id, idempotency_key, transition, severity, payload, "
        "next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [incident_id, event["id"], f"case-{case_id}-event-{last['id']}", f"case_{action}", case["severity"],
         json.dumps(payload), now, now],
    )  # fmt: skip


# ---- existing databases ------------------------------------------------------------------------------------


def backfill(db: sqlite_utils.Database, now: str, options: CaseOptions | None = None) -> int:
    """Cases for the incidents that have none yet, oldest first, from their data and stored evidence rows (not
    the files: a migration does not know the data directory). No alerts. Idempotent; returns incidents linked."""
    options = CaseOptions(alerts=False) if options is None else options
    done = 0
    for row in list(db.query(
        "SELECT * FROM incidents WHERE id NOT IN (SELECT incident_id FROM case_incidents) ORDER BY id"
    )):  # fmt: skip
        row["data"] = json.loads(row["data"] or "{}")
        if grouping.offender(row["kind"], row["domain"], row["data"]) is None:
            continue
        evidence = [
            Evidence(row["dedupe_key"], e["url"], e["page_url"], e["signature"], e["severity"],
                     data=json.loads(e["data"] or "{}"))
            for e in db.query("SELECT url, page_url, signature, severity, data FROM evidence WHERE incident_id = ?",
                              [row["id"]])
        ]  # fmt: skip
        touched, links = link_incident(db, row, evidence, now, options, "opened")
        if touched is not None:
            refresh_severity(db, touched.case_id, now)
            if links:
                merge_values(db, {(k.kind, k.value) for k in links}, now, options.max_link_domains)
            done += 1
    return done
