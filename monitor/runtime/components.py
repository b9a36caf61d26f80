"""Components built from settings, once, for the daemon, the CLI and benchmarks alike: the store, the crawler,
the protected catalogue, the agent registry, and the probes of every kind."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import sqlite_utils

from monitor.agents import RegistryError, load_registry
from monitor.audio.catalogue_index import catalogue_identifier
from monitor.audio.identify import AudioIdentifier
from monitor.db import check_writable, open_db
from monitor.errors import ConfigError, DatabaseDamaged, DatabaseTooNew, StartupError, StorageError
from monitor.probes.base import Context
from monitor.runtime.crawl import CrawlService
from monitor.settings import Settings
from monitor.signatures import Catalogue, load_catalogue
from monitor.store import EvidenceFiles, Store
from monitor.store.case_writes import CaseOptions

log = logging.getLogger(__name__)


def open_store(settings: Settings, *, migrate: bool = True) -> Store:
    """The database (created and migrated when ``migrate``) with the evidence directory; raises StartupError."""
    storage = settings.storage
    try:
        storage.data_dir.mkdir(parents=True, exist_ok=True)
        store = Store(
            open_db(storage.database_path, storage.busy_timeout_ms, migrate),
            EvidenceFiles(storage.data_dir / "evidence"),
            settings.alerts.storm_threshold,
            case_options(settings),
        )
        if migrate:
            check_writable(store.db)
    except (DatabaseDamaged, DatabaseTooNew) as exc:  # the message says what to do
        raise StartupError(str(exc)) from exc
    except StorageError as exc:
        raise StartupError(f"{exc} (check storage.data_dir / storage.database and permissions)") from exc
    except OSError as exc:
        raise StartupError(f"cannot use data directory {storage.data_dir}: {exc.strerror}") from exc
    return store


def case_options(settings: Settings) -> CaseOptions:
    """How the store keeps cases: link limits, ignored client_ids, and case alerts when a channel wants them."""
    return CaseOptions(
        max_link_domains=settings.cases.max_link_domains,
        ignored_client_ids=tuple(settings.cases.ignored_client_ids),
        alerts=any(c.mode == "case" for c in settings.alerts.channels),
    )


def load_protected_catalogue(settings: Settings) -> Catalogue:
    """The protected catalogue (``catalogue.path``), empty when none is configured; raises StartupError."""
    try:
        return load_catalogue(settings.catalogue.path)
    except ConfigError as exc:
        raise StartupError(f"catalogue.path: {exc}") from exc


def build(
    settings: Settings, *, store: Store | None = None, crawl: CrawlService | None = None, record: bool = True
) -> Context:
    """What probes are built from. ``record=False`` opens no database (one-off scans and dry runs)."""
    if record and store is None:
        store = open_store(settings)
    try:
        agents = tuple(load_registry(settings.policy.agents_file).tokens())
    except RegistryError as exc:
        raise StartupError(f"policy.agents_file: {exc}") from exc
    catalogue = load_protected_catalogue(settings)
    return Context(
        settings=settings,
        crawl=crawl if crawl is not None else CrawlService(settings),
        store=store,
        catalogue=catalogue,
        agents=agents,
        audio=audio_identifier(settings, catalogue, store),
    )


def audio_identifier(settings: Settings, catalogue: Catalogue, store: Store | None) -> AudioIdentifier | None:
    """The matcher over the catalogue's reference audio, indexed now when files changed (one log line). Without
    a store (one-off scans) the stored references are copied into memory and only changed files are fingerprinted
    there: a scan never writes the database."""
    db = store.db if store is not None else _scratch_index(settings.storage.database_path)
    identifier, line = catalogue_identifier(catalogue, db, settings.audio)
    log.info("%s", line)
    return identifier


def _scratch_index(database: Path) -> sqlite_utils.Database:
    db = open_db(Path(":memory:"))
    if not Path(database).is_file():
        return db
    try:
        disk = sqlite3.connect(f"file:{Path(database).resolve()}?mode=ro", uri=True)
        try:
            rows = disk.execute("SELECT * FROM audio_references").fetchall()
        finally:
            disk.close()
    except sqlite3.DatabaseError:  # an older schema or a busy file: fingerprint from scratch
        return db
    if rows:
        db.conn.executemany(f"INSERT INTO audio_references VALUES ({','.join('?' * len(rows[0]))})", rows)
    return db
