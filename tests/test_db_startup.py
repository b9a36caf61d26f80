"""Start-up refuses a database it cannot trust: a damaged file (integrity check) or one from a newer build (unknown
migrations, a higher schema version); exit 3 with what to do, and the file is left exactly as it was."""

from __future__ import annotations

import hashlib
import random
import shutil
import sqlite3

import pytest

from monitor.db import known_migrations
from monitor.demo.internet import BackgroundInternet
from tests.helpers.proc import clean_env, cli, write_config
from tests.test_daemon import daemon_config


@pytest.fixture(scope="module")
def daemon_db(tmp_path_factory):
    """A database written by a real ``scrapewatch run --once`` against the simulated internet."""
    where = tmp_path_factory.mktemp("made")
    with BackgroundInternet() as net:
        cfg = daemon_config(where, domains=["soundcloud.com"])
        out = cli("run", "--once", "--config", str(cfg), cwd=where, env=clean_env(HTTPS_PROXY=net.url))
    assert out.returncode == 0, out.stderr
    db = where / "data" / "scrapewatch.db"
    assert not db.with_name(db.name + "-wal").exists() or db.with_name(db.name + "-wal").stat().st_size == 0
    return db


@pytest.fixture
def copy(tmp_path, daemon_db):
    """A private copy of the daemon's database and a config pointing at it."""
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(daemon_db, data / "scrapewatch.db")
    cfg = write_config(tmp_path / "c.yaml", {"storage": {"data_dir": str(data)}})
    return data / "scrapewatch.db", cfg


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def damage(path, pages: int = 8, seed: int = 13) -> None:
    """Overwrite ``pages`` whole pages in the middle of the file with random bytes."""
    size = path.stat().st_size
    page = 4096
    start = (size // 2) // page * page
    assert start + pages * page < size, "the daemon's database is too small to damage its middle"
    with path.open("r+b") as f:
        f.seek(start)
        f.write(random.Random(seed).randbytes(pages * page))


def test_a_sound_database_opens(copy):
    db, cfg = copy
    out = cli("incidents", "list", "--config", str(cfg), cwd=db.parent)
    assert out.returncode == 0, out.stderr
    assert "policy_breach" in out.stdout


@pytest.mark.parametrize("command", [("run", "--once"), ("incidents", "list")])
def test_a_damaged_database_is_refused_and_not_written(copy, command):
    db, cfg = copy
    damage(db)
    before = digest(db)
    out = cli(*command, "--config", str(cfg), cwd=db.parent, timeout=60)
    assert out.returncode == 3, out.stderr
    assert "Traceback" not in out.stderr
    assert f"error: the database {db} is damaged" in out.stderr
    assert "integrity_check" in out.stderr and ".recover" in out.stderr and "backup" in out.stderr
    assert digest(db) == before
    assert not db.with_name(db.name + "-wal").exists()  # not even switched to WAL


def newer_by_migration(db) -> None:
    """What a newer build would leave: one more migration applied, which renamed a column."""
    conn = sqlite3.connect(db)
    conn.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
        "VALUES ('scrapewatch', '0099_future', '2030-01-01 00:00:00')"
    )
    conn.execute("ALTER TABLE incidents RENAME COLUMN title TO headline")
    conn.commit()
    conn.close()


def newer_by_version(db) -> None:
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 99")
    conn.close()


@pytest.mark.parametrize("command", [("run", "--once"), ("incidents", "list")])
@pytest.mark.parametrize(
    ("make_newer", "named"),
    [(newer_by_migration, "migration(s) 0099_future"), (newer_by_version, "schema version 99")],
)
def test_a_database_from_a_newer_build_is_refused(copy, command, make_newer, named):
    db, cfg = copy
    make_newer(db)
    before = digest(db)
    out = cli(*command, "--config", str(cfg), cwd=db.parent, timeout=60)
    assert out.returncode == 3, out.stderr
    assert "Traceback" not in out.stderr
    known = known_migrations()
    assert f"error: the database {db} was written by a newer scrapewatch ({named})" in out.stderr
    assert f"this build knows schema version {len(known)} (newest migration {known[-1]})" in out.stderr
    assert digest(db) == before


def test_this_build_stamps_its_schema_version(copy):
    db, cfg = copy
    assert cli("incidents", "list", "--config", str(cfg), cwd=db.parent).returncode == 0
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(known_migrations()) >= 7
    conn.close()
