"""Fixtures for alert tests (helpers live in tests/alerts/support.py)."""

from __future__ import annotations

import pytest

from tests.alerts.support import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()
