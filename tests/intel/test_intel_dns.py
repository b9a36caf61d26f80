"""DNS facts from the simulated authoritative server: answers, private answers refused, NXDOMAIN, timeouts."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from monitor.demo.dns_server import DnsServer
from monitor.intel.dns import lookup_dns, refusal
from monitor.settings.intel import IntelSettings, parse_nameserver

ZONE = {
    "public.example": {
        "A": ["203.0.113.7"],
        "NS": ["ns1.host.example"],
        "MX": [(20, "b.mx.example"), (10, "a.mx.example")],
    },
    "www.public.example": {"CNAME": "public.example"},
    "inside.example": {"A": ["10.0.0.5", "127.0.0.1", "169.254.169.254", "198.51.100.9"], "AAAA": ["::1", "fe80::1"]},
}


@pytest.fixture(scope="module")
def server():
    with DnsServer(ZONE, silent=frozenset({"silent.example"})) as running:
        yield running


def look(server, name, allow_private=False, timeout=3.0):
    return asyncio.run(lookup_dns(name, [("127.0.0.1", server.port)], timeout, allow_private))


def test_answers_of_every_type(server):
    facts = look(server, "public.example")
    assert facts["a"] == ["203.0.113.7"] and facts["aaaa"] == []
    assert facts["ns"] == ["ns1.host.example"]
    assert facts["mx"] == ["a.mx.example", "b.mx.example"]  # by preference
    assert facts["error"] is None and facts["refused"] == []


def test_a_cname_is_followed_and_recorded(server):
    facts = look(server, "www.public.example")
    assert facts["cname"] == ["public.example"] and facts["a"] == ["203.0.113.7"]


def test_private_answers_are_refused_and_recorded(server):
    facts = look(server, "inside.example")
    assert facts["a"] == ["198.51.100.9"]  # a documentation address is kept
    assert facts["aaaa"] == []
    refused = {r["address"]: r["reason"] for r in facts["refused"]}
    assert set(refused) == {"10.0.0.5", "127.0.0.1", "169.254.169.254", "::1", "fe80::1"}
    assert "loopback" in refused["127.0.0.1"] and "metadata" in refused["169.254.169.254"]


def test_the_egress_allowance_lets_private_answers_through(server):
    facts = look(server, "inside.example", allow_private=True)
    assert facts["a"] == ["10.0.0.5", "127.0.0.1", "169.254.169.254", "198.51.100.9"]
    assert facts["refused"] == []


def test_nxdomain_is_an_answer(server):
    facts = look(server, "gone.example")
    assert facts["error"].startswith("nxdomain:") and facts["a"] == []


def test_a_resolver_that_never_answers_times_out(server):
    facts = look(server, "silent.example", timeout=1.0)
    assert facts["error"].startswith("timeout:")


@pytest.mark.parametrize(
    ("address", "refused"),
    [("192.0.2.1", False), ("2001:db8::5", False), ("8.8.8.8", False), ("10.1.2.3", True), ("::ffff:127.0.0.1", True)],
)
def test_refusal(address, refused):
    assert (refusal(ipaddress.ip_address(address), allow_private=False) is not None) is refused
    assert refusal(ipaddress.ip_address(address), allow_private=True) is None


def test_nameserver_setting():
    assert parse_nameserver("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert parse_nameserver("[::1]:53") == ("::1", 53)
    assert parse_nameserver("2001:db8::1") == ("2001:db8::1", 53)
    assert IntelSettings(nameservers=["9.9.9.9"]).resolvers == [("9.9.9.9", 53)]
    for bad in ("dns.example", "127.0.0.1:0", "1.2.3.4:x"):
        with pytest.raises(ValueError):
            IntelSettings(nameservers=[bad])
