"""Components built from settings, once, for the daemon, the CLI and benchmarks alike: the store, the crawler,
the protected catalogue, the agent registry, and the probes of every kind."""

from __future__ import annotations

from monitor.agents import RegistryError, load_registry
from monitor.db import check_writable, open_db
from monitor.errors import ConfigError, DatabaseDamaged, DatabaseTooNew, StartupError, StorageError
from monitor.probes.base import Context
from monitor.runtime.crawl import CrawlService
from monitor.settings import Settings
from monitor.signatures import Catalogue, load_catalogue
from monitor.store import EvidenceFiles, Store


def open_store(settings: Settings, *, migrate: bool = True) -> Store:
    """The database (created and migrated when ``migrate``) with the evidence directory; raises StartupError."""
    storage = settings.storage
    try:
        storage.data_dir.mkdir(parents=True, exist_ok=True)
        store = Store(
            open_db(storage.database_path, storage.busy_timeout_ms, migrate),
            EvidenceFiles(storage.data_dir / "evidence"),
            settings.alerts.storm_threshold,
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
    return Context(
        settings=settings,
        crawl=crawl if crawl is not None else CrawlService(settings),
        store=store,
        catalogue=load_protected_catalogue(settings),
        agents=agents,
    )
