"""Host intel fixtures: the simulated DNS server and a fake internet carrying the simulated RDAP and bad registries."""

from __future__ import annotations

import pytest

from monitor.demo.dns_server import DnsServer
from monitor.demo.intel_sites import RDAP_HOST, demo_registry, demo_zone
from monitor.demo.internet import BackgroundInternet
from monitor.demo.model import STALL, Response, Site, by_host, filler, html, redirect, text
from monitor.demo.rdap_server import rdap_site, write_bootstrap
from monitor.demo.sites import demo_sites

TEN_MB = 10 * 1024 * 1024
RDAP_JSON = "application/rdap+json"


def _to_itself(request):
    return redirect(f"http://{request.host}{request.target}", status=302)


def _onwards(request):
    hop = request.path.rsplit("/", 1)[-1]
    return redirect(f"http://{request.host}/hop/{int(hop) + 1 if hop.isdigit() else 1}", status=302)


# Registries that misbehave, one host each: each test points the bootstrap's "example" TLD at one of them.
BAD_REGISTRIES = {
    "stall.rdap.test": STALL,
    "html.rdap.test": html("<html><body><h1>Welcome to our registry</h1></body></html>"),
    "missing.rdap.test": text('{"errorCode": 404}', 404, content_type=RDAP_JSON),
    "loop.rdap.test": _to_itself,
    "chain.rdap.test": _onwards,
    "huge.rdap.test": Response(content_type=RDAP_JSON, stream=filler(TEN_MB, b'{"a": "' + b"x" * 4089), length=TEN_MB),
    "garbage.rdap.test": text("{not json", content_type=RDAP_JSON),
}


@pytest.fixture
def registry():
    return demo_registry()


@pytest.fixture
def internet(registry):
    sites = demo_sites()
    sites.update(by_host([rdap_site(RDAP_HOST, registry)]))
    sites.update(by_host([Site(host=h, fallback=r) for h, r in BAD_REGISTRIES.items()]))
    with BackgroundInternet(sites) as net:
        yield net


@pytest.fixture
def zone_server():
    with DnsServer(demo_zone(), silent=frozenset({"silent.example"})) as server:
        yield server


@pytest.fixture
def intel_settings(settings, internet, zone_server, tmp_path):
    """Settings routed through the fake internet (proxy), the simulated DNS and RDAP, no pause between requests."""
    settings.http.proxy = internet.url
    settings.intel.enabled = True
    settings.intel.nameservers = [zone_server.nameserver]
    settings.intel.rdap_bootstrap = str(bootstrap_for(tmp_path / "bootstrap", RDAP_HOST))
    settings.intel.rdap_delay_seconds = 0
    settings.intel.dns_timeout_seconds = 2
    settings.intel.rdap_timeout_seconds = 5
    return settings


def bootstrap_for(directory, host: str):
    prefixes = [n.cidr for n in demo_registry().networks]
    return write_bootstrap(directory, f"http://{host}/", ["example"], prefixes)
