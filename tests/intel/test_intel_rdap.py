"""RDAP through the proxy: the simulated registry's facts, and registries that stall, answer HTML, 404, loop
through redirects, send 10 MB or garbage — each a recorded reason, in bounded time and memory."""

from __future__ import annotations

import asyncio
import json
import time
import tracemalloc

import pytest

from monitor.intel.fetch import Fetcher, FetchError
from monitor.intel.lookup import IntelLookup
from monitor.intel.rdap import RdapClient, load_bootstrap
from tests.helpers.http_servers import FakeSite, RawServer, Reply
from tests.intel.conftest import TEN_MB, bootstrap_for


def client(settings, host, tmp_path, **bounds):
    fetcher = Fetcher(settings.http.proxy_for, "scrapewatch-test", **bounds)
    bootstrap = asyncio.run(load_bootstrap(str(bootstrap_for(tmp_path / host, host)), fetcher, 1 << 20))
    return RdapClient(bootstrap, fetcher, delay=0)


def test_the_simulated_registry_describes_the_downloader(intel_settings):
    facts = asyncio.run(IntelLookup(intel_settings).lookup("sc2mp3-fast.example", "t"))
    registration = facts["registration"]
    assert registration["registrar"] == "Offshore Names Ltd."
    assert registration["registrar_abuse_email"] == "abuse@offshore-names.example"
    assert registration["registrar_abuse_phone"] == "+1.5555550100"
    assert registration["created"].startswith("2024-02-11")
    network = facts["networks"][0]
    assert network["ip"] == "203.0.113.10" and network["hosting_provider"] == "ShadyHost Ltd."
    assert network["abuse_email"] == "abuse@shadyhost.example" and network["asn"] == 64500
    assert network["country"] == "PA" and network["handle"] == "NET-203-0-113-0-1"
    cert = facts["certificate"]
    assert "sc2mp3-fast.example" in cert["sans"] and len(cert["sha256"]) == 64 and facts["certificate_error"] is None


def test_another_network_and_an_unknown_address(intel_settings, tmp_path):
    rdap = client(intel_settings, "rdap.nic.example", tmp_path)
    assert asyncio.run(rdap.network("198.51.100.30"))["hosting_provider"] == "CheapVPS B.V."
    unknown = asyncio.run(rdap.network("192.0.2.77"))  # no bootstrap entry: no guessed registry is asked
    assert unknown["error"].startswith("other: no RDAP service")


@pytest.mark.parametrize(
    ("host", "kind", "words"),
    [
        ("html.rdap.test", "other", "text/html, not RDAP JSON"),
        ("missing.rdap.test", "http_4xx", "HTTP 404"),
        ("loop.rdap.test", "redirect_loop", "redirect loop"),
        ("huge.rdap.test", "too_large", "declares 10485760 bytes"),
        ("garbage.rdap.test", "other", "not JSON"),
    ],
)
def test_a_bad_registry_is_a_recorded_reason(intel_settings, tmp_path, host, kind, words):
    facts = asyncio.run(client(intel_settings, host, tmp_path).domain("sc2mp3-fast.example"))
    assert facts["error"].startswith(f"{kind}:") and words in facts["error"], facts["error"]
    assert facts["registrar"] is None


def test_a_stalled_registry_times_out(intel_settings, tmp_path):
    rdap = client(intel_settings, "stall.rdap.test", tmp_path, timeout=1.0)
    started = time.monotonic()
    facts = asyncio.run(rdap.domain("sc2mp3-fast.example"))
    assert facts["error"].startswith("timeout:")
    assert time.monotonic() - started < 30  # bounded by the deadline, with room for a loaded machine


def test_ten_megabytes_without_a_length_are_never_held(tmp_path):
    # HTTP/1.0 with no Content-Length: nothing to refuse up front, the stream itself is cut at the cap.
    head = b"HTTP/1.0 200 OK\r\nContent-Type: application/rdap+json\r\n\r\n"
    with RawServer(head + b'{"a": "' + b"x" * TEN_MB) as server:
        fetcher = Fetcher(lambda url: None, "t", max_bytes=256 * 1024, allow_private=True)
        tracemalloc.start()
        try:
            with pytest.raises(FetchError) as caught:
                asyncio.run(fetcher.get_json(server.url("/domain/x.example")))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert caught.value.kind == "too_large" and "more than 262144 bytes" in caught.value.detail
    assert peak < 4 * 1024 * 1024, peak


def test_redirects_are_limited(intel_settings, tmp_path):
    fetcher = Fetcher(intel_settings.http.proxy_for, "t", max_redirects=3)
    with pytest.raises(FetchError) as caught:
        asyncio.run(fetcher.get_json("http://chain.rdap.test/domain/x.example"))
    assert caught.value.kind == "redirect_loop" and "more than 3 redirects" in caught.value.detail


def test_a_direct_registry_on_loopback_needs_the_egress_allowance(settings, tmp_path):
    card = ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Direct Registrar"]]]
    registrar = {"objectClassName": "entity", "handle": "R1", "roles": ["registrar"], "vcardArray": card}
    doc = {"objectClassName": "domain", "handle": "D1", "ldhName": "direct.example", "entities": [registrar]}
    reply = Reply(200, json.dumps(doc).encode(), {"Content-Type": "application/rdap+json"})
    routes = {"/domain/direct.example": reply}
    with FakeSite(routes) as site:
        bootstrap = str(bootstrap_for(tmp_path / "direct", f"127.0.0.1:{site.port}"))
        for allow, expected in ((False, None), (True, "Direct Registrar")):
            fetcher = Fetcher(lambda url: None, "t", allow_private=allow)
            boot = asyncio.run(load_bootstrap(bootstrap, fetcher, 1 << 20))
            facts = asyncio.run(RdapClient(boot, fetcher, 0).domain("direct.example"))
            assert facts["registrar"] == expected
            if not allow:
                assert facts["error"].startswith("egress_refused:") and "loopback" in facts["error"]
        assert len(site.requests) == 1  # the refused request never left


def test_a_missing_bootstrap_is_a_clear_error(settings, tmp_path):
    settings.intel.rdap_bootstrap = str(tmp_path / "nowhere")
    settings.intel.tls = False
    facts = asyncio.run(IntelLookup(settings).lookup("x.example", "t"))
    assert "bootstrap" in facts["registration"]["error"] and "nowhere" in facts["registration"]["error"]
