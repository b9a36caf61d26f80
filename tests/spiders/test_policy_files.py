"""PolicyFilesSpider and its middlewares against loopback servers: one bounded item per file, always."""

from __future__ import annotations

import ipaddress
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.http_servers import FakeSite, RawServer, Reply, closed_port, redirect
from helpers.spider_run import one, run_spider

from monitor.errors import ErrorKind
from monitor.net import is_forbidden_address, literal_ip
from spiders.spiders.policy_files import PolicyFilesSpider, parse_targets

REPO = Path(__file__).resolve().parents[2]
PRIVATE_OK = {"SCRAPEWATCH_ALLOW_PRIVATE_NETWORKS": True}
KINDS = {kind.value for kind in ErrorKind}
ROBOTS = b"User-agent: *\nDisallow: /you/likes\n"


def test_200_records_body_headers_and_timing():
    routes = {"/robots.txt": Reply(200, ROBOTS, {"Content-Type": "text/plain", "X-Robots-Tag": "noai, noimageai"})}
    with FakeSite(routes) as site:
        item = one(site.url("/robots.txt"), **PRIVATE_OK)
    assert (item.status, item.error_kind, item.error_detail) == (200, None, None)
    assert item.body == ROBOTS and item.size == len(ROBOTS) and not item.truncated
    assert item.headers["x-robots-tag"] == "noai, noimageai"
    assert item.headers["content-type"] == "text/plain"
    assert all(name == name.lower() for name in item.headers)
    assert item.final_url == item.url == site.url("/robots.txt") and item.redirects == []
    assert 0 < item.duration_seconds < 5
    assert item.fetched_at.endswith("+00:00")
    sent = site.requests[0].headers
    assert sent["User-Agent"].startswith("scrapewatch/") and sent["Accept-Encoding"] == "identity"


def test_repeated_headers_keep_every_value_in_order():
    reply = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Robots-Tag: noai\r\n"
        b"X-Robots-Tag: GPTBot: noindex\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    )
    with RawServer(reply) as server:
        item = one(server.url("/forss/flickermood"), **PRIVATE_OK)
    assert item.status == 200
    assert item.header_values["x-robots-tag"] == ["noai", "GPTBot: noindex"]
    assert item.headers["x-robots-tag"] == "noai"  # the first value, as before


@pytest.mark.parametrize(("status", "kind"), [(404, "http_4xx"), (410, "http_4xx"), (503, "http_5xx")])
def test_http_error_statuses_reach_the_callback(status, kind):
    with FakeSite({"/ai.txt": Reply(status, b"nope")}) as site:
        item = one(site.url("/ai.txt"), **PRIVATE_OK)
    assert (item.status, item.error_kind, item.body) == (status, kind, b"nope")
    assert len(site.requests) == 1


def test_retry_times_applies_to_5xx():
    with FakeSite({"/robots.txt": Reply(503)}) as site:
        item = one(site.url("/robots.txt"), RETRY_TIMES=1, **PRIVATE_OK)
    assert item.status == 503 and len(site.requests) == 2


def test_connection_refused():
    item = one(f"http://127.0.0.1:{closed_port()}/robots.txt", **PRIVATE_OK)
    assert (item.status, item.error_kind) == (None, "refused")
    assert item.error_detail and len(item.error_detail) <= 200


def test_timeout():
    with RawServer(hold=True) as silent:
        item = one(silent.url("/robots.txt"), DOWNLOAD_TIMEOUT=1, **PRIVATE_OK)
    assert (item.status, item.error_kind) == (None, "timeout")
    assert silent.connections == 1
    assert 0.9 < item.duration_seconds < 4


@pytest.mark.parametrize("allow_private", [False, True], ids=["guard-resolves", "twisted-resolves"])
def test_dns_failure(allow_private, fake_dns):
    item = one("http://nonexistent.invalid/robots.txt", SCRAPEWATCH_ALLOW_PRIVATE_NETWORKS=allow_private)
    assert (item.status, item.error_kind) == (None, "dns")
    assert "nonexistent.invalid" in fake_dns.lookups


def test_tls_error():
    with RawServer(b"this is not TLS\r\n" * 20, send_first=True) as plain:
        item = one(plain.url("/robots.txt", scheme="https"), **PRIVATE_OK)
    assert (item.status, item.error_kind) == (None, "tls")


def test_body_over_the_cap_is_cut_at_exactly_the_cap():
    cap = 4096
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 10000000000\r\n\r\n"
    with RawServer(head + b"x" * 200_000) as liar:
        item = one(liar.url("/robots.txt"), SCRAPEWATCH_MAX_RESPONSE_BYTES=cap, **PRIVATE_OK)
    assert (item.status, item.error_kind) == (200, None)
    assert item.truncated and len(item.body) == cap and item.body == b"x" * cap
    assert cap < item.size <= 200_000
    assert item.headers["content-length"] == "10000000000"


def test_body_of_exactly_the_cap_is_not_truncated():
    with FakeSite({"/robots.txt": Reply(200, b"y" * 2048)}) as site:
        item = one(site.url("/robots.txt"), SCRAPEWATCH_MAX_RESPONSE_BYTES=2048, **PRIVATE_OK)
    assert not item.truncated and item.size == 2048 and item.body == b"y" * 2048


def _chain(site: FakeSite, hops: int) -> None:
    for i in range(hops):
        site.routes[f"/r{i}"] = redirect(f"/r{i + 1}", 301 if i % 2 else 302)
    site.routes[f"/r{hops}"] = Reply(200, b"end")


def test_three_redirects_are_followed_and_recorded():
    with FakeSite() as site:
        _chain(site, 3)
        item = one(site.url("/r0"), **PRIVATE_OK)
    assert (item.status, item.body, item.error_kind) == (200, b"end", None)
    assert item.url == site.url("/r0") and item.final_url == site.url("/r3")
    assert item.redirects == [site.url("/r0"), site.url("/r1"), site.url("/r2")]


def test_six_redirects_are_a_redirect_loop():
    with FakeSite() as site:
        _chain(site, 6)
        item = one(site.url("/r0"), **PRIVATE_OK)
    assert (item.status, item.error_kind) == (None, "redirect_loop")
    assert len(site.requests) == 6 and "/r6" not in [r.path for r in site.requests]
    assert item.redirects == [site.url(f"/r{i}") for i in range(6)]


def test_redirect_to_itself_is_a_redirect_loop():
    with FakeSite({"/loop": redirect("/loop")}) as site:
        item = one(site.url("/loop"), **PRIVATE_OK)
    assert item.error_kind == "redirect_loop" and len(site.requests) == 6


def test_loopback_literal_is_refused_before_any_connection():
    with FakeSite({"/robots.txt": Reply(200, ROBOTS)}) as site:
        item = one(site.url("/robots.txt"))
    assert (item.status, item.error_kind) == (None, "egress_refused")
    assert site.requests == []


def test_metadata_address_is_refused_even_through_a_proxy():
    with FakeSite({"http://169.254.169.254/latest/meta-data/": Reply(200, b"secret")}) as proxy:
        item = one("http://169.254.169.254/latest/meta-data/", SCRAPEWATCH_PROXY=proxy.url())
    assert item.error_kind == "egress_refused" and proxy.requests == []


@pytest.mark.parametrize(
    "url",
    ["http://2130706433/robots.txt", "http://0x7f.1/robots.txt", "http://[::ffff:127.0.0.1]/", "http://localhost/"],
)
def test_disguised_loopback_is_refused_through_a_proxy(url):
    with FakeSite() as proxy:
        item = one(url, SCRAPEWATCH_PROXY=proxy.url())
    assert item.error_kind == "egress_refused" and proxy.requests == []


def test_name_resolving_to_a_private_address_is_refused(fake_dns):
    fake_dns.table["intranet.example"] = "127.0.0.1"
    with FakeSite({"/robots.txt": Reply(200, ROBOTS)}) as site:
        item = one(f"http://intranet.example:{site.port}/robots.txt")
    assert item.error_kind == "egress_refused" and "127.0.0.1" in item.error_detail
    assert fake_dns.lookups == ["intranet.example"] and site.requests == []


@pytest.mark.parametrize(
    ("address", "forbidden"),
    [
        *((a, True) for a in ("10.0.0.1", "172.16.0.1", "192.168.1.1", "100.64.0.1", "169.254.169.254")),
        *((a, True) for a in ("0.0.0.0", "240.0.0.1", "224.0.0.1", "::1", "fe80::1", "fc00::1", "::ffff:10.0.0.1")),
        ("93.184.216.34", False),
        ("2606:4700::1", False),
    ],
)
def test_forbidden_address_ranges(address, forbidden):
    assert is_forbidden_address(ipaddress.ip_address(address)) is forbidden


def test_redirect_to_a_private_address_is_refused(fake_dns):
    # The first hop is public (through the proxy); the redirect target must be judged again.
    routes = {"http://public.example/robots.txt": redirect("http://169.254.169.254/")}
    with FakeSite(routes) as proxy:
        item = one("http://public.example/robots.txt", SCRAPEWATCH_PROXY=proxy.url())
    assert item.error_kind == "egress_refused" and len(proxy.requests) == 1
    assert fake_dns.lookups == []


def test_non_network_scheme_is_refused():
    item = one("file:///etc/passwd", **PRIVATE_OK)
    assert item.error_kind == "egress_refused" and item.body == b""


def test_host_name_goes_through_the_proxy_without_dns(fake_dns):
    routes = {"http://soundcloud.com/robots.txt": Reply(200, ROBOTS, {"Content-Type": "text/plain"})}
    with FakeSite(routes) as proxy:
        item = one("http://soundcloud.com/robots.txt", SCRAPEWATCH_PROXY=proxy.url())
    assert [r.requestline for r in proxy.requests] == ["GET http://soundcloud.com/robots.txt HTTP/1.1"]
    assert (item.status, item.body, item.final_url) == (200, ROBOTS, "http://soundcloud.com/robots.txt")
    assert fake_dns.lookups == []


def test_no_proxy_host_is_fetched_directly(fake_dns):
    fake_dns.table["direct.test"] = "127.0.0.1"
    with FakeSite() as proxy, FakeSite({"/robots.txt": Reply(200, b"direct")}) as site:
        item = one(
            f"http://direct.test:{site.port}/robots.txt",
            SCRAPEWATCH_PROXY=proxy.url(),
            SCRAPEWATCH_NO_PROXY=["test"],
            **PRIVATE_OK,
        )
    assert item.body == b"direct" and proxy.requests == []
    assert site.requests[0].headers["Host"] == f"direct.test:{site.port}"


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"z" * 100,  # closes mid-body
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabc",  # broken chunking
        b"HTTP/1.1 twohundred OK\r\n\r\n",  # malformed status line
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\x00\x01: \xff\r\nContent-Length: 2\r\n\r\nok",  # odd headers
        b"\x00\x01\x02garbage",  # not HTTP at all
        b"",  # closes without a byte
    ],
    ids=["mid-body", "chunked", "status-line", "headers", "garbage", "empty"],
)
def test_hostile_server_yields_a_bounded_item(reply):
    with RawServer(reply) as hostile:
        item = one(hostile.url("/robots.txt"), **PRIVATE_OK)
    assert hostile.connections >= 1
    if item.status is None:
        assert item.error_kind in KINDS - {"http_4xx", "http_5xx", "other"}, item
    else:
        assert item.error_kind is None and len(item.body) <= 2


def test_two_files_two_items_and_invalid_urls_still_count():
    with FakeSite({"/robots.txt": Reply(200, ROBOTS), "/ai.txt": Reply(404)}) as site:
        items = run_spider(
            [
                {"domain": "a.test", "files": {"robots.txt": site.url("/robots.txt"), "ai.txt": site.url("/ai.txt")}},
                {"domain": "b.test", "files": {"robots.txt": "not a url"}},
            ],
            **PRIVATE_OK,
        )
    got = {(i.domain, i.file): (i.status, i.error_kind) for i in items}
    assert got == {
        ("a.test", "robots.txt"): (200, None),
        ("a.test", "ai.txt"): (404, "http_4xx"),
        ("b.test", "robots.txt"): (None, "other"),
    }


def test_targets_accept_json_text_and_reject_bad_shapes():
    text = '[{"domain": "soundcloud.com", "files": {"robots.txt": "https://soundcloud.com/robots.txt"}}]'
    assert PolicyFilesSpider(targets=text).targets[0]["domain"] == "soundcloud.com"
    for bad in ("{", '{"domain": "x"}', [{"domain": "x", "files": ["robots.txt"]}], [{"files": {}}]):
        with pytest.raises(ValueError, match="target"):
            parse_targets(bad)


@pytest.mark.parametrize(
    ("host", "expected"),
    [("127.0.0.1", "127.0.0.1"), ("2130706433", "127.0.0.1"), ("0x7f.1", "127.0.0.1"), ("soundcloud.com", None)],
)
def test_literal_ip_understands_legacy_ipv4_spellings(host, expected):
    ip = literal_ip(host)
    assert (str(ip) if ip else None) == expected


def test_scrapy_list_shows_the_spider():
    result = subprocess.run(
        [sys.executable, "-m", "scrapy", "list"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "policy_files" in result.stdout.split()
