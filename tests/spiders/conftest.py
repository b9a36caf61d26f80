"""Fixtures for spider tests: no test may reach a real resolver."""

from __future__ import annotations

import pytest
from helpers.http_servers import FakeDns


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch) -> FakeDns:
    """Every lookup is recorded and answered locally; tests add names to ``fake_dns.table``."""
    return FakeDns().install(monkeypatch)
