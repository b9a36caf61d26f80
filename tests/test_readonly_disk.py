"""A filesystem the kernel turns read-only under the daemon: /readyz answers 503 naming the database, the alert sender
logs one line for the change instead of one per drain, and the database stays sound."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from monitor.alerts.sender import AlertSender
from monitor.db import open_db
from monitor.runtime import reactor
from monitor.runtime.daemon import Daemon
from monitor.store.core import Store
from tests.alerts.support import Clock, alert_settings, finding, rows, write_findings


@pytest.fixture
def ext4_disk(tmp_path):
    """A 16 MiB ext4 file system on a loop device, mounted ``errors=remount-ro`` (CI runs as root, which mount needs).

    Root writes through chmod and a plain ``remount,ro`` is refused while SQLite holds the files open; what does
    happen to a running daemon is the kernel remounting a file system read-only after an error. ext4's
    ``trigger_fs_error`` (sysfs) causes exactly that: open descriptors get EIO, new opens are read-only.
    """
    image, mnt = tmp_path / "disk.img", tmp_path / "disk"
    mnt.mkdir()
    subprocess.run(["truncate", "-s", "16M", str(image)], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
    subprocess.run(["mount", "-o", "loop,errors=remount-ro", str(image), str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)  # the loop device goes with it (autoclear)


def go_read_only(mnt: Path) -> None:
    source = subprocess.run(["findmnt", "-no", "SOURCE", str(mnt)], capture_output=True, text=True, check=True)
    (Path("/sys/fs/ext4") / Path(source.stdout.strip()).name / "trigger_fs_error").write_text("scrapewatch test\n")
    options = next(line.split()[3] for line in Path("/proc/mounts").read_text().splitlines() if str(mnt) in line)
    assert "ro" in options.split(",") or "emergency_ro" in options, options


def readyz(port: int) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_readyz_is_503_naming_the_database_when_its_file_system_turns_read_only(ext4_disk, settings):
    settings.storage.data_dir = ext4_disk / "data"
    settings.storage.min_free_bytes = 1024 * 1024  # the 16 MiB disk has about 12 MiB free
    settings.protected_domains = settings.protected_domains[:1]
    settings.protected_domains[0].domain = "soundcloud.invalid"
    settings.protected_domains[0].interval_seconds = 3600
    daemon = Daemon(settings)

    async def scenario():
        await daemon.start()
        serving = asyncio.ensure_future(daemon.serve())
        try:
            for _ in range(100):  # the scheduler starts within serve()
                status, body = await asyncio.to_thread(readyz, daemon.port)
                if status == 200:
                    break
                await asyncio.sleep(0.05)
            assert (status, body["database"]) == (200, "ok"), body
            go_read_only(ext4_disk)
            status, body = await asyncio.to_thread(readyz, daemon.port)
            assert status == 503 and body["ready"] is False, body
            assert body["database"].startswith("error: database not writable"), body
            assert "readonly" in body["database"] or "I/O" in body["database"], body
            assert body["scheduler"] == "running"  # the database alone made it unready
        finally:
            daemon.request_stop()
            await serving
            await daemon.stop()

    reactor.run(scenario())


def test_the_alert_sender_logs_one_line_when_the_file_system_turns_read_only(ext4_disk, caplog):
    settings = alert_settings(ext4_disk, drain_interval_seconds=1)
    clock = Clock()
    store = Store(open_db(ext4_disk / "s.db"))
    write_findings(store, [finding(1)])
    sender = AlertSender(store, settings, clock=clock)
    go_read_only(ext4_disk)

    async def drains(n: int) -> None:
        for _ in range(n):
            await sender.run_job()
            clock.advance(1)  # one drain interval

    caplog.set_level(logging.INFO, logger="scrapewatch.alerts")
    asyncio.run(drains(60))  # a minute of drains on a read-only file system
    lines = [r for r in caplog.records if r.getMessage().startswith("alert sender")]
    assert [r.getMessage().split(" (")[0] for r in lines] == ["alert sender: the database refused a drain"]
    assert lines[0].levelno >= logging.WARNING and lines[0].exc_info is None
    store.db.close()
    # Nothing half-written: the file system kept what was committed before it turned read-only.
    reopened = Store(open_db(ext4_disk / "s.db", migrate=False))
    assert reopened.db.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    assert rows(reopened, "SELECT count(*) AS n FROM alert_deliveries")[0]["n"] == 0
    reopened.db.close()
