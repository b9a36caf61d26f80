"""Opens the SQLite database (WAL, busy timeout, foreign keys): refuses a damaged or newer file, applies the
numbered migrations (``monitor.migrations``), and proves the database takes writes."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import sqlite_utils

from monitor.errors import DatabaseDamaged, DatabaseTooNew, StorageError
from monitor.migrations import migrations

__all__ = ["check_writable", "known_migrations", "migrations", "open_db"]


# Below this size the full integrity_check runs at start-up (about a second per 100 MiB); above it the faster
# quick_check, which skips index-versus-table consistency.
FULL_CHECK_BELOW_BYTES = 64 * 1024 * 1024
CHECK_ERRORS_SHOWN = 5


def known_migrations() -> list[str]:
    """The names of every migration this build knows, oldest first."""
    return [m.name for m in migrations.pending(sqlite_utils.Database(memory=True))]


def open_db(path: Path, busy_timeout_ms: int = 5000, migrate: bool = True) -> sqlite_utils.Database:
    """Open (creating if needed) the database at ``path``, in WAL mode, migrated to the latest schema.

    With ``migrate`` (start-up, CLI commands) an existing file is checked first and never written when it fails:
    :class:`DatabaseDamaged` when SQLite's integrity check finds damage, :class:`DatabaseTooNew` when it holds
    migrations this build does not know. Raises :class:`StorageError` with a readable reason when the file or its
    directory is unusable.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create the database directory {path.parent}: {exc.strerror}") from exc
    try:
        existing = path.stat().st_size if path.exists() else 0
        conn = sqlite3.connect(str(path), timeout=busy_timeout_ms / 1000, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        conn.execute("PRAGMA foreign_keys = ON")
        db = sqlite_utils.Database(conn)
        if migrate and existing:
            # Before anything writes (switching to WAL writes the header; migrations write the schema).
            _check_integrity(db, path, existing)
            _check_version(db, path)
        if db.journal_mode != "wal":
            db.enable_wal()
        conn.execute("PRAGMA synchronous = NORMAL")
        if migrate:
            pending = migrations.pending(db)
            migrations.apply(db)
            known = len(known_migrations())
            if conn.execute("PRAGMA user_version").fetchone()[0] != known:
                conn.execute(f"PRAGMA user_version = {known}")
            if pending:  # move the migrations out of the WAL: a new database would otherwise keep ~300 KB there
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except StorageError:
        raise
    except sqlite3.DatabaseError as exc:
        raise StorageError(f"cannot open the database {path}: {exc}") from exc
    return db


def _check_integrity(db: sqlite_utils.Database, path: Path, size: int) -> None:
    pragma = "integrity_check" if size < FULL_CHECK_BELOW_BYTES else "quick_check"
    try:
        problems = [row[0] for row in db.conn.execute(f"PRAGMA {pragma}({CHECK_ERRORS_SHOWN})")]
    except sqlite3.DatabaseError as exc:  # "file is not a database", "database disk image is malformed"
        problems = [str(exc)]
    if problems != ["ok"]:
        db.conn.close()
        raise DatabaseDamaged(
            f"the database {path} is damaged ({pragma}: {'; '.join(problems[:CHECK_ERRORS_SHOWN])}); scrapewatch "
            f"will not write to it. Restore it from a backup, or salvage what is readable with "
            f"`sqlite3 {path} .recover | sqlite3 recovered.db`, check that file and put it in its place"
        )


def _check_version(db: sqlite_utils.Database, path: Path) -> None:
    known = known_migrations()
    applied = [m.name for m in migrations.applied(db)]
    unknown = [name for name in applied if name not in known]
    version = db.conn.execute("PRAGMA user_version").fetchone()[0]
    if unknown or version > len(known):
        found = f"migration(s) {', '.join(unknown)}" if unknown else f"schema version {version}"
        db.conn.close()
        raise DatabaseTooNew(
            f"the database {path} was written by a newer scrapewatch ({found}); this build knows schema version "
            f"{len(known)} (newest migration {known[-1]}). Run the newer version, or restore a backup made by this one"
        )


def check_writable(db: sqlite_utils.Database, min_free_bytes: int = 0) -> None:
    """Raise :class:`StorageError` unless the database takes a committed write right now and its filesystem has at
    least ``min_free_bytes`` free.

    BEGIN IMMEDIATE + ROLLBACK proves only the lock: on a full disk it succeeds, and so does a write that is rolled
    back, since in WAL mode nothing reaches the disk before COMMIT. So the heartbeat row is committed. Even that can
    succeed on a full disk, because a WAL file keeps its size after a checkpoint and a small commit reuses its
    frames; the free-space check catches the full disk before a probe's larger commit fails.
    """
    path = db.conn.execute("PRAGMA database_list").fetchone()[2]
    if min_free_bytes and path:
        try:
            fs = os.statvfs(Path(path).parent)
        except OSError as exc:
            raise StorageError(f"database not writable: cannot stat its filesystem: {exc.strerror}") from exc
        free = fs.f_bavail * fs.f_frsize
        if free < min_free_bytes:
            raise StorageError(
                f"database not writable: {free} bytes free on its filesystem, below storage.min_free_bytes "
                f"({min_free_bytes})"
            )
    try:
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            db.conn.execute(
                "INSERT INTO heartbeat (id, at) VALUES (1, strftime('%Y-%m-%dT%H:%M:%fZ')) "
                "ON CONFLICT (id) DO UPDATE SET at = excluded.at"
            )
            db.conn.execute("COMMIT")
        finally:
            if db.conn.in_transaction:  # a failed COMMIT (SQLITE_FULL) can leave the transaction open
                db.conn.execute("ROLLBACK")
    except sqlite3.DatabaseError as exc:
        raise StorageError(f"database not writable: {exc}") from exc
