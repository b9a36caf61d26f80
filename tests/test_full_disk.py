"""A full disk: the write fails with a clear error, nothing committed is lost, the database stays sound."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess

import pytest

from monitor.alerts.sender import AlertSender
from monitor.db import open_db
from monitor.errors import StorageError
from monitor.runtime import reactor
from monitor.runtime.daemon import Daemon
from monitor.settings import load_settings
from monitor.store.core import Store
from tests.alerts.support import Clock, alert_settings, finding, rows, write_findings
from tests.test_store import V1, run_policy


@pytest.fixture
def tiny_disk(tmp_path):
    """A 1 MiB tmpfs (CI runs as root, which mount needs): room for the schema, little more."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], check=True)
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_full_disk_is_a_storage_error_and_loses_nothing(tiny_disk):
    store = Store(open_db(tiny_disk / "s.db"))
    run_policy(store, (200, V1))
    committed = store.db.execute("SELECT count(*) FROM observations").fetchone()[0]
    with pytest.raises(StorageError, match="disk"):
        for i in range(200):  # distinct 40 KB bodies until the disk is full
            run_policy(store, (200, V1 + bytes([i % 256]) * 40_000 + str(i).encode()))
    after_fail = store.db.execute("SELECT count(*) FROM observations").fetchone()[0]
    assert after_fail >= committed
    assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # Every committed run is whole: each observation's run exists and each stored body matches its hash.
    orphans = store.db.execute(
        "SELECT count(*) FROM observations o LEFT JOIN probe_runs r ON r.id = o.run_id WHERE r.id IS NULL"
    ).fetchone()[0]
    assert orphans == 0
    store.db.close()
    reopened = Store(open_db(tiny_disk / "s.db"))
    assert reopened.db.execute("SELECT count(*) FROM observations").fetchone()[0] == after_fail
    reopened.db.close()


def fill(directory) -> None:
    """Write a filler file until the filesystem has no byte left (unbuffered: each write is one system call)."""
    with (directory / "filler").open("wb", buffering=0) as f:
        for chunk in (65536, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    f.write(b"\0" * chunk)


def daemon_on(tiny_disk, **storage):
    settings = load_settings(env={})
    settings.storage.data_dir = tiny_disk / "data"
    for key, value in storage.items():
        setattr(settings.storage, key, value)
    return Daemon(settings)


@pytest.mark.parametrize("min_free_bytes", [32 * 1024, 0])
def test_readyz_is_unready_on_a_full_disk_and_ready_again_when_space_returns(tiny_disk, min_free_bytes):
    daemon = daemon_on(tiny_disk, min_free_bytes=min_free_bytes)

    async def scenario():
        await daemon.start(serve_http=False)
        try:
            assert daemon.ready()[1]["database"] == "ok"
            fill(tiny_disk)
            database = daemon.ready()[1]["database"]
            assert database.startswith("error: database not writable"), database
            assert ("below storage.min_free_bytes" if min_free_bytes else "full") in database
            (tiny_disk / "filler").unlink()
            assert daemon.ready()[1]["database"] == "ok"
        finally:
            await daemon.stop()

    reactor.run(scenario())


def test_the_alert_sender_backs_off_on_a_full_disk_with_one_line_per_state_change(tiny_disk, caplog):
    settings = alert_settings(tiny_disk, drain_interval_seconds=1)
    clock = Clock()
    store = Store(open_db(tiny_disk / "s.db"))
    write_findings(store, [finding(1)])
    sender = AlertSender(store, settings, clock=clock)
    fill(tiny_disk)

    async def drains(n: int) -> None:
        for _ in range(n):
            await sender.run_job()
            clock.advance(1)  # one drain interval

    caplog.set_level(logging.INFO, logger="scrapewatch.alerts")
    asyncio.run(drains(60))  # a minute of drains on a full disk
    failing = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage().split(" (")[0] for r in failing] == ["alert sender: the database refused a drain"]
    assert "disk" in failing[0].getMessage() and failing[0].exc_info is None
    assert rows(store, "SELECT count(*) AS n FROM alert_deliveries")[0]["n"] == 0  # nothing half-written
    caplog.clear()
    (tiny_disk / "filler").unlink()
    asyncio.run(drains(400))  # longer than the longest backoff (5 minutes)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("alert sender")]
    assert len(lines) == 1 and lines[0].startswith("alert sender: the database takes writes again"), lines
    assert [r["status"] for r in rows(store, "SELECT status FROM alert_deliveries")] == ["sent"]
    store.db.close()
