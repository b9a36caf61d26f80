"""The ``scrapewatch case`` commands: list and show cases, move their status, assign, note, record a notice sent.

Exit codes follow ``monitor.cli``: 0 success, 1 a change was refused, 2 invalid usage, 3 the database cannot be
opened, 4 no such case.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from tabulate import tabulate

from monitor.cases.reads import STATUS_FILTERS, bounded_facts, page_of_cases
from monitor.cli._common import (
    EXIT_CONFIG,
    catalogue_from,
    config_option,
    current_user,
    fail,
    print_rows,
    reported,
    settings_from,
    store_from,
)
from monitor.errors import BadRequest, InvalidTransition, NotFound
from monitor.store import case_actions
from monitor.vocabulary import CASE_STATUSES, NOTICE_RECIPIENTS, SEVERITIES

LIST_HEADERS = ["id", "severity", "status", "domains", "title", "owner", "incidents", "last seen (UTC)"]
PAGE_MAX = 500  # as the API's MAX_PAGE (a test checks they agree)


@click.group()
def case() -> None:
    """Cases: the incidents of one offender (a site, or sites linked by a shared client_id, analytics id, relay
    host, address or certificate), and what the team did about them."""


@case.command("list")
@config_option
@click.option("--status", type=click.Choice(STATUS_FILTERS), help="Only this status (active: not closed).")
@click.option("--severity", type=click.Choice(SEVERITIES), help="Only cases of this severity.")
@click.option("--domain", help="Only cases with this domain (any of a case's domains).")
@click.option("--owner", help="Only cases assigned to this owner.")
@click.option("--title", "q", help="Only cases whose title contains this text.")
@click.option("--merged", is_flag=True, help="Also cases merged into another (hidden by default).")
@click.option("--limit", type=click.IntRange(1, PAGE_MAX), default=50, show_default=True, help="Cases per page.")
@click.option("--after", help="Continue after this cursor (the previous page's next).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, as GET /api/cases answers.")
@click.pass_context
def case_list(ctx, config_path, status, severity, domain, owner, q, merged, limit, after, as_json) -> None:
    """Cases, most recently seen first (as the Cases page and /api/cases), one page of --limit; when more match,
    the cursor of the next page is printed on stderr (pass it as --after)."""
    filters = {"status": status, "severity": severity, "domain": domain, "owner": owner, "q": q, "after": after,
               "merged": merged}  # fmt: skip
    try:
        rows, cursor = page_of_cases(store_from(ctx, config_path), filters, limit)
    except BadRequest as exc:  # a cursor this command did not print: invalid usage
        fail(f"--{exc}", EXIT_CONFIG)
    if as_json:
        click.echo(json.dumps({"cases": rows, "next": cursor, "limit": limit}, indent=2))
        return
    if print_rows(rows, False, "no cases"):
        return
    table = [[r["id"], r["severity"], r["status"], ", ".join(r["domains"]), _cut(r["title"], 60), r["owner"] or "",
              r["incidents"], r["last_seen"][:19].replace("T", " ")] for r in rows]  # fmt: skip
    click.echo(tabulate(table, LIST_HEADERS))
    if cursor:
        click.echo(f"more cases: --after {cursor}", err=True)


@case.command("show")
@config_option
@click.argument("case_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON, as GET /api/cases/{id} answers.")
@click.pass_context
def case_show(ctx: click.Context, config_path: Path | None, case_id: int, as_json: bool) -> None:
    """One case: its domains and why each joined, operator links, affected tracks, incidents, notices and timeline
    (case events and the events of its incidents); incidents, evidence and timeline stop at 100 entries."""
    catalogue = catalogue_from(settings_from(ctx, config_path))
    with reported(NotFound):
        facts = bounded_facts(store_from(ctx, config_path), case_id, catalogue)
    if as_json:
        click.echo(json.dumps(facts, indent=2))
        return
    echo_case(facts)


def echo_case(facts: dict[str, Any]) -> None:
    """The case as text."""
    click.echo(f"case #{facts['id']} [{facts['severity']}] {facts['status']}  {facts['domain']}")
    if facts["merged_into"]:
        click.echo(f"  merged into case #{facts['merged_into']}")
    for label in ("title", "owner", "opened_at", "first_seen", "last_seen", "notice_sent_at", "next_check_at",
                  "taken_down_at"):  # fmt: skip
        click.echo(f"  {label + ':':16}{facts[label] or '—'}")
    click.echo("\ndomains:")
    click.echo(tabulate([[d["domain"], d["reason"], d["linked_at"][:19]] for d in facts["domains"]],
                        ["domain", "why", "since"]))  # fmt: skip
    if facts["links"]:
        click.echo("\noperator links:")
        click.echo(tabulate([[k["kind"], k["value"], k["domain"]] for k in facts["links"]], ["kind", "value", "on"]))
    if facts["tracks"]:
        click.echo("\naffected tracks:")
        tracks = [[t["track_id"], t["title"], t["artist"], " ".join(k for k in ("no_ai", "canary") if t[k])]
                  for t in facts["tracks"]]  # fmt: skip
        click.echo(tabulate(tracks, ["track id", "title", "artist", "flags"]))
    click.echo("\nincidents:")
    click.echo(tabulate([[i["id"], i["severity"], i["status"], i["kind"], i["title"]] for i in facts["incidents"]],
                        ["id", "severity", "status", "kind", "title"]))  # fmt: skip
    if facts["notices"]:
        click.echo("\nnotices:")
        notices = [[n["sent_at"][:19], n["recipient"], n["address"] or "", n["message_id"] or "", n["actor"]]
                   for n in facts["notices"]]  # fmt: skip
        click.echo(tabulate(notices, ["sent", "to", "address", "message id", "by"]))
    click.echo("\ntimeline:")
    rows = [[e["at"][:19], f"#{e['incident_id']}" if e["source"] == "incident" else "case", e["action"], e["actor"],
             e["note"] or _describe(e["data"])] for e in facts["timeline"]]  # fmt: skip
    click.echo(tabulate(rows, ["at (UTC)", "of", "action", "by", "note"]))
    for section, cursor in facts["more"].items():
        if cursor:
            click.echo(f"(first {len(facts[section])} {section}; the rest at /api/cases/{facts['id']}/{section}"
                       f"?after={cursor})")  # fmt: skip


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _describe(data: Any) -> str:
    if not isinstance(data, dict):
        return ""
    if "link" in data:
        return f"#{data['from']} into #{data['into']} ({data['link']['kind']} {data['link']['value']})"
    return ", ".join(f"{k}={v}" for k, v in data.items() if k != "urls")[:100]


def _done(ctx: click.Context, config_path: Path | None, store, case_id: int, as_json: bool, what) -> None:
    """After an action: the case as ``case show --json`` prints it, or one line ``what(case row)`` says."""
    if as_json:
        catalogue = catalogue_from(settings_from(ctx, config_path))
        click.echo(json.dumps(bounded_facts(store, case_id, catalogue), indent=2))
    else:
        click.echo(f"case #{case_id} {what(store.case_row(case_id))}")


@case.command("status")
@config_option
@click.argument("case_id", type=int)
@click.argument("new_status", type=click.Choice(CASE_STATUSES))
@click.option("--note", default=None, help="Why (on the case's timeline).")
@click.option("--by", "actor", default=None, help="Who (default: the current user).")
@click.option("--json", "as_json", is_flag=True, help="Then print the case as case show --json.")
@click.pass_context
def case_status(ctx, config_path, case_id, new_status, note, actor, as_json) -> None:
    """Move a case to NEW_STATUS: investigating, taken_down, no_action (or back to new / investigating).
    notice_sent is recorded with `case notice-sent`; reappeared only by the material showing again."""
    store = store_from(ctx, config_path)
    with reported(NotFound, InvalidTransition):
        case_actions.change_status(store, case_id, new_status, actor or current_user(), note)
    _done(ctx, config_path, store, case_id, as_json, lambda row: f"is {row['status']}")


@case.command("assign")
@config_option
@click.argument("case_id", type=int)
@click.argument("owner")
@click.option("--by", "actor", default=None, help="Who (default: the current user).")
@click.option("--json", "as_json", is_flag=True, help="Then print the case as case show --json.")
@click.pass_context
def case_assign(ctx, config_path, case_id, owner, actor, as_json) -> None:
    """Give the case to OWNER ('' to unassign)."""
    store = store_from(ctx, config_path)
    with reported(NotFound, InvalidTransition):
        case_actions.assign(store, case_id, owner, actor or current_user())
    _done(ctx, config_path, store, case_id, as_json, lambda row: f"is owned by {row['owner'] or 'nobody'}")


@case.command("note")
@config_option
@click.argument("case_id", type=int)
@click.argument("text")
@click.option("--by", "actor", default=None, help="Who (default: the current user).")
@click.option("--json", "as_json", is_flag=True, help="Then print the case as case show --json.")
@click.pass_context
def case_note(ctx, config_path, case_id, text, actor, as_json) -> None:
    """Add TEXT to the case's timeline."""
    store = store_from(ctx, config_path)
    with reported(NotFound, InvalidTransition):
        case_actions.add_note(store, case_id, text, actor or current_user())
    _done(ctx, config_path, store, case_id, as_json, lambda row: "noted")


@case.command("notice-sent")
@config_option
@click.argument("case_id", type=int)
@click.option("--to", "recipient", type=click.Choice(NOTICE_RECIPIENTS), required=True, help="Who got it.")
@click.option("--message-id", required=True, help="The sent message's id (Message-ID, ticket or form reference).")
@click.option("--address", default=None, help="Where it went (an abuse mailbox or web form).")
@click.option("--by", "actor", default=None, help="Who sent it (default: the current user).")
@click.option("--json", "as_json", is_flag=True, help="Then print the case as case show --json.")
@click.pass_context
def case_notice_sent(ctx, config_path, case_id, recipient, message_id, address, actor, as_json) -> None:
    """Record that a takedown notice for the case was sent (scrapewatch never sends one itself): the case moves
    to notice_sent and the daemon re-checks its URLs after cases.recheck_after_seconds."""
    settings = settings_from(ctx, config_path)
    store = store_from(ctx, config_path)
    with reported(NotFound, InvalidTransition):
        case_actions.notice_sent(store, case_id, recipient, address, message_id,
                                 actor or current_user(), settings.cases.recheck_after_seconds)  # fmt: skip
    _done(ctx, config_path, store, case_id, as_json,
          lambda row: f"notice to {recipient} recorded; re-check at {row['next_check_at']}")  # fmt: skip
