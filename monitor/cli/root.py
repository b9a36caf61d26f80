"""The ``scrapewatch`` command: parse, call the library, turn errors into messages and exit codes.

Exit codes: 0 success, 1 a job crashed or an operation failed, 2 invalid configuration or usage,
3 the daemon could not start (database, port), 4 no such record.
"""

from __future__ import annotations

import getpass
import json
import logging
import sys
from pathlib import Path
from typing import Any

import click
import yaml
from tabulate import tabulate

from monitor import __version__
from monitor.db import SEVERITIES, STATUSES
from monitor.errors import ConfigError, InvalidTransition, NotFound, StartupError, StorageError
from monitor.settings import Settings, load_settings, masked_dump

EXIT_FAILED, EXIT_CONFIG, EXIT_STARTUP, EXIT_NOT_FOUND = 1, 2, 3, 4
config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML configuration file (default: $SCRAPEWATCH_CONFIG, else built-in defaults).",
)


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _settings(ctx: click.Context, config_path: Path | None) -> Settings:
    path = config_path or ctx.find_root().obj.get("config_path")
    try:
        return load_settings(path)
    except ConfigError as exc:
        _fail(str(exc), EXIT_CONFIG)
        raise  # unreachable; keeps type checkers honest


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    if level != "DEBUG":  # Scrapy's per-request chatter drowns the daemon's own lines
        for name in ("scrapy", "twisted", "apscheduler", "py.warnings"):
            logging.getLogger(name).setLevel(logging.WARNING)


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

    settings = _settings(ctx, config_path)
    setup_logging(settings.scheduler.log_level)
    try:
        ok = reactor.run(run_daemon(settings, once=once))
    except StartupError as exc:
        _fail(str(exc), EXIT_STARTUP)
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

    settings = _settings(ctx, config_path)
    setup_logging(settings.scheduler.log_level)
    try:
        ok = reactor.run(run_demo(settings, once=once, change_after=change_after, echo=click.echo))
    except StartupError as exc:
        _fail(str(exc), EXIT_STARTUP)
    sys.exit(0 if ok else EXIT_FAILED)


# ---- incidents ---------------------------------------------------------------------------------------


def _store(ctx: click.Context, config_path: Path | None):
    from monitor.db import open_db
    from monitor.store.core import Store

    settings = _settings(ctx, config_path)
    try:
        return Store(open_db(settings.storage.database_path, settings.storage.busy_timeout_ms))
    except StorageError as exc:
        _fail(str(exc), EXIT_STARTUP)


@main.group()
def incidents() -> None:
    """List, inspect and triage incidents."""


@incidents.command("list")
@config_option
@click.option("--status", type=click.Choice(STATUSES), help="Only incidents with this status.")
@click.option("--severity", type=click.Choice(SEVERITIES), help="Only incidents with this severity.")
@click.option("--kind", help="Only incidents of this kind (e.g. policy_file_changed).")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10000), help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@click.pass_context
def incidents_list(ctx, config_path, status, severity, kind, limit, as_json) -> None:
    """List incidents, most recently seen first."""
    rows = _store(ctx, config_path).list_incidents(status=status, severity=severity, kind=kind, limit=limit)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no incidents")
        return
    table = [
        [r["id"], r["severity"], r["status"], r["kind"], r["domain"], r["occurrences"], r["last_seen"][:19], r["title"]]
        for r in rows
    ]
    click.echo(tabulate(table, ["id", "severity", "status", "kind", "domain", "seen", "last seen (UTC)", "title"]))


@incidents.command("show")
@config_option
@click.argument("incident_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def incidents_show(ctx, config_path, incident_id, as_json) -> None:
    """Show one incident with its detail, data and event history."""
    try:
        inc = _store(ctx, config_path).get_incident(incident_id)
    except NotFound as exc:
        _fail(str(exc), EXIT_NOT_FOUND)
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


def _triage(name: str, action: str, help_text: str):
    @incidents.command(name, help=help_text)
    @config_option
    @click.argument("incident_id", type=int)
    @click.option("--note", required=True, help="Why (recorded in the incident's audit trail).")
    @click.option("--by", "actor", default=None, help="Who (default: the current user).")
    @click.option("--json", "as_json", is_flag=True, help="Print the updated incident as JSON.")
    @click.pass_context
    def command(ctx, config_path, incident_id, note, actor, as_json) -> None:
        store = _store(ctx, config_path)
        try:
            inc = store.change_incident(incident_id, action, actor or _user(), note)
        except NotFound as exc:
            _fail(str(exc), EXIT_NOT_FOUND)
        except InvalidTransition as exc:
            _fail(str(exc), EXIT_FAILED)
        click.echo(json.dumps(inc, indent=2) if as_json else f"incident #{incident_id} is now {inc['status']}")

    return command


_triage("ack", "acknowledged", "Acknowledge an open incident (someone is on it).")
_triage("resolve", "resolved", "Resolve an incident by hand.")
_triage("false-positive", "false_positive", "Mark an incident as a false positive; it stays silent if seen again.")
_triage("reopen", "reopened", "Reopen a resolved or false-positive incident.")


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return "unknown"


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
    settings = _settings(ctx, file)
    data: dict[str, Any] = masked_dump(settings)
    click.echo(json.dumps(data, indent=2) if as_json else yaml.safe_dump(data, sort_keys=False).rstrip())


def _register_groups() -> None:
    from monitor.cli.agents import agents
    from monitor.cli.alerts import alerts, mute
    from monitor.cli.policy import policy
    from monitor.cli.scan import scan
    from monitor.cli.scraping import probe

    main.add_command(agents)
    main.add_command(policy)
    main.add_command(scan)
    main.add_command(probe)
    main.add_command(alerts)
    main.add_command(mute)


_register_groups()
