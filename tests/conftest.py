"""Shared fixtures: a real SQLite database in a temporary directory, settings pointing at it."""

from __future__ import annotations

import pytest

from monitor.db import open_db
from monitor.settings import load_settings
from monitor.store.core import Store


@pytest.fixture
def settings(tmp_path):
    """Built-in defaults with storage in tmp_path and the HTTP server on a free port; no env, no file."""
    s = load_settings(env={})
    s.storage.data_dir = tmp_path / "data"
    s.http.listen = "127.0.0.1:0"
    return s


@pytest.fixture
def store(tmp_path):
    st = Store(open_db(tmp_path / "t.db"))
    yield st
    st.db.close()
