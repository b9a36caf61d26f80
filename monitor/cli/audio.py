"""`scrapewatch catalogue index` and `scrapewatch audio match`: fingerprint the catalogue's reference audio, and
identify audio files against it."""

from __future__ import annotations

import json
from pathlib import Path

import click

from monitor.cli._common import EXIT_CONFIG, config_option, fail, settings_from, store_from


@click.group("catalogue")
def catalogue() -> None:
    """The protected catalogue (catalogue.path)."""


@catalogue.command("index")
@config_option
@click.option("--quiet", is_flag=True, help="No progress lines, only the summary.")
@click.pass_context
def catalogue_index(ctx: click.Context, config_path: Path | None, quiet: bool) -> None:
    """Fingerprint the reference audio (`audio` column) of every catalogue track into the database.

    Only new or changed files (by SHA-256) are fingerprinted again; tracks that left the catalogue are dropped.
    Prints a progress line per file on stderr and a summary; exit 0 even when some files failed (listed).
    """
    from monitor.audio.catalogue_index import index_catalogue
    from monitor.audio.decode import Limits
    from monitor.errors import ConfigError
    from monitor.signatures import load_catalogue

    settings = settings_from(ctx, config_path)
    if settings.catalogue.path is None:
        fail("catalogue.path is not set", EXIT_CONFIG)
    try:
        cat = load_catalogue(settings.catalogue.path)
    except ConfigError as exc:
        fail(f"catalogue.path: {exc}", EXIT_CONFIG)
    store = store_from(ctx, config_path)
    progress = None if quiet else (lambda line: click.echo(line, err=True))
    report = index_catalogue(cat, store.db, Limits.from_settings(settings.audio, reference=True), progress)
    for track_id, reason in report.failed or []:
        click.echo(f"failed: track {track_id}: {reason}")
    click.echo(report.line())


@click.group("audio")
def audio() -> None:
    """Identify audio files against the indexed catalogue."""


@audio.command("match")
@config_option
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object per file.")
@click.pass_context
def audio_match(ctx: click.Context, config_path: Path | None, files: tuple[Path, ...], as_json: bool) -> None:
    """For each FILE, the best matching catalogue track (score, offset and matched duration) or none.

    Uses the references stored by `scrapewatch catalogue index`. A file that cannot be used (not audio, silence,
    too short, decoder timeout) has no match and a reason. Exit 0 whether or not anything matched.
    """
    from monitor.audio.catalogue_index import load_matcher
    from monitor.audio.decode import Limits
    from monitor.audio.identify import AudioIdentifier

    settings = settings_from(ctx, config_path)
    store = store_from(ctx, config_path)
    identifier = AudioIdentifier(
        load_matcher(store.db), Limits.from_settings(settings.audio), settings.audio.speed_variants
    )
    rows = []
    for path in files:
        result = identifier.identify(path)
        row: dict = {"file": str(path), "track": None, "score": None, "offset_seconds": None, "matched_seconds": None}
        if result.match is not None:
            row.update(result.match.as_dict())
        if result.reason:
            row["reason"] = result.reason
        rows.append(row)
        if not as_json:
            if result.match is not None:
                m = result.match
                click.echo(
                    f"{path}: track {m.track} score {m.score:.3f} at {m.offset_seconds:.1f} s"
                    f" for {m.matched_seconds:.1f} s" + (f" ({m.variant})" if m.variant else "")
                )
            else:
                click.echo(f"{path}: no match" + (f" ({result.reason}: {result.detail})" if result.reason else ""))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
