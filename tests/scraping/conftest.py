"""Fixtures for the scraping probes: the demo internet with bad-weather sites, and no real resolver."""

from __future__ import annotations

import pytest
from helpers.http_servers import FakeDns
from scraping_fakes import HITS, internet


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch) -> FakeDns:
    """Every lookup is answered locally: the probes go through the fake internet's proxy or nowhere."""
    return FakeDns().install(monkeypatch)


@pytest.fixture(scope="module")
def net():
    with internet() as running:
        yield running


@pytest.fixture(autouse=True)
def fresh(request):
    """Stateful fakes start over, and the shared internet is back in phase 0 with an empty request log."""
    HITS.clear()
    if "net" in request.fixturenames:
        running = request.getfixturevalue("net")
        running.internet.set_phase(0)
        running.internet.clear_requests()
