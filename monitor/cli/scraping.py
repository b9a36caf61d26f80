"""The ``scrapewatch probe`` commands: run one scraping probe once (a downloader canary, the archive indexes, the
dataset hub) and print what it found; ``--record`` writes the run, its incidents and evidence like the daemon.

Exit codes follow ``monitor.cli``: 0 success, 1 the probe ran into problems (a broken recipe, API errors) or its
crawl failed, 2 invalid configuration or usage (unknown service, nothing enabled).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from monitor.cli._common import (
    EXIT_CONFIG,
    EXIT_FAILED,
    config_option,
    fail,
    settings_from,
    setup_logging,
)

_json = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
_record = click.option("--record", is_flag=True, help="Record the run, its incidents and evidence in the database.")


@click.group("probe", context_settings={"help_option_names": ["-h", "--help"]})
def probe() -> None:
    """Run one scraping probe once and print what it found (nothing is recorded without --record)."""


@probe.command("canary")
@click.argument("service")
@_json
@_record
@config_option
@click.pass_context
def canary(ctx: click.Context, service: str, as_json: bool, record: bool, config_path: Path | None) -> None:
    """Submit the canary tracks to SERVICE (a scraping.downloaders name) and print what came back."""
    _run(
        ctx,
        config_path,
        "canary",
        as_json,
        record,
        f"no downloader named {service!r} in scraping.downloaders",
        name=service,
    )


@probe.command("archives")
@_json
@_record
@config_option
@click.pass_context
def archives(ctx: click.Context, as_json: bool, record: bool, config_path: Path | None) -> None:
    """Query the enabled archive indexes (scraping.wayback, scraping.common_crawl) and print their findings."""
    _run(
        ctx,
        config_path,
        "archives",
        as_json,
        record,
        "no archive index is enabled (scraping.wayback.enabled, scraping.common_crawl.enabled)",
    )


@probe.command("datasets")
@_json
@_record
@config_option
@click.pass_context
def datasets(ctx: click.Context, as_json: bool, record: bool, config_path: Path | None) -> None:
    """Search the dataset hub (scraping.dataset_hub) and print the datasets that list SoundCloud tracks."""
    _run(
        ctx,
        config_path,
        "datasets",
        as_json,
        record,
        "the dataset hub is not enabled (scraping.dataset_hub.enabled)",
    )


def _run(
    ctx: click.Context,
    config_path: Path | None,
    kind: str,
    as_json: bool,
    record: bool,
    none: str,
    name: str | None = None,
) -> None:
    from monitor.errors import ConfigError, CrawlError, StartupError, StorageError
    from monitor.probes.registry import build_probes
    from monitor.runtime import components, reactor

    settings = settings_from(ctx, config_path)
    setup_logging("WARNING" if as_json else settings.scheduler.log_level)
    try:
        ctx_ = components.build(settings, record=record)
    except StartupError as exc:
        fail(str(exc), EXIT_FAILED)
    (probe,) = build_probes(ctx_, [kind])
    try:
        jobs = [job for job in probe.jobs() if name is None or job.id == f"{kind}:{name}"]
    except ConfigError as exc:
        fail(str(exc), EXIT_CONFIG)
    if not jobs:
        fail(none, EXIT_CONFIG)
    reports = []
    try:
        for job in jobs:
            reports.append(reactor.run(probe.execute(job.id, job.spec, record_run=record)))
    except (CrawlError, StorageError) as exc:
        fail(str(exc), EXIT_FAILED)
    finally:
        if ctx_.store is not None:
            ctx_.store.db.close()
    if as_json:
        click.echo(json.dumps([r.as_json() for r in reports], indent=2, default=str))
    else:
        for report in reports:
            _print(report)
    sys.exit(EXIT_FAILED if any(r.errors for r in reports) else 0)


def _print(report: Any) -> None:
    click.echo(f"{report.job}: {report.fetched} fetch(es)" + (", page cap reached" if report.page_cap_reached else ""))
    for canary, outcome, reason in report.outcomes:
        click.echo(f"  canary {canary}: {outcome} ({reason})")
    for kind, detail in report.errors:
        click.echo(f"  problem [{kind}] {detail}")
    if not report.findings:
        click.echo("  no new findings" if report.applied is not None else "  no findings")
    for f in report.findings:
        count = f" count={f.data['count']}" if "count" in f.data else ""
        click.echo(f"  [{f.severity}] {f.kind}{count}  {f.title}\n      {f.dedupe_key}")
    if report.applied is not None:
        actions = ", ".join(f"{t.action} {t.dedupe_key}" for t in report.applied.transitions) or "none"
        click.echo(f"  recorded run {report.applied.run_id}; transitions: {actions}")
