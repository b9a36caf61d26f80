"""The ``case notice``, ``case export`` and ``case verify`` commands: takedown notice drafts, evidence bundles and
their verification (standalone commands; the ``case`` group attaches them)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from monitor.cases.bundle import export as export_bundle
from monitor.cases.bundle import record_export, recorded_heads
from monitor.cases.bundle import verify as verify_bundle
from monitor.cases.notice import FORMATS, Sender, draft
from monitor.cli._common import (
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_NOT_FOUND,
    catalogue_from,
    config_option,
    current_user,
    exit_code,
    fail,
    reported,
    settings_from,
    store_from,
)
from monitor.errors import ScrapewatchError, StorageError
from monitor.settings import Settings
from monitor.store import Store, utcnow
from monitor.vocabulary import NOTICE_RECIPIENTS

__all__ = ["export", "notice", "verify"]


def case_facts(store: Store, case_id: int, settings: Settings) -> dict[str, Any]:
    """The facts of case ``case_id`` from the store, its tracks described from the configured catalogue (as the
    case page's notice and export actions describe them); exits 4 when there is no such case."""
    facts = store.case_facts(case_id, catalogue_from(settings))
    if facts is None:
        fail(f"no case with id {case_id}", EXIT_NOT_FOUND)
    return facts


@click.command()
@click.argument("case_id", type=int)
@click.option("--to", "to", type=click.Choice(NOTICE_RECIPIENTS), required=True, help="Who the notice is for.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="md", show_default=True, help="Draft format.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the draft here (pdf: required).")
@click.option("--address", help="Send to this address instead of the abuse contact found by host intel.")
@click.option("--confirm-good-faith", is_flag=True, help="I confirm the good-faith statement.")
@click.option("--confirm-accuracy", is_flag=True, help="I confirm the accuracy and authority statement.")
@config_option
@click.pass_context
def notice(
    ctx: click.Context,
    case_id: int,
    to: str,
    fmt: str,
    out: Path | None,
    address: str | None,
    confirm_good_faith: bool,
    confirm_accuracy: bool,
    config_path: Path | None,
) -> None:
    """Draft the takedown notice of case CASE_ID to its hosting provider, registrar or site; never sent.

    Prints the draft (or writes --out) and, on stderr, the address, the Message-ID of an .eml draft and every
    field still missing or unconfirmed (marked [[...]] in the text).
    """
    if fmt == "pdf" and out is None:
        fail("--format pdf needs --out FILE", EXIT_CONFIG)
    settings = settings_from(ctx, config_path)
    facts = case_facts(store_from(ctx, config_path), case_id, settings)
    try:
        result = draft(
            facts, to, fmt, settings.notices.templates_dir, Sender.from_settings(settings.notices),
            address=address, confirm_good_faith=confirm_good_faith, confirm_accuracy=confirm_accuracy,
            chromium_path=settings.watch.chromium_path,
        )  # fmt: skip
    except ValueError as exc:  # a bad --address
        fail(str(exc), EXIT_CONFIG)
    except ScrapewatchError as exc:  # a template error (exit 2), Chromium failing to print (exit 1)
        fail(str(exc), exit_code(exc))
    if out is None:
        click.echo(result.content, nl=False)
    else:
        with reported(StorageError):
            _write(out, result.content)
        click.echo(f"wrote {out} ({len(result.content)} bytes, {result.content_type})", err=True)
    click.echo(f"to: {result.address or '(no abuse address known: give --address)'}", err=True)
    if result.message_id:
        click.echo(f"message-id: {result.message_id} (record it with `case notice-sent` once sent)", err=True)
    if result.missing_fields:
        click.echo(f"missing: {', '.join(result.missing_fields)} (marked [[...]] in the draft)", err=True)


@click.command()
@click.argument("case_id", type=int)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Directory (default: see docs).")
@config_option
@click.pass_context
def export(ctx: click.Context, case_id: int, out: Path | None, config_path: Path | None) -> None:
    """Write case CASE_ID's evidence bundle (one reproducible zip) and record its chain head.

    Exit 1 when evidence files were missing on disk: the bundle is still written, and lists them.
    """
    settings = settings_from(ctx, config_path)
    store = store_from(ctx, config_path)
    facts = case_facts(store, case_id, settings)
    target = out or settings.notices.exports_dir or settings.storage.data_dir / "exports"
    with reported(StorageError):
        result = export_bundle(facts, store.files, target, now=utcnow())
        record_export(store.db, case_id, result, current_user(), utcnow())
    click.echo(f"{result.path}\nchain head {result.chain_head}, {result.files} files, as of {result.exported_at}")
    if result.missing:
        for m in result.missing:
            click.echo(f"MISSING {m.kind} {m.sha256} (evidence {', '.join(map(str, m.evidence_ids))}): {m.reason}",
                       err=True)  # fmt: skip
        fail(f"{len(result.missing)} evidence file(s) missing: the bundle lists them and will not verify", EXIT_FAILED)


@click.command()
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--against-db", is_flag=True, help="Also require the chain head to be one recorded in the database.")
@config_option
@click.pass_context
def verify(ctx: click.Context, bundle: Path, against_db: bool, config_path: Path | None) -> None:
    """Verify an evidence bundle: every file's size and SHA-256, the manifest chain, no file missing or extra.

    Exit 0 when it is intact, 1 with every problem listed otherwise.
    """
    recorded = None
    if against_db:
        store = store_from(ctx, config_path)
        recorded = lambda case_id: recorded_heads(store.db, case_id)  # noqa: E731
    result = verify_bundle(bundle, recorded)
    if result.ok:
        click.echo(f"ok: case {result.case_id}, {result.files} files, chain head {result.chain_head}")
        return
    for problem in result.problems:
        click.echo(f"problem: {problem}")
    fail(f"{bundle} failed verification ({len(result.problems)} problem(s))", EXIT_FAILED)


def _write(path: Path, content: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(content)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StorageError(f"cannot write {path}: {exc.strerror or exc}") from exc
