"""A full disk: the write fails with a clear error, nothing committed is lost, the database stays sound."""

from __future__ import annotations

import subprocess

import pytest

from monitor.db import open_db
from monitor.errors import StorageError
from monitor.store.core import Store
from tests.test_store import V1, run_policy


@pytest.fixture
def tiny_disk(tmp_path):
    """A 384 KiB tmpfs (CI runs as root, which mount needs)."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=384k", "tmpfs", str(mnt)], check=True)
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
