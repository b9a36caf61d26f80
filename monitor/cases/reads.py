"""Cases as every reader shows them (the JSON API, the Cases pages, the ``case`` commands, the demo): one page of
the case list, most recently seen first, with the cursor of the next; one case's facts with long sections bounded."""

from __future__ import annotations

from typing import Any

from monitor.errors import BadRequest, NotFound
from monitor.signatures.catalogue import Catalogue
from monitor.store.case_reads import list_cursor, public_timeline, section_cursor
from monitor.store.core import Store
from monitor.vocabulary import CASE_STATUSES
from monitor.web.case_views import case_path
from monitor.web.triage import evidence_link

# What one case answer holds at most per section: a case of many thousand incidents still answers in a bounded
# body; ``more`` says where a section continues (/api/cases/{id}/{section}?after=...).
SECTION_LIMIT = 100
LIST_LIMIT = 1000  # domains, urls, links: capped (``truncated`` names the capped ones)
PAGED = ("incidents", "evidence", "timeline")
STATUS_FILTERS = ("active", *CASE_STATUSES)  # "active": not taken down / no action (store.list_cases)
SUMMARY = ("id", "domain", "title", "status", "severity", "owner", "opened_at", "first_seen", "last_seen",
           "notice_sent_at", "taken_down_at", "next_check_at")  # fmt: skip


def page_of_cases(store: Store, filters: dict[str, Any], limit: int) -> tuple[list[dict[str, Any]], str | None]:
    """One page of ``store.list_cases(**filters)`` (each row with its ``case_url``) and the cursor of the next page
    (None on the last page); BadRequest for a cursor ``list_cases`` did not make."""
    try:
        rows = store.list_cases(**filters, limit=limit + 1)
    except ValueError as exc:
        raise BadRequest(f"after: {exc}") from None
    more = len(rows) > limit
    rows = rows[:limit]
    for row in rows:
        row["case_url"] = case_path(row["id"])
    return rows, list_cursor(rows[-1]) if more and rows else None


def section_page(
    store: Store, case_id: int, section: str, after: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of a case section and the cursor that continues it (None when it is complete)."""
    reader = {"incidents": store.case_incidents, "evidence": store.case_evidence, "timeline": store.case_timeline}
    try:
        rows = reader[section](case_id, after=after, limit=limit + 1)
    except ValueError as exc:
        raise BadRequest(f"after: {exc}") from None
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = section_cursor(section, rows[-1]) if more and rows else None
    return (public_timeline(rows) if section == "timeline" else rows), cursor


def bounded_facts(
    store: Store,
    case_id: int,
    catalogue: Catalogue | None,
    limit: int = SECTION_LIMIT,
    after: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The case facts (``store.case_facts``' sections) with each long section bounded (paged ones starting after
    ``after[section]``), plus ``more`` (section -> cursor or None), ``truncated``, ``merged_into`` and the page's
    path: the answer of /api/cases/{id} and of ``scrapewatch case show --json``; raises NotFound."""
    row = store.case_row(case_id)
    if row is None:
        raise NotFound(f"no case with id {case_id}")
    facts: dict[str, Any] = {k: row[k] for k in SUMMARY}
    more: dict[str, str | None] = {}
    truncated = []
    capped = {"domains": store.case_domains, "urls": store.case_urls, "links": store.case_links}
    for name, reader in capped.items():
        facts[name] = reader(case_id, limit=LIST_LIMIT + 1)
        if len(facts[name]) > LIST_LIMIT:
            facts[name] = facts[name][:LIST_LIMIT]
            truncated.append(name)
    for section in PAGED:
        facts[section], more[section] = section_page(store, case_id, section, (after or {}).get(section), limit)
    facts["tracks"] = store.case_tracks(case_id, catalogue)
    facts["host_intel"] = store.case_host_intel(case_id)
    facts["notices"] = store.case_notices(case_id)
    for ev in facts["evidence"]:
        ev["links"] = {k: link for k in ("body", "screenshot", "requests")
                       if (link := evidence_link(ev.get(f"{k}_sha256")))}  # fmt: skip
    facts.update(more=more, truncated=truncated, merged_into=row["merged_into"], case_url=case_path(case_id))
    return facts
