"""check_host, the one egress host check of the spiders and the browser: every spelling of a private target."""

from __future__ import annotations

import ipaddress

import pytest
from helpers.http_servers import FakeSite, Reply
from helpers.spider_run import one

from monitor.net import check_address, check_host, is_forbidden_address

REFUSED = [
    "localhost",
    "localhost.",
    "LOCALHOST..",
    "x.localhost",
    "x.localhost.",
    "ip6-localhost",
    "localhost.localdomain.",
    "127.0.0.1",
    "127.0.0.1.",
    "127.1",
    "2130706433",
    "0x7f.1",
    "%31%32%37.0.0.1",  # percent-encoded: Chromium and many proxies decode it
    "%2531%2532%2537.0.0.1",  # encoded twice
    "%6c%6f%63%61%6c%68%6f%73%74",  # "localhost"
    "%ff",  # not UTF-8 once decoded
    "10.0.0.1",
    "169.254.169.254",
    "[::1]",
    "::1",
    "[fe80::1%25eth0]",
    "fc00::1",
    "fd00:ec2::254",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "[::ffff:a9fe:a9fe]",
    "::127.0.0.1",  # IPv4-compatible
    "[::a00:1]",
    "64:ff9b::a9fe:a9fe",  # NAT64 well-known prefix carrying 169.254.169.254
    "64:ff9b::7f00:1",
    "64:ff9b:1::1",  # NAT64 local-use prefix
    "2002:a9fe:a9fe::1",  # 6to4 carrying 169.254.169.254
    "2002:7f00:1::1",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo, client 192.0.2.45
    "",
    "a b",
]

ALLOWED = [
    "example.com",
    "example.com.",
    "soundcloud.com",
    "localhost.example.com",  # only the localhost TLD is local
    "mylocalhost",
    "93.184.216.34",
    "8.8.8.8",
    "2606:4700::1111",
    "[2a00:1450:4001:82b::200e]",
    "64:ff9b::808:808",  # NAT64 of a public address
    "2002:808:808::1",  # 6to4 of a public address
    "::ffff:8.8.8.8",
    "%65xample.com",
]


@pytest.mark.parametrize("host", REFUSED)
def test_private_hosts_are_refused(host):
    assert check_host(host), host


@pytest.mark.parametrize("host", ALLOWED)
def test_public_hosts_pass(host):
    assert check_host(host) is None


@pytest.mark.parametrize(
    ("address", "words"),
    [("64:ff9b::a9fe:a9fe", "169.254.169.254"), ("::127.0.0.1", "127.0.0.1"), ("169.254.169.254", "metadata")],
)
def test_reasons_name_the_carried_address(address, words):
    assert words in (check_address(ipaddress.ip_address(address)) or "")


def test_resolved_ipv6_wrappers_are_forbidden():
    # EgressGuardMiddleware checks resolved addresses with the same rule: a name may resolve to a NAT64 address.
    assert is_forbidden_address(ipaddress.ip_address("64:ff9b::7f00:1"))
    assert not is_forbidden_address(ipaddress.ip_address("64:ff9b::808:808"))


@pytest.mark.parametrize(
    "url",
    ["http://localhost./robots.txt", "http://x.localhost./robots.txt", "http://%31%32%37.0.0.1/robots.txt",
     "http://[64:ff9b::a9fe:a9fe]/robots.txt", "http://[::127.0.0.1]/robots.txt", "http://[2002:a9fe:a9fe::1]/"],
)  # fmt: skip
def test_spider_refuses_them_even_through_a_proxy(url, fake_dns):
    with FakeSite({}) as proxy:
        item = one(url, SCRAPEWATCH_PROXY=proxy.url())
    assert item.error_kind == "egress_refused" and proxy.requests == [] and fake_dns.lookups == []


def test_spider_fetches_a_public_name_through_the_proxy(fake_dns):
    with FakeSite({"http://example.com/robots.txt": Reply(200, b"User-agent: *\n")}) as proxy:
        item = one("http://example.com/robots.txt", SCRAPEWATCH_PROXY=proxy.url())
    assert (item.status, item.error_kind) == (200, None) and len(proxy.requests) == 1
