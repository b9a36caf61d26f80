"""CrawlService: config → Scrapy settings, one item per file, failures as items, stop/join, clear errors."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.http_servers import FakeDns, FakeSite, RawServer, Reply, closed_port

from monitor.runtime import reactor
from monitor.runtime.crawl import CrawlError, CrawlService, scrapy_settings
from monitor.settings import ProtectedDomain, Settings, load_settings
from spiders.spiders.policy_files import PolicyFilesSpider

REPO = Path(__file__).resolve().parents[1]
FAST = {"AUTOTHROTTLE_START_DELAY": 0.0}
ROBOTS = b"User-agent: GPTBot\nDisallow: /\n"
AI_TXT = b"User-Agent: *\nDisallow: *.mp3\n"


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch) -> FakeDns:
    return FakeDns().install(monkeypatch)


def make_settings(**http) -> Settings:
    settings = load_settings(env={})
    for key, value in {"timeout_seconds": 5, "retries": 0, **http}.items():
        setattr(settings.http, key, value)
    return settings


def local(port: int, *files: str) -> ProtectedDomain:
    return ProtectedDomain(domain=f"127.0.0.1:{port}", scheme="http", files=list(files or ["robots.txt", "ai.txt"]))


def test_scrapy_settings_map_the_http_config():
    settings = make_settings(
        user_agent="probe/1.0 (+https://example.org)",
        timeout_seconds=7.5,
        max_response_bytes=4096,
        allow_private_networks=True,
        proxy="http://egress.internal:3128",
        no_proxy=["corp.example"],
        concurrent_requests_per_domain=3,
        retries=2,
    )
    assert scrapy_settings(settings) == {
        "USER_AGENT": "probe/1.0 (+https://example.org)",
        "DOWNLOAD_TIMEOUT": 7.5,
        "SCRAPEWATCH_MAX_RESPONSE_BYTES": 4096,
        "SCRAPEWATCH_ALLOW_PRIVATE_NETWORKS": True,
        "SCRAPEWATCH_PROXY": "http://egress.internal:3128",
        "SCRAPEWATCH_NO_PROXY": ["corp.example"],
        "CONCURRENT_REQUESTS_PER_DOMAIN": 3,
        "RETRY_ENABLED": True,
        "RETRY_TIMES": 2,
    }
    resolved = CrawlService(settings).crawl_settings
    assert resolved["USER_AGENT"] == "probe/1.0 (+https://example.org)"  # config beats the project file
    assert resolved.getint("RETRY_TIMES") == 2 and resolved.getfloat("DOWNLOAD_TIMEOUT") == 7.5
    assert resolved.getint("CONCURRENT_ITEMS") == 1 and resolved.getint("REDIRECT_MAX_TIMES") == 5
    assert not resolved.getbool("REMOTE_CONTROL_ENABLED") and not resolved.getbool("TELNETCONSOLE_ENABLED")
    assert resolved.getbool("AUTOTHROTTLE_ENABLED") and resolved.getint("DOWNLOAD_MAXSIZE") == 0
    assert resolved["TWISTED_REACTOR"] == "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
    assert {"spiders.middlewares.ProxyMiddleware", "spiders.middlewares.EgressGuardMiddleware"} <= set(
        resolved.getdict("DOWNLOADER_MIDDLEWARES")
    )


def test_protected_host_is_fetched_through_the_proxy_without_dns(fake_dns):
    routes = {
        "http://soundcloud.com/robots.txt": Reply(200, ROBOTS, {"Content-Type": "text/plain"}),
        "http://soundcloud.com/ai.txt": Reply(200, AI_TXT, {"Content-Type": "text/plain"}),
    }
    with FakeSite(routes) as proxy:
        service = CrawlService(make_settings(proxy=proxy.url(), user_agent="probe/9"), scrapy_overrides=FAST)
        items = reactor.run(service.fetch_policy_files(ProtectedDomain(domain="soundcloud.com", scheme="http")))
    assert sorted(r.requestline for r in proxy.requests) == [
        "GET http://soundcloud.com/.well-known/tdmrep.json HTTP/1.1",
        "GET http://soundcloud.com/ai.txt HTTP/1.1",
        "GET http://soundcloud.com/robots.txt HTTP/1.1",
    ]
    assert {r.headers["User-Agent"] for r in proxy.requests} == {"probe/9"}
    assert fake_dns.lookups == []
    assert [(i.domain, i.file, i.status, i.body) for i in items] == [
        ("soundcloud.com", "robots.txt", 200, ROBOTS),
        ("soundcloud.com", "ai.txt", 200, AI_TXT),
        ("soundcloud.com", ".well-known/tdmrep.json", 404, b"not found\n"),
    ]
    assert items[0].url == "http://soundcloud.com/robots.txt" and service.active() == 0


def test_loopback_domain_is_refused_without_allow_private_networks():
    with FakeSite({"/robots.txt": Reply(200, ROBOTS)}) as site:
        items = reactor.run(CrawlService(make_settings(), scrapy_overrides=FAST).fetch_policy_files(local(site.port)))
    assert [(i.file, i.status, i.error_kind) for i in items] == [
        ("robots.txt", None, "egress_refused"),
        ("ai.txt", None, "egress_refused"),
    ]
    assert site.requests == []


def test_failures_come_back_as_items_never_as_exceptions():
    with RawServer(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\ncut") as hostile:
        service = CrawlService(make_settings(allow_private_networks=True), scrapy_overrides=FAST)
        items = reactor.run(service.fetch_policy_files(local(hostile.port)))
    assert [(i.file, i.status, i.error_kind) for i in items] == [
        ("robots.txt", None, "connection"),
        ("ai.txt", None, "connection"),
    ]


def test_items_survive_garbage_collection_during_the_crawl():
    # Signal receivers are weak references: a receiver that nothing else holds vanishes at gc time.
    def collect_then_reply(_handler):
        gc.collect()
        return Reply(200, ROBOTS)

    with FakeSite({"/robots.txt": collect_then_reply}) as site:
        service = CrawlService(make_settings(allow_private_networks=True), scrapy_overrides=FAST)
        items = reactor.run(service.fetch_policy_files(local(site.port, "robots.txt")))
    assert [(i.file, i.body) for i in items] == [("robots.txt", ROBOTS)]


def test_a_spider_bug_is_a_clear_crawl_error(monkeypatch):
    def broken(self, response, meta):
        raise RuntimeError("boom in the callback")

    monkeypatch.setattr(PolicyFilesSpider, "_response_item", broken)
    with FakeSite({"/robots.txt": Reply(200, ROBOTS)}) as site:
        service = CrawlService(make_settings(allow_private_networks=True), scrapy_overrides=FAST)
        with pytest.raises(CrawlError, match="boom in the callback") as info:
            reactor.run(service.fetch_policy_files(local(site.port, "robots.txt")))
    assert "robots.txt" in str(info.value) and f"127.0.0.1:{site.port}" in str(info.value)


def test_a_crawl_that_cannot_start_is_a_clear_crawl_error():
    service = CrawlService(make_settings(), scrapy_overrides={**FAST, "DOWNLOADER_MIDDLEWARES": {"no.such.Mw": 1}})
    with pytest.raises(CrawlError, match=r"soundcloud\.com"):
        reactor.run(service.fetch_policy_files(ProtectedDomain(domain="soundcloud.com")))


def test_concurrent_fetches_share_the_runner():
    with FakeSite({"/robots.txt": Reply(200, b"a")}) as a, FakeSite({"/robots.txt": Reply(404)}) as b:
        service = CrawlService(make_settings(allow_private_networks=True), scrapy_overrides=FAST)

        async def both():
            tasks = [asyncio.ensure_future(service.fetch_policy_files(local(s.port, "robots.txt"))) for s in (a, b)]
            await asyncio.sleep(0)
            running = service.active()
            return running, await asyncio.gather(*tasks)

        running, (items_a, items_b) = reactor.run(both())
    assert running == 2 and service.active() == 0
    assert (items_a[0].status, items_b[0].status, items_b[0].error_kind) == (200, 404, "http_4xx")


def test_stop_drains_in_flight_downloads_and_join_reports_it():
    with RawServer(hold=True) as silent:
        # One request at a time: ai.txt waits in the scheduler, which a stop discards.
        settings = make_settings(allow_private_networks=True, timeout_seconds=1)
        service = CrawlService(settings, scrapy_overrides={**FAST, "CONCURRENT_REQUESTS": 1})

        async def scenario():
            fetch = asyncio.ensure_future(service.fetch_policy_files(local(silent.port)))
            while silent.connections == 0:
                await asyncio.sleep(0.02)
            await service.stop()
            early = await service.join(0.2)
            active = service.active()
            finished = await service.join(5)
            with pytest.raises(CrawlError, match="stopping"):
                await service.fetch_policy_files(local(silent.port))
            with pytest.raises(CrawlError, match=r"shutdown.*ai\.txt"):
                await fetch
            return early, active, finished

        early, active, finished = reactor.run(scenario())
    # A graceful stop lets the in-flight download run out (bounded by the download timeout).
    assert (early, active, finished) == (False, 1, True)
    assert service.active() == 0 and silent.connections == 1


def test_cancelling_a_fetch_stops_its_crawl():
    with RawServer(hold=True) as silent:
        # One request at a time: ai.txt waits in the scheduler, which a stop discards.
        settings = make_settings(allow_private_networks=True, timeout_seconds=1)
        service = CrawlService(settings, scrapy_overrides={**FAST, "CONCURRENT_REQUESTS": 1})

        async def scenario():
            fetch = asyncio.ensure_future(service.fetch_policy_files(local(silent.port)))
            while silent.connections == 0:
                await asyncio.sleep(0.02)
            fetch.cancel()
            with pytest.raises(asyncio.CancelledError):
                await fetch
            return await service.join(5)

        assert reactor.run(scenario()) is True
    assert service.active() == 0
    # The in-flight robots.txt download ran out its timeout; ai.txt was never sent.
    assert silent.connections == 1


def test_join_with_nothing_running_is_immediately_true():
    service = CrawlService(make_settings())
    assert reactor.run(service.join(0)) is True and service.active() == 0


def test_a_process_that_crawled_exits_promptly():
    # Twisted's resolver threads are not daemons; without the exit hook the interpreter waits forever.
    code = (
        "import sys\n"
        "from monitor.runtime import reactor\n"
        "from monitor.settings import ProtectedDomain, load_settings\n"
        "from monitor.runtime.crawl import CrawlService\n"
        "s = load_settings(env={})\n"
        "s.http.allow_private_networks = True\n"
        "s.http.retries = 0\n"
        "d = ProtectedDomain(domain=sys.argv[1], scheme='http', files=['robots.txt'])\n"
        "items = reactor.run(CrawlService(s).fetch_policy_files(d))\n"
        "print(items[0].status)\n"
    )
    with FakeSite({"/robots.txt": Reply(200, ROBOTS)}) as site:
        result = subprocess.run(
            [sys.executable, "-c", code, f"127.0.0.1:{site.port}"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["200"]


# --- many domains in one crawl ------------------------------------------------------------------------


def bench_sites(n: int) -> dict:
    from monitor.demo.model import Site, by_host, text

    return by_host(
        Site(f"d{i:02d}.many.test", {"/robots.txt": text(f"# d{i:02d}\n"), "/ai.txt": text(f"# ai d{i:02d}\n")})
        for i in range(n)
    )


def many(n: int, *extra: str) -> list[ProtectedDomain]:
    names = [f"d{i:02d}.many.test" for i in range(n)] + list(extra)
    return [ProtectedDomain(domain=name, scheme="http", files=["robots.txt", "ai.txt"]) for name in names]


def test_fifty_domains_in_one_crawl_through_the_proxy(fake_dns):
    from monitor.demo.internet import BackgroundInternet

    with BackgroundInternet(bench_sites(50)) as net:
        service = CrawlService(make_settings(proxy=net.url), scrapy_overrides={**FAST, "CONCURRENT_REQUESTS": 32})
        crawls = []
        service._crawl = _counting(service._crawl, crawls)
        result = reactor.run(service.fetch_policy_files_many(many(50)))
        via = {r.via for r in net.internet.requests}
    assert len(crawls) == 1 and service.active() == 0 and fake_dns.lookups == []
    assert list(result) == [f"d{i:02d}.many.test" for i in range(50)] and via == {"proxy"}
    assert sum(len(items) for items in result.values()) == 100
    for name, items in result.items():
        assert [(i.domain, i.file, i.status, i.error_kind) for i in items] == [
            (name, "robots.txt", 200, None),
            (name, "ai.txt", 200, None),
        ]
        assert items[0].body == f"# {name[:3]}\n".encode() and items[1].body == f"# ai {name[:3]}\n".encode()


def test_a_dead_domain_in_a_batch_only_fails_its_own_items():
    from monitor.demo.internet import BackgroundInternet

    with BackgroundInternet(bench_sites(49)) as net:
        service = CrawlService(make_settings(proxy=net.url), scrapy_overrides=FAST)
        result = reactor.run(service.fetch_policy_files_many(many(49, "dead.many.test")))
    assert [(i.file, i.status, i.error_kind) for i in result["dead.many.test"]] == [
        ("robots.txt", 502, "http_5xx"),
        ("ai.txt", 502, "http_5xx"),
    ]
    alive = [i for d, items in result.items() if d != "dead.many.test" for i in items]
    assert len(alive) == 98 and {(i.status, i.error_kind) for i in alive} == {(200, None)}


def test_a_refused_domain_in_a_batch_is_a_connection_error_item():
    with FakeSite({"/robots.txt": Reply(200, ROBOTS), "/ai.txt": Reply(200, AI_TXT)}) as site:
        service = CrawlService(make_settings(allow_private_networks=True), scrapy_overrides=FAST)
        dead = local(closed_port())
        result = reactor.run(service.fetch_policy_files_many([local(site.port), dead]))
    assert [(i.status, i.error_kind) for i in result[f"127.0.0.1:{site.port}"]] == [(200, None), (200, None)]
    assert [i.error_kind for i in result[dead.domain]] == ["refused", "refused"]


def test_a_missing_item_in_a_batch_is_a_crawl_error_naming_it(monkeypatch):
    original = PolicyFilesSpider._response_item

    def drop_ai_txt(self, response, meta):
        item = original(self, response, meta)
        return None if item.file == "ai.txt" and item.domain.endswith(f":{port}") else item

    async def parse(self, response):
        item = self._response_item(response, response.meta)
        if item is not None:
            yield item

    monkeypatch.setattr(PolicyFilesSpider, "_response_item", drop_ai_txt)
    monkeypatch.setattr(PolicyFilesSpider, "parse", parse)
    with FakeSite({"/robots.txt": Reply(200, ROBOTS), "/ai.txt": Reply(200, AI_TXT)}) as site:
        port = site.port
        service = CrawlService(make_settings(allow_private_networks=True), scrapy_overrides=FAST)
        with pytest.raises(CrawlError, match=rf"127\.0\.0\.1:{port}/ai\.txt"):
            reactor.run(service.fetch_policy_files_many([local(port)]))


def test_cancelling_a_batch_stops_its_crawl_and_stop_refuses_new_batches():
    with RawServer(hold=True) as silent:
        settings = make_settings(allow_private_networks=True, timeout_seconds=1)
        service = CrawlService(settings, scrapy_overrides={**FAST, "CONCURRENT_REQUESTS": 1})

        async def scenario():
            fetch = asyncio.ensure_future(service.fetch_policy_files_many([local(silent.port)]))
            while silent.connections == 0:
                await asyncio.sleep(0.02)
            fetch.cancel()
            with pytest.raises(asyncio.CancelledError):
                await fetch
            finished = await service.join(5)
            await service.stop()
            with pytest.raises(CrawlError, match="stopping"):
                await service.fetch_policy_files_many([local(silent.port)])
            return finished

        assert reactor.run(scenario()) is True
    assert service.active() == 0 and silent.connections == 1


def _counting(crawl, calls: list):
    def wrapper(*args, **kwargs):
        calls.append(args)
        return crawl(*args, **kwargs)

    return wrapper
