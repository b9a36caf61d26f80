"""The ``scrapewatch alerts`` and ``scrapewatch mute`` commands: test channels, inspect and retry deliveries,
mute a domain or an incident kind for a time.

Exit codes follow ``monitor.cli``: 0 success, 1 a send failed or an action was refused, 2 invalid configuration
or usage, 3 the database cannot be opened, 4 no such channel, delivery or mute.
"""

from __future__ import annotations

import json
import re
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from monitor.cli._common import (
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_NOT_FOUND,
    config_option,
    current_user,
    fail,
    print_rows,
    reported,
    settings_from,
    store_from,
)

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _now() -> datetime:
    return datetime.now(UTC)


def parse_duration(text: str) -> timedelta:
    """``90s``, ``30m``, ``2h``, ``1d``, ``1w`` as a timedelta; raises ValueError otherwise."""
    match = _DURATION.match(text.strip().lower())
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"expected a duration such as 30m, 2h or 1d, not {text!r}")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def parse_time(text: str) -> datetime:
    """An ISO-8601 time; UTC when it has no offset."""
    try:
        at = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"expected an ISO-8601 time such as 2026-12-01T09:00Z, not {text!r}") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


# ---- alerts ------------------------------------------------------------------------------------------


@click.group()
def alerts() -> None:
    """Alert channels and deliveries: send a test message, list deliveries and dead letters, retry one."""


@alerts.command("test")
@click.argument("channel", required=False)
@config_option
@click.pass_context
def alerts_test(ctx: click.Context, channel: str | None, config_path: Path | None) -> None:
    """Send a test message to CHANNEL (default: every configured channel) and report what each answered.

    Nothing is recorded. With no channel configured the message goes to the log. Exits 1 when a channel
    refused the message, 4 when CHANNEL is not configured.
    """
    from monitor.alerts import templates
    from monitor.alerts.channels import build_channels

    settings = settings_from(ctx, config_path)
    channels = build_channels(settings.alerts.channels)
    if channel is not None and channel not in channels:
        fail(f"no channel named {channel!r}; configured: {', '.join(channels)}", EXIT_NOT_FOUND)
    failed = 0
    for name, target in channels.items():
        if channel is not None and name != channel:
            continue
        key = f"test-{uuid.uuid4().hex[:12]}:{name}"
        message = templates.render_test(target.style, name, key)
        if settings.alerts.dry_run:
            click.echo(f"{name} ({target.masked_url}): dry run, not sent")
            continue
        result = target.send(message, settings.alerts.send_timeout_seconds)
        if result.ok:
            click.echo(f"{name} ({target.masked_url}): sent ({key})")
        else:
            failed += 1
            click.echo(f"{name} ({target.masked_url}): FAILED: {result.error}")
    if failed:
        sys.exit(EXIT_FAILED)


_LIST_COLUMNS = [
    "id",
    "channel",
    "status",
    "tries",
    "incident",
    "transition",
    "severity",
    "domain",
    "when (UTC)",
    "note",
]


def _list_row(r: dict[str, Any]) -> list[Any]:
    if r["status"] == "pending":
        when = f"next {r['next_attempt_at'][:19]}"
    else:
        when = (r["sent_at"] or r["last_attempt_at"] or r["created_at"])[:19]
    note = r["last_error"] if r["status"] in ("dead", "pending") and r["last_error"] else (r["detail"] or "")
    incident = f"#{r['incident_id']}" if r["incident_id"] is not None else r["kind"]
    return [r["id"], r["channel"], r["status"], r["attempts"], incident, r["transition"], r["severity"], r["domain"],
            when, (r["title"] or "")[:50], (note or "")[:80]]  # fmt: skip


@alerts.command("list")
@click.option("--failed", is_flag=True, help="Only dead letters and deliveries whose last attempt failed.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100000), help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@config_option
@click.pass_context
def alerts_list(ctx: click.Context, failed: bool, limit: int, as_json: bool, config_path: Path | None) -> None:
    """Alert deliveries (one per alert and channel), newest first: pending, sent, dead, muted or filtered."""
    from tabulate import tabulate

    from monitor.store import alerts as store_alerts

    rows = store_alerts.list_deliveries(store_from(ctx, config_path), failed=failed, limit=limit)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no failed deliveries" if failed else "no alert deliveries yet")
        return
    click.echo(tabulate([_list_row(r) for r in rows], _LIST_COLUMNS))


@alerts.command("retry")
@click.argument("delivery_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the delivery as JSON.")
@config_option
@click.pass_context
def alerts_retry(ctx: click.Context, delivery_id: int, as_json: bool, config_path: Path | None) -> None:
    """Queue delivery DELIVERY_ID (a dead letter, or one waiting for its backoff) for the daemon's next drain,
    with its attempts reset. Exits 1 when it was already sent, muted or filtered, 4 when it does not exist."""
    from monitor.errors import InvalidTransition, NotFound
    from monitor.store import alerts as store_alerts

    with reported(NotFound, InvalidTransition):
        row = store_alerts.retry(store_from(ctx, config_path), delivery_id, _now())
    if as_json:
        click.echo(json.dumps(row, indent=2))
    else:
        click.echo(f"delivery #{delivery_id} to {row['channel']} is queued; the daemon sends it at its next drain")


# ---- mute --------------------------------------------------------------------------------------------


@click.group()
def mute() -> None:
    """Mute alerts of a domain or an incident kind for a time: they are recorded, not sent."""


@mute.command("add")
@click.option("--domain", help="Domain to mute (its subdomains too).")
@click.option("--kind", help="Incident kind to mute (e.g. policy_lint).")
@click.option("--for", "duration", help="How long: 30m, 2h, 1d, 1w.")
@click.option("--until", "until_text", help="Until this ISO-8601 time instead (UTC when no offset).")
@click.option("--reason", default="", help="Why (shown by `mute list`).")
@click.option("--by", "actor", default=None, help="Who (default: the current user).")
@click.option("--json", "as_json", is_flag=True, help="Print the mute as JSON.")
@config_option
@click.pass_context
def mute_add(ctx, domain, kind, duration, until_text, reason, actor, as_json, config_path) -> None:
    """Mute alerts of --domain and/or --kind --for a duration (or --until a time)."""
    from monitor.store import alerts as store_alerts

    if not domain and not kind:
        fail("give --domain, --kind or both", EXIT_CONFIG)
    if (duration is None) == (until_text is None):
        fail("give exactly one of --for and --until", EXIT_CONFIG)
    now = _now()
    try:
        until = now + parse_duration(duration) if duration else parse_time(until_text)
    except ValueError as exc:
        fail(str(exc), EXIT_CONFIG)
        return
    if until <= now:
        fail("the mute would already be over", EXIT_CONFIG)
    row = store_alerts.add_mute(store_from(ctx, config_path), domain, kind, until, reason, actor or current_user(), now)
    if as_json:
        click.echo(json.dumps(row, indent=2))
        return
    what = " and ".join(p for p in (f"domain {domain}" if domain else "", f"kind {kind}" if kind else "") if p)
    click.echo(f"mute #{row['id']}: alerts of {what} are recorded, not sent, until {row['until'][:19]} UTC")


@mute.command("list")
@click.option("--all", "include_ended", is_flag=True, help="Include expired and lifted mutes.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@config_option
@click.pass_context
def mute_list(ctx, include_ended: bool, as_json: bool, config_path: Path | None) -> None:
    """Mutes in force (from `mute add` and from alerts.mutes in the configuration)."""
    from tabulate import tabulate

    from monitor.store import alerts as store_alerts

    now = _now()
    rows: list[dict[str, Any]] = [
        {**r, "source": "cli"} for r in store_alerts.list_mutes(store_from(ctx, config_path), now, include_ended)
    ]
    for m in settings_from(ctx, config_path).alerts.mutes:
        if include_ended or m.until > now:
            rows.append({"id": None, "domain": m.domain, "kind": m.kind, "until": m.until.isoformat(),
                         "reason": m.reason, "actor": "config", "source": "config"})  # fmt: skip
    if print_rows(rows, as_json, "no mutes in force"):
        return
    table = [[r["id"] if r["id"] is not None else "config", r["domain"] or "*", r["kind"] or "*", r["until"][:19],
              r.get("actor", ""), "lifted" if r.get("lifted_at") else "", r["reason"]] for r in rows]  # fmt: skip
    click.echo(tabulate(table, ["id", "domain", "kind", "until (UTC)", "by", "", "reason"]))


@mute.command("lift")
@click.argument("mute_id", type=int)
@click.option("--by", "actor", default=None, help="Who (default: the current user).")
@config_option
@click.pass_context
def mute_lift(ctx, mute_id: int, actor: str | None, config_path: Path | None) -> None:
    """End mute MUTE_ID now (alerts muted meanwhile stay recorded, not sent)."""
    from monitor.errors import InvalidTransition, NotFound
    from monitor.store import alerts as store_alerts

    with reported(NotFound, InvalidTransition):
        store_alerts.lift_mute(store_from(ctx, config_path), mute_id, actor or current_user(), _now())
    click.echo(f"mute #{mute_id} lifted")
