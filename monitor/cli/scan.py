"""`scrapewatch scan URL`: the analyst's one-page exposure check, through the same spider and engine as the daemon."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import urlsplit

import click

from monitor.cli._common import (
    EXIT_CONFIG,
    EXIT_STARTUP,
    config_option,
    fail,
    settings_from,
    setup_logging,
)
from monitor.signatures.model import severity_rank

_COLUMNS = ["severity", "signature", "where", "track", "detail"]


def _short(url: str, width: int = 60) -> str:
    return url if len(url) <= width else url[: width - 1] + "…"


@click.command("scan")
@click.argument("url")
@click.option("--render", is_flag=True, help="Load the page in Chromium and scan every request it makes, by frame.")
@click.option("--ignore-robots", is_flag=True, help="Fetch even what the site's robots.txt disallows.")
@click.option("--record", is_flag=True, help="Record the findings as incidents with evidence (scope scan:<host>).")
@click.option("--all", "show_all", is_flag=True, help="Also print info matches (legitimate embeds, classifiers).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of findings.")
@config_option
@click.pass_context
def scan(ctx: click.Context, url: str, render: bool, ignore_robots: bool, record: bool, show_all: bool,
         as_json: bool, config_path: Path | None) -> None:  # fmt: skip
    """Scan one page URL (and the scripts, playlists and audio files it links) for exposed SoundCloud audio.

    Prints the signature matches (reference ids of soundcloud-signatures.md) without recording them unless
    --record is given. Legitimate embeds (the official widget, oEmbed, podcast feeds) are info and hidden
    unless --all. Exit status 0 whatever is found; 2 for a bad URL or configuration.
    """
    from pydantic import ValidationError
    from tabulate import tabulate

    from monitor.errors import StartupError
    from monitor.evaluators.watch import as_json as matches_json
    from monitor.probes.base import record as record_run
    from monitor.probes.watch import ExposureProbe
    from monitor.runtime import components, reactor
    from monitor.settings import WatchTarget
    from monitor.store import utcnow

    settings = settings_from(ctx, config_path)
    setup_logging("WARNING")
    host = (urlsplit(url).hostname or "").lower()
    try:
        target = WatchTarget(
            name=f"scan:{host}",
            start_urls=[url],
            max_depth=0,
            max_pages=1,
            follow_sitemap=False,
            obey_robots=not ignore_robots,
            render=render,
        )
    except ValidationError as exc:
        fail(f"cannot scan {url!r}: {exc.errors()[0]['msg']}", EXIT_CONFIG)
    try:
        components_ = components.build(settings, record=record)
    except StartupError as exc:
        fail(str(exc), EXIT_CONFIG if "catalogue" in str(exc) else EXIT_STARTUP)
    probe = ExposureProbe.build(components_)
    store = components_.store
    started, t0 = utcnow(), time.monotonic()
    result = reactor.run(probe.scan(target))
    matches = [m for m in result.matches if show_all or severity_rank(m.severity) >= severity_rank("low")]
    if store is not None:
        outcome = probe.outcome(target, result, clear=False)
        applied = record_run(probe, probe.job(f"scan:{host}", target), outcome, started, t0)
        store.db.close()
        click.echo(
            f"recorded: {len([t for t in applied.transitions if t.action != 'clean'])} incident change(s)", err=True
        )
    if not result.healthy:  # on stderr in both modes: an empty JSON list must not read as "clean"
        click.echo(f"{url}: the page did not answer; nothing was scanned", err=True)
    if as_json:
        click.echo(json.dumps(matches_json(matches), indent=2))
        return
    if not matches:
        click.echo(f"{url}: no exposure found ({len(result.matches)} info match(es); --all shows them)")
        return
    rows = [
        [m.severity, m.signature, _short(m.url), (m.data.get("catalogue_track") or {}).get("id", "-"), m.detail]
        for m in matches
    ]
    click.echo(tabulate(rows, _COLUMNS))
