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

from monitor.cli._common import config_option, current_user, print_rows, reported, settings_from, store_from
from monitor.errors import InvalidTransition, NotFound
from monitor.store import case_actions
from monitor.vocabulary import CASE_STATUSES, NOTICE_RECIPIENTS

LIST_HEADERS = ["id", "severity", "status", "domain", "incidents", "active", "owner", "last seen (UTC)"]


@click.group()
def case() -> None:
    """Cases: the incidents of one offender (a site, or sites linked by a shared client_id, analytics id, relay
    host, address or certificate), and what the team did about them."""


@case.command("list")
@config_option
@click.option("--status", type=click.Choice(CASE_STATUSES), help="Only cases in this status.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def case_list(ctx: click.Context, config_path: Path | None, status: str | None, as_json: bool) -> None:
    """Live cases, most severe and most recently seen first, with their incident counts (all / active)."""
    rows = case_actions.case_rows(store_from(ctx, config_path), status)
    if print_rows(rows, as_json, "no cases"):
        return
    table = [[r["id"], r["severity"], r["status"], r["domain"], r["incidents"], r["active"], r["owner"] or "",
              r["last_seen"][:19].replace("T", " ")] for r in rows]  # fmt: skip
    click.echo(tabulate(table, LIST_HEADERS))


@case.command("show")
@config_option
@click.argument("case_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def case_show(ctx: click.Context, config_path: Path | None, case_id: int, as_json: bool) -> None:
    """One case: its domains and why each joined, operator links, incidents, notices and timeline."""
    with reported(NotFound):
        view = case_actions.case_view(store_from(ctx, config_path), case_id)
    if as_json:
        click.echo(json.dumps(view, indent=2))
        return
    echo_case(view)


def echo_case(view: dict[str, Any]) -> None:
    """The case as text."""
    click.echo(f"case #{view['id']} [{view['severity']}] {view['status']}  {view['domain']}")
    if view["live_case"]:
        click.echo(f"  merged into case #{view['live_case']}")
    for label in ("owner", "first_seen", "last_seen", "notice_sent_at", "next_check_at", "taken_down_at"):
        click.echo(f"  {label + ':':16}{view[label] or '—'}")
    click.echo("\ndomains:")
    click.echo(tabulate([[d["domain"], d["reason"], d["linked_at"][:19]] for d in view["domains"]],
                        ["domain", "why", "since"]))  # fmt: skip
    if view["links"]:
        click.echo("\noperator links:")
        click.echo(tabulate([[k["kind"], k["value"], k["domain"]] for k in view["links"]], ["kind", "value", "on"]))
    click.echo("\nincidents:")
    click.echo(tabulate([[i["id"], i["severity"], i["status"], i["kind"], i["title"]] for i in view["incidents"]],
                        ["id", "severity", "status", "kind", "title"]))  # fmt: skip
    if view["notices"]:
        click.echo("\nnotices:")
        notices = [[n["sent_at"][:19], n["recipient"], n["address"] or "", n["message_id"] or "", n["actor"]]
                   for n in view["notices"]]  # fmt: skip
        click.echo(tabulate(notices, ["sent", "to", "address", "message id", "by"]))
    click.echo("\ntimeline:")
    rows = [[e["at"][:19], e["action"], e["actor"], e["note"] or _describe(e["data"])] for e in view["timeline"]]
    click.echo(tabulate(rows, ["at (UTC)", "action", "by", "note"]))


def _describe(data: dict[str, Any]) -> str:
    if "link" in data:
        return f"#{data['from']} into #{data['into']} ({data['link']['kind']} {data['link']['value']})"
    return ", ".join(f"{k}={v}" for k, v in data.items() if k != "urls")[:100]


def _done(view: dict[str, Any], as_json: bool, what: str) -> None:
    click.echo(json.dumps(view, indent=2) if as_json else f"case #{view['id']} {what}")


@case.command("status")
@config_option
@click.argument("case_id", type=int)
@click.argument("new_status", type=click.Choice(CASE_STATUSES))
@click.option("--note", default=None, help="Why (on the case's timeline).")
@click.option("--by", "actor", default=None, help="Who (default: the current user).")
@click.option("--json", "as_json", is_flag=True, help="Print the case as JSON.")
@click.pass_context
def case_status(ctx, config_path, case_id, new_status, note, actor, as_json) -> None:
    """Move a case to NEW_STATUS: investigating, taken_down, no_action (or back to new / investigating).
    notice_sent is recorded with `case notice-sent`; reappeared only by the material showing again."""
    with reported(NotFound, InvalidTransition):
        view = case_actions.change_status(store_from(ctx, config_path), case_id, new_status, actor or current_user(),
                                          note)  # fmt: skip
    _done(view, as_json, f"is {view['status']}")


@case.command("assign")
@config_option
@click.argument("case_id", type=int)
@click.argument("owner")
@click.option("--by", "actor", default=None, help="Who (default: the current user).")
@click.option("--json", "as_json", is_flag=True, help="Print the case as JSON.")
@click.pass_context
def case_assign(ctx, config_path, case_id, owner, actor, as_json) -> None:
    """Give the case to OWNER ('' to unassign)."""
    with reported(NotFound, InvalidTransition):
        view = case_actions.assign(store_from(ctx, config_path), case_id, owner, actor or current_user())
    _done(view, as_json, f"is owned by {view['owner'] or 'nobody'}")


@case.command("note")
@config_option
@click.argument("case_id", type=int)
@click.argument("text")
@click.option("--by", "actor", default=None, help="Who (default: the current user).")
@click.option("--json", "as_json", is_flag=True, help="Print the case as JSON.")
@click.pass_context
def case_note(ctx, config_path, case_id, text, actor, as_json) -> None:
    """Add TEXT to the case's timeline."""
    with reported(NotFound, InvalidTransition):
        view = case_actions.add_note(store_from(ctx, config_path), case_id, text, actor or current_user())
    _done(view, as_json, "noted")


@case.command("notice-sent")
@config_option
@click.argument("case_id", type=int)
@click.option("--to", "recipient", type=click.Choice(NOTICE_RECIPIENTS), required=True, help="Who got it.")
@click.option("--message-id", required=True, help="The sent message's id (Message-ID, ticket or form reference).")
@click.option("--address", default=None, help="Where it went (an abuse mailbox or web form).")
@click.option("--by", "actor", default=None, help="Who sent it (default: the current user).")
@click.option("--json", "as_json", is_flag=True, help="Print the case as JSON.")
@click.pass_context
def case_notice_sent(ctx, config_path, case_id, recipient, message_id, address, actor, as_json) -> None:
    """Record that a takedown notice for the case was sent (scrapewatch never sends one itself): the case moves
    to notice_sent and the daemon re-checks its URLs after cases.recheck_after_seconds."""
    settings = settings_from(ctx, config_path)
    with reported(NotFound, InvalidTransition):
        view = case_actions.notice_sent(store_from(ctx, config_path), case_id, recipient, address, message_id,
                                        actor or current_user(), settings.cases.recheck_after_seconds)  # fmt: skip
    _done(view, as_json, f"notice to {recipient} recorded; re-check at {view['next_check_at']}")
