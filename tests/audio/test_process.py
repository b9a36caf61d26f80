"""The decoder's subprocesses: at most ``audio.max_processes`` run at once across concurrent jobs, and cancelling
a probe kills its running ffmpeg instead of leaving it to the decoder's timeout."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from monitor.audio.decode import Limits
from monitor.audio.identify import AudioIdentifier
from monitor.audio.process import SLOTS, Cancel, limit_processes
from monitor.errors import AudioUnusable
from tests.helpers.http_servers import RawServer


@pytest.fixture
def two_slots():
    before = SLOTS.size
    limit_processes(2)
    yield
    limit_processes(before)


def _wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_concurrent_jobs_share_the_process_cap(tmp_path, matcher, two_slots):
    """Four jobs decode at once; a stand-in ffmpeg logs its start and end and waits for a go: two at a time."""
    log, go = tmp_path / "log", tmp_path / "go"
    decoder = tmp_path / "ffmpeg"
    decoder.write_text(
        f'#!/bin/sh\necho "start $$" >> {log}\nwhile [ ! -e {go} ]; do sleep 0.05; done\necho "end $$" >> {log}\n'
    )
    decoder.chmod(0o755)
    identifiers = [AudioIdentifier(matcher, Limits(ffmpeg=str(decoder), timeout_seconds=120)) for _ in range(4)]

    def starts() -> int:
        return log.read_text().count("start") if log.exists() else 0

    async def jobs():
        tasks = [asyncio.create_task(i.identify_async({f"http://x/{n}.mp3": b"audio %d" % n})) for n, i in
                 enumerate(identifiers)]  # fmt: skip
        await asyncio.to_thread(_wait_for, lambda: starts() >= 2)
        await asyncio.sleep(1.0)  # room for a third to start, were the cap not holding
        assert starts() == 2 and SLOTS.running == 2
        go.touch()
        return await asyncio.gather(*tasks)

    results = asyncio.run(jobs())
    assert [r.reason for found in results for r in found.values()] == ["not_audio"] * 4
    running = peak = 0
    for line in log.read_text().splitlines():
        running += 1 if line.startswith("start") else -1
        peak = max(peak, running)
    assert peak == 2 and starts() == 4 and SLOTS.running == 0


def test_cancelling_a_probe_kills_its_decoder_at_once(tmp_path, matcher, queries):
    """A real ffmpeg reads from a loopback server that sends the first 4 KB of an MP3 and then stalls: cancelling the
    awaiting task kills it long before its 120 s timeout."""
    head = queries[("1001", "mp3_32k")].read_bytes()[:4096]
    reply = b"HTTP/1.1 200 OK\r\nContent-Type: audio/mpeg\r\nContent-Length: 1000000\r\n\r\n" + head
    pid_file = tmp_path / "pid"
    with RawServer(reply, hold=True) as server:
        decoder = tmp_path / "ffmpeg"  # the real ffmpeg (exec keeps the pid), reading the stalled server
        decoder.write_text(
            f"#!/bin/sh\necho $$ > {pid_file}\nexec ffmpeg -nostdin -v error -i {server.url('/beat.mp3')}"
            " -ac 1 -ar 11025 -f s16le pipe:1\n"
        )
        decoder.chmod(0o755)
        identifier = AudioIdentifier(matcher, Limits(ffmpeg=str(decoder), timeout_seconds=120))

        async def cancel_mid_decode() -> tuple[int, float]:
            task = asyncio.create_task(identifier.identify_async({"http://x/beat.mp3": b"any"}))
            await asyncio.to_thread(_wait_for, lambda: server.connections >= 1 and pid_file.exists())
            pid = int(pid_file.read_text())
            assert _alive(pid)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return pid, time.monotonic()

        pid, cancelled_at = asyncio.run(cancel_mid_decode())  # returns once the worker thread has finished
        _wait_for(lambda: not _alive(pid), timeout=30)
        assert time.monotonic() - cancelled_at < 60  # far below the 120 s the timeout would have taken


def test_a_cancelled_decode_starts_nothing(matcher, queries):
    cancel = Cancel()
    cancel.set()
    result = AudioIdentifier(matcher, Limits()).identify(queries[("1001", "mp3_32k")], cancel)
    assert result.match is None and result.reason == "cancelled"
    with pytest.raises(ValueError):
        limit_processes(0)
    with pytest.raises(AudioUnusable):
        cancel.check()
