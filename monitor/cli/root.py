"""The ``scrapewatch`` root group: ``run``, ``demo``, ``incidents`` and ``config``, and the registration of every
command module (exit codes and error mapping: ``monitor.cli._common``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import yaml
from click.core import ParameterSource
from tabulate import tabulate

from monitor import __version__
from monitor.cli._common import (
    EXIT_FAILED,
    EXIT_NOT_FOUND,
    EXIT_STARTUP,
    config_option,
    current_user,
    fail,
    print_rows,
    reported,
    settings_from,
    setup_logging,
    store_from,
)
from monitor.cli.agents import agents
from monitor.cli.alerts import alerts, mute
from monitor.cli.audio import audio, catalogue
from monitor.cli.case_files import export, notice, verify
from monitor.cli.cases import case
from monitor.cli.intel import intel
from monitor.cli.policy import policy
from monitor.cli.scan import scan
from monitor.cli.scraping import probe
from monitor.cli.worker import worker
from monitor.errors import InvalidTransition, NotFound, StartupError
from monitor.settings import masked_dump
from monitor.vocabulary import SEVERITIES, STATUSES


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="scrapewatch")
@config_option
@click.pass_context
def main(ctx: click.Context, config_path: Path | None) -> None:
    """scrapewatch: watch SoundCloud's AI-usage signals and who exposes its audio."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path


@main.command()
@config_option
@click.option("--once", is_flag=True, help="Run every job once and exit (0 if none crashed, 1 otherwise).")
@click.pass_context
def run(ctx: click.Context, config_path: Path | None, once: bool) -> None:
    """Start the daemon: scheduler, probes, HTTP server (/metrics, /healthz, /readyz, /api)."""
    from monitor.runtime import reactor
    from monitor.runtime.runner import run_daemon

    settings = settings_from(ctx, config_path)
    setup_logging(settings.scheduler.log_level)
    try:
        ok = reactor.run(run_daemon(settings, once=once))
    except StartupError as exc:
        fail(str(exc), EXIT_STARTUP)
    sys.exit(0 if ok else EXIT_FAILED)


@main.command()
@config_option
@click.option("--once", is_flag=True, help="Run one full demo cycle (before and after the change) and exit.")
@click.option("--change-after", default=30.0, show_default=True, help="Seconds until the simulated robots.txt changes.")
@click.pass_context
def demo(ctx: click.Context, config_path: Path | None, once: bool, change_after: float) -> None:
    """Run the real daemon against a bundled simulated internet on loopback (no real site is contacted).

    The simulated soundcloud.com changes its robots.txt after --change-after seconds, so an incident opens
    within the first minute. Results go to the configured database (storage.data_dir).
    """
    from monitor.demo.run import run_demo
    from monitor.runtime import reactor

    settings = settings_from(ctx, config_path)
    setup_logging(settings.scheduler.log_level)
    try:
        ok = reactor.run(run_demo(settings, once=once, change_after=change_after, echo=click.echo))
    except StartupError as exc:
        fail(str(exc), EXIT_STARTUP)
    sys.exit(0 if ok else EXIT_FAILED)


# ---- incidents ---------------------------------------------------------------------------------------


INCIDENT_PAGE = 500  # rows per query of `incidents list --all`
EVIDENCE_SHOWN = 20  # newest evidence rows in `incidents show` (the web page and API page the rest)
INCIDENT_HEADERS = ["id", "severity", "status", "kind", "domain", "seen", "last seen (UTC)", "title"]


@main.group()
def incidents() -> None:
    """List, inspect and triage incidents."""


@incidents.command("list")
@config_option
@click.option("--status", type=click.Choice(STATUSES), help="Only incidents with this status.")
@click.option("--severity", type=click.Choice(SEVERITIES), help="Only incidents with this severity.")
@click.option("--kind", help="Only incidents of this kind (e.g. policy_file_changed).")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10000), help="At most this many.")
@click.option("--offset", default=0, type=click.IntRange(0), help="Skip this many first (page with --limit).")
@click.option(
    "--all", "every", is_flag=True, help=f"Every matching incident, read {INCIDENT_PAGE} per query (not with --limit)."
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@click.pass_context
def incidents_list(ctx, config_path, status, severity, kind, limit, offset, every, as_json) -> None:
    """List incidents, most recently seen first; says on stderr when more match than were listed."""
    if every and ctx.get_parameter_source("limit") is not ParameterSource.DEFAULT:
        raise click.UsageError("--all lists every incident: leave out --limit")
    store = store_from(ctx, config_path)
    filters = {"status": status, "severity": severity, "kind": kind}
    if every:
        _stream_incidents(store.iter_incidents(**filters, offset=offset, page_size=INCIDENT_PAGE), as_json)
        return
    rows = store.list_incidents(**filters, limit=limit + 1, offset=offset)  # one more: do more match?
    more, rows = len(rows) > limit, rows[:limit]
    if not print_rows(rows, as_json, "no incidents"):
        click.echo(tabulate(_incident_table(rows), INCIDENT_HEADERS))
    if more:
        click.echo(
            f"listed incidents {offset + 1}-{offset + limit}; more match: the next page is --offset {offset + limit}"
            f" (--limit up to 10000), or --all lists every one",
            err=True,
        )


def _incident_table(rows: list[dict]) -> list[list]:
    return [
        [r["id"], r["severity"], r["status"], r["kind"], r["domain"], r["occurrences"], r["last_seen"][:19], r["title"]]
        for r in rows
    ]


def _stream_incidents(rows: Iterator[dict], as_json: bool) -> None:
    """Print incidents as they are read: a JSON list written row by row, or one table per page of rows."""
    if as_json:
        click.echo("[", nl=False)
        for n, row in enumerate(rows):
            click.echo(("," if n else "") + "\n" + json.dumps(row, indent=2), nl=False)
        click.echo("\n]")
        return
    page: list[dict] = []
    first = True
    for row in rows:
        page.append(row)
        if len(page) == INCIDENT_PAGE:
            click.echo(tabulate(_incident_table(page), INCIDENT_HEADERS if first else ()))
            page, first = [], False
    if page or first:
        click.echo(tabulate(_incident_table(page), INCIDENT_HEADERS if first else ()) if page else "no incidents")


@incidents.command("show")
@config_option
@click.argument("incident_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def incidents_show(ctx, config_path, incident_id, as_json) -> None:
    """Show one incident with its detail, data, event history and newest evidence (a row per distinct thing seen,
    with the runs that saw it again counted on it)."""
    with reported(NotFound):
        store = store_from(ctx, config_path)
        inc = store.get_incident(incident_id)
        inc["evidence"], more = store.evidence_page(incident_id, EVIDENCE_SHOWN)
    inc["evidence_more"] = more is not None
    if as_json:
        click.echo(json.dumps(inc, indent=2))
        return
    click.echo(f"#{inc['id']} [{inc['severity']}] {inc['status']}  {inc['title']}")
    for label in ("kind", "domain", "first_seen", "last_seen", "occurrences", "dedupe_key"):
        click.echo(f"  {label + ':':13}{inc[label]}")
    click.echo(f"\n{inc['detail']}\n")
    diff = inc["data"].get("diff")
    if diff:
        click.echo(diff + "\n")
    rows = [[e["at"][:19], e["action"], e["actor"], e["to_status"] or "", e["note"] or ""] for e in inc["events"]]
    click.echo(tabulate(rows, ["at (UTC)", "action", "by", "status", "note"]))
    if inc["evidence"]:
        newest = f"newest {EVIDENCE_SHOWN}" if more else "all"
        click.echo(f"\nEvidence ({newest}; a row per distinct thing seen at a place):")
        rows = [[e["at"][:19], (e["last_seen_at"] or e["at"])[:19], e["sightings"], e["signature"], e["url"]]
                for e in inc["evidence"]]  # fmt: skip
        click.echo(tabulate(rows, ["first seen (UTC)", "last seen (UTC)", "sightings", "signature", "url"]))


def _triage(name: str, action: str, help_text: str):
    @incidents.command(name, help=help_text)
    @config_option
    @click.argument("incident_id", type=int)
    @click.option("--note", required=True, help="Why (recorded in the incident's audit trail).")
    @click.option("--by", "actor", default=None, help="Who (default: the current user).")
    @click.option("--json", "as_json", is_flag=True, help="Print the updated incident as JSON.")
    @click.pass_context
    def command(ctx, config_path, incident_id, note, actor, as_json) -> None:
        store = store_from(ctx, config_path)
        try:
            inc = store.change_incident(incident_id, action, actor or current_user(), note)
        except NotFound as exc:
            fail(str(exc), EXIT_NOT_FOUND)
        except InvalidTransition as exc:
            fail(str(exc), EXIT_FAILED)
        click.echo(json.dumps(inc, indent=2) if as_json else f"incident #{incident_id} is now {inc['status']}")

    return command


_triage("ack", "acknowledged", "Acknowledge an open incident (someone is on it).")
_triage("resolve", "resolved", "Resolve an incident by hand.")
_triage("false-positive", "false_positive", "Mark an incident as a false positive; it stays silent if seen again.")
_triage("reopen", "reopened", "Reopen a resolved or false-positive incident.")


# ---- config ------------------------------------------------------------------------------------------


@main.group("config")
def config_group() -> None:
    """Inspect configuration."""


@config_group.command("check")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of YAML.")
@click.pass_context
def config_check(ctx, file: Path | None, as_json: bool) -> None:
    """Validate FILE (or --config / $SCRAPEWATCH_CONFIG / defaults) and print it resolved, secrets masked.

    On error, prints every invalid key with its reason and exits 2.
    """
    settings = settings_from(ctx, file)
    data: dict[str, Any] = masked_dump(settings)
    click.echo(json.dumps(data, indent=2) if as_json else yaml.safe_dump(data, sort_keys=False).rstrip())


for command in (agents, policy, scan, probe, alerts, mute, audio, catalogue, intel, case, worker):
    main.add_command(command)
# Drafting, exporting and verifying read a case's facts; they live beside the case commands that change a case.
for command in (notice, export, verify):
    case.add_command(command)
