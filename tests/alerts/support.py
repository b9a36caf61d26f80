"""Helpers for alert tests: settings with alert channels, findings committed through the real incident
machinery, a clock that moves when told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.incidents import Evaluation, Finding
from monitor.settings import AlertChannel, AlertSettings, load_settings
from monitor.store.core import Store, utcnow


class Clock:
    """A clock that moves only when told to (backoff and mutes without sleeping)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def alert_settings(tmp_path, channels: list[dict] | None = None, **alerts):
    """Built-in settings with these alert channels and alert settings."""
    s = load_settings(env={})
    s.storage.data_dir = tmp_path / "data"
    s.alerts = AlertSettings(channels=[AlertChannel(**c) for c in channels or []], **alerts)
    return s


def finding(n: int, domain: str = "downloader.example", kind: str = "exposed_audio", severity: str = "high",
            **data) -> Finding:  # fmt: skip
    return Finding(f"{kind}:{domain}:{n}", kind, severity, domain, f"Finding {n} on {domain}", f"detail {n}", data)


def write_findings(store: Store, findings: list[Finding], cleared: list[str] | None = None, scope: str = "test"):
    """Commit findings exactly as a probe does: incident changes and their outbox rows in one transaction."""
    with store._tx():
        transitions, ids = store._apply_evaluation(Evaluation(scope, findings, cleared or []), utcnow())
    return transitions, ids


def rows(store: Store, sql: str, args=()) -> list[dict]:
    return list(store.db.query(sql, list(args)))
