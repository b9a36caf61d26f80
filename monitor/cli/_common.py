"""What every command module shares: exit codes, the --config option, settings and store loading, error mapping.

Exit codes: 0 success, 1 a job crashed or an operation failed, 2 invalid configuration or usage,
3 the daemon could not start (database, port), 4 no such record.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import click

from monitor.errors import (
    ConfigError,
    CrawlError,
    InvalidTransition,
    NotFound,
    NoticeTemplateError,
    RegistryError,
    RegistryFetchError,
    StartupError,
    StorageError,
)
from monitor.settings import Settings, load_settings
from monitor.signatures.catalogue import Catalogue
from monitor.store import Store

__all__ = [
    "EXIT_CONFIG",
    "EXIT_FAILED",
    "EXIT_NOT_FOUND",
    "EXIT_STARTUP",
    "config_option",
    "current_user",
    "exit_code",
    "fail",
    "print_rows",
    "reported",
    "settings_from",
    "setup_logging",
    "store_from",
]

EXIT_FAILED, EXIT_CONFIG, EXIT_STARTUP, EXIT_NOT_FOUND = 1, 2, 3, 4
config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML configuration file (default: $SCRAPEWATCH_CONFIG, else built-in defaults).",
)


# The project's errors as exit codes, most specific first (a RegistryFetchError is a RegistryError too).
EXIT_CODES: tuple[tuple[type[Exception], int], ...] = (
    (NotFound, EXIT_NOT_FOUND),
    (RegistryFetchError, EXIT_FAILED),
    (RegistryError, EXIT_CONFIG),
    (ConfigError, EXIT_CONFIG),
    (NoticeTemplateError, EXIT_CONFIG),
    (StartupError, EXIT_STARTUP),
    (InvalidTransition, EXIT_FAILED),
    (StorageError, EXIT_FAILED),
    (CrawlError, EXIT_FAILED),
)


def exit_code(exc: Exception) -> int:
    """The exit code of a failed command for ``exc``."""
    return next((code for kind, code in EXIT_CODES if isinstance(exc, kind)), EXIT_FAILED)


@contextlib.contextmanager
def reported(*kinds: type[Exception]) -> Iterator[None]:
    """Turn ``kinds`` of errors raised inside into ``error: ...`` and their exit code."""
    try:
        yield
    except kinds as exc:
        fail(str(exc), exit_code(exc))


def print_rows(rows: list[dict[str, Any]], as_json: bool, empty: str) -> bool:
    """Print ``rows`` as JSON, or ``empty`` when there are none; True when that said everything."""
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return True
    if not rows:
        click.echo(empty)
        return True
    return False


def fail(message: str, code: int) -> NoReturn:
    """Print ``error: message`` on stderr and exit with ``code``."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def settings_from(ctx: click.Context, config_path: Path | None) -> Settings:
    """The settings of this command's --config (or the root group's, or $SCRAPEWATCH_CONFIG); exit 2 when invalid."""
    obj = ctx.find_root().obj or {}
    try:
        return load_settings(config_path or obj.get("config_path"))
    except ConfigError as exc:
        fail(str(exc), EXIT_CONFIG)


def catalogue_from(settings: Settings) -> Catalogue:
    """The protected catalogue (``catalogue.path``; empty when unset) that describes a case's tracks, as the daemon
    loads it for the case pages and API; exit 2 when it cannot be read."""
    from monitor.signatures.catalogue import load_catalogue

    try:
        return load_catalogue(settings.catalogue.path)
    except ConfigError as exc:
        fail(f"catalogue.path: {exc}", EXIT_CONFIG)


def store_from(ctx: click.Context, config_path: Path | None) -> Store:
    """The configured database, opened and migrated, with its evidence directory; exit 3 when it cannot be used."""
    from monitor.runtime.components import open_store

    try:
        return open_store(settings_from(ctx, config_path))
    except StartupError as exc:
        fail(str(exc), EXIT_STARTUP)


def setup_logging(level: str = "INFO") -> None:
    """Log lines on stderr at ``level``; Scrapy's, Twisted's and APScheduler's chatter only from WARNING up."""
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    if level != "DEBUG":  # Scrapy's per-request chatter drowns the daemon's own lines
        for name in ("scrapy", "twisted", "apscheduler", "py.warnings"):
            logging.getLogger(name).setLevel(logging.WARNING)


def current_user() -> str:
    """Who is acting, for incident events (``unknown`` in containers without a passwd entry)."""
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return "unknown"
