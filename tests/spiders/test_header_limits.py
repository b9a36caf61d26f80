"""Response heads are bounded while they arrive: a server sending header lines forever ends as a too_large item."""

from __future__ import annotations

import time

import pytest
from helpers.endless import EndlessServer
from helpers.http_servers import RawServer
from helpers.memory import PeakRss
from helpers.spider_run import one

from spiders.http_limits import DEFAULT_MAX_HEADER_BYTES, DEFAULT_MAX_HEADERS

PRIVATE_OK = {"SCRAPEWATCH_ALLOW_PRIVATE_NETWORKS": True}
# Unbounded, Twisted keeps every line: 676-724 MiB growth in these 5 s measured (4.2 GB in the attack run).
MEMORY_BUDGET = 100 << 20


def test_endless_header_lines_end_as_too_large_within_the_memory_budget():
    with EndlessServer("header_flood") as flood, PeakRss() as memory:
        started = time.monotonic()
        item = one(flood.url("/robots.txt"), DOWNLOAD_TIMEOUT=5, **PRIVATE_OK)
        elapsed = time.monotonic() - started
    assert (item.status, item.error_kind) == (None, "too_large"), item
    assert "response headers exceed" in item.error_detail
    assert memory.growth < MEMORY_BUDGET, f"RSS grew {memory.growth >> 20} MiB"
    assert elapsed < 4  # cut at the limit, not by the download timeout


@pytest.mark.parametrize(
    ("lines", "size", "ok"),
    [
        (DEFAULT_MAX_HEADERS - 5, 100, True),
        (DEFAULT_MAX_HEADERS + 1, 10, False),
        (30, DEFAULT_MAX_HEADER_BYTES // 30 + 100, False),  # few lines, each large: the byte limit
    ],
)
def test_header_limits_at_their_edges(lines, size, ok):
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
    head += b"".join(b"X-H%d: %s\r\n" % (n, b"v" * size) for n in range(lines))
    with RawServer(head + b"\r\nok") as server:
        item = one(server.url("/robots.txt"), **PRIVATE_OK)
    if ok:
        assert (item.status, item.body) == (200, b"ok")
    else:
        assert (item.status, item.error_kind) == (None, "too_large")


def test_limits_are_settings():
    with RawServer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\nok") as server:
        assert one(server.url("/robots.txt"), SCRAPEWATCH_MAX_HEADERS=4, **PRIVATE_OK).error_kind == "too_large"
        assert one(server.url("/robots.txt"), SCRAPEWATCH_MAX_HEADERS=6, **PRIVATE_OK).status == 200
