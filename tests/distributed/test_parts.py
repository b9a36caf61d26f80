"""The parts of the worker path on their own: items through the codec (bounded), the per-domain limiter on a real
Redis, and the store applying a keyed run once."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from monitor.distributed import codec
from monitor.distributed.limiter import DomainLimiter
from monitor.distributed.queue import Names, connect, job_domains
from monitor.incidents import Evaluation, Finding
from monitor.settings import DistributedSettings
from monitor.store.core import ProbeRun
from spiders.watch_items import WatchRequest, WatchResource


def resource(body: bytes) -> WatchResource:
    request = WatchRequest("https://a.example/", "https://a.example/x.mp3", "GET", "media", "https://a.example/", True)
    return WatchResource(
        "a", "page", "https://a.example/", status=200, headers={"__item__": ["x"]}, body=body, screenshot=b"\x89PNG",
        requests=[request], rendered=True,
    )  # fmt: skip


def test_items_survive_the_codec_with_large_bodies_as_blobs():
    small, large = resource(b"<html>hi</html>"), resource(b"x" * 5000)
    encoder = codec.Encoder(inline_max=1024, max_total=1 << 20)
    encoded = encoder.encode([small, large])
    assert list(encoder.blobs.values()) == [b"x" * 5000] and codec.blob_refs(encoded) == set(encoder.blobs)
    assert codec.decode(encoded, encoder.blobs) == [small, large]
    with pytest.raises(ValueError, match="gone"):
        codec.decode(encoded, {})


def test_the_codec_refuses_too_large_results_and_unknown_types():
    with pytest.raises(codec.ResultTooLarge):
        codec.Encoder(inline_max=1024, max_total=4096).encode([resource(b"x" * 3000), resource(b"y" * 3000)])
    with pytest.raises(TypeError):
        codec.Encoder(1024, 4096).encode(Finding("key", "k", "low", "d", "t"))
    with pytest.raises(ValueError, match="unknown item type"):
        codec.decode({"__item__": "os.system", "fields": {}}, {})


def test_job_domains_are_the_crawled_hosts_never_soundcloud():
    args = {"target": {"start_urls": ["https://Mirror.example/a"]}, "canary_url": "https://soundcloud.com/x/y"}
    assert job_domains(args) == ["mirror.example"]


def test_the_limiter_holds_concurrency_and_delay_across_clients(redis_server):
    names = Names.of(DistributedSettings(key_prefix=f"t{uuid.uuid4().hex[:8]}"))

    async def go():
        a, b = connect(redis_server.url), connect(redis_server.url)
        one = DomainLimiter(a, names, concurrency=1, delay=0, lease_seconds=30)
        two = DomainLimiter(b, names, concurrency=1, delay=0, lease_seconds=30)
        await one.acquire(["x.example"], "w1", until=time.time() + 10)
        with pytest.raises(TimeoutError):  # the other worker waits while the lease is held
            await two.acquire(["x.example", "y.example"], "w2", until=time.time() + 0.6)
        assert await two.acquire(["y.example"], "w2", until=time.time() + 10) >= 0  # another domain is free
        await one.release(["x.example"], "w1")
        await two.acquire(["x.example"], "w3", until=time.time() + 10)
        spaced = DomainLimiter(a, names, concurrency=5, delay=0.5, lease_seconds=30)
        await spaced.acquire(["z.example"], "s1", until=time.time() + 10)
        waited = await spaced.acquire(["z.example"], "s2", until=time.time() + 10)
        await a.aclose()
        await b.aclose()
        return waited

    assert asyncio.run(go()) >= 0.3  # the second start on z.example waited for the delay


def test_a_keyed_run_is_applied_once(store):
    finding = Finding("k1", "exposure_downloader", "high", "a.example", "downloader")
    run = ProbeRun("watch:a", "watch", "a.example", "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", "success",
                   None, 1.0, key="run-1")  # fmt: skip
    first = store.apply(run, Evaluation(scope="watch:a.example", findings=[finding]))
    again = store.apply(run, Evaluation(scope="watch:a.example", findings=[finding]))
    assert again.run_id == first.run_id and again.transitions == []
    assert store.db.execute("SELECT count(*) FROM probe_runs").fetchone()[0] == 1
    occurrences = store.db.execute("SELECT occurrences FROM incidents").fetchall()
    assert occurrences == [(1,)]
    other = store.apply(
        ProbeRun(**{**run.__dict__, "key": None}), Evaluation(scope="watch:a.example", findings=[finding])
    )
    assert other.run_id != first.run_id  # unkeyed (single-process) runs are never deduplicated
