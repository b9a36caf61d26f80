"""Pure alert logic: channel filters, mutes, probe-health evaluation, backoff, durations."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from monitor.alerts.router import Facts, Mute, channel_filter, decide, domain_matches
from monitor.alerts.sender import backoff_seconds
from monitor.cli.alerts import parse_duration, parse_time
from monitor.evaluators import health
from monitor.settings import AlertChannel

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
HOOK = "json://127.0.0.1:9/hook"


@pytest.mark.parametrize(
    ("channel", "facts", "reason"),
    [
        ({}, Facts("policy_breach", "high", "soundcloud.com", "opened"), None),
        ({}, Facts("policy_lint", "info", "soundcloud.com", "opened"), "severity info below low"),
        ({"min_severity": "high"}, Facts("policy_lint", "medium", "x.com", "opened"), "severity medium below high"),
        ({"min_severity": "high"}, Facts("k", "critical", "x.com", "escalated"), None),
        ({"kinds": ["policy_breach"]}, Facts("policy_lint", "high", "x.com", "opened"), "kind policy_lint not in"),
        ({"kinds": ["policy_breach"]}, Facts("policy_breach", "high", "x.com", "opened"), None),
        ({"domains": ["soundcloud.com"]}, Facts("k", "high", "m.soundcloud.com", "opened"), None),
        ({"domains": ["soundcloud.com"]}, Facts("k", "high", "notsoundcloud.com", "opened"), "domain notsoundcloud"),
        ({"send_resolved": False}, Facts("k", "high", "x.com", "resolved"), "resolutions are not sent"),
        ({"send_resolved": False}, Facts("k", "high", "x.com", "reopened"), None),
        ({"send_resolved": False}, Facts("probe_health", "medium", "x.com", "resolved"), None),  # recoveries always
        ({"min_severity": "critical"}, Facts("digest", "info", "", "digest"), None),
    ],
)  # fmt: skip
def test_channel_filter(channel, facts, reason):
    got = channel_filter(AlertChannel(name="c", url=HOOK, **channel), facts)
    assert (got is None) if reason is None else (got is not None and got.startswith(reason))


def test_the_log_channel_takes_everything():
    assert channel_filter(None, Facts("k", "info", "x.com", "resolved")) is None


@pytest.mark.parametrize(
    ("pattern", "domain", "matches"),
    [("soundcloud.com", "soundcloud.com", True), ("soundcloud.com", "m.soundcloud.com", True),
     ("SoundCloud.com.", "api-v2.soundcloud.com", True), ("soundcloud.com", "evilsoundcloud.com", False),
     ("m.soundcloud.com", "soundcloud.com", False)],
)  # fmt: skip
def test_domain_matches(pattern, domain, matches):
    assert domain_matches(pattern, domain) is matches


def test_mutes_hold_by_domain_kind_and_time():
    until = NOW + timedelta(hours=1)
    by_domain = Mute("downloader.example", None, until, "takedown in progress", id=3)
    by_both = Mute("soundcloud.com", "policy_lint", until)
    alert = Facts("exposed_audio", "high", "cdn.downloader.example", "opened")
    assert by_domain.holds(alert, NOW) and not by_domain.holds(alert, until)
    assert by_both.holds(Facts("policy_lint", "low", "m.soundcloud.com", "opened"), NOW)
    assert not by_both.holds(Facts("policy_breach", "high", "m.soundcloud.com", "opened"), NOW)
    status, detail = decide(None, alert, [by_both, by_domain], NOW)
    assert status == "muted" and detail.startswith("mute #3 (domain=downloader.example)")
    assert "takedown in progress" in detail
    assert decide(None, alert, [by_domain], until + timedelta(seconds=1)) == ("pending", None)


def test_a_filtered_alert_is_not_counted_as_muted():
    channel = AlertChannel(name="c", url=HOOK, min_severity="critical")
    mute = Mute("x.com", None, NOW + timedelta(hours=1))
    assert decide(channel, Facts("k", "high", "x.com", "opened"), [mute], NOW)[0] == "filtered"


@pytest.mark.parametrize(
    ("latest", "failures", "threshold", "expected"),
    [(None, 0, 3, "nothing"), ("failure", 2, 3, "nothing"), ("failure", 3, 3, "finding"),
     ("failure", 7, 3, "finding"), ("success", 0, 3, "cleared"), ("failure", 1, 1, "finding")],
)  # fmt: skip
def test_probe_health_evaluator(latest, failures, threshold, expected):
    streak = health.RunStreak("policy_snapshot:m.soundcloud.com", "m.soundcloud.com", latest, failures,
                              ("http_5xx",) * failures)  # fmt: skip
    ev = health.evaluate(streak, threshold)
    got = "finding" if ev.findings else "cleared" if ev.cleared else "nothing"
    assert got == expected
    if ev.findings:
        (f,) = ev.findings
        assert f.kind == "probe_health" and f.domain == "m.soundcloud.com"
        assert f.dedupe_key == "probe_health:policy_snapshot:m.soundcloud.com"
        assert f"failed {failures} runs in a row" in f.title and "http_5xx x" in f.detail
    if ev.cleared:
        assert ev.cleared == ["probe_health:policy_snapshot:m.soundcloud.com"]


def test_backoff_doubles_with_equal_jitter_and_a_cap():
    rng = random.Random(7)
    for attempt, full in [(1, 30), (2, 60), (3, 120), (4, 240), (8, 3600), (20, 3600)]:
        for _ in range(50):
            d = backoff_seconds(attempt, 30, 3600, rng)
            assert full / 2 <= d <= full
    samples = {round(backoff_seconds(3, 30, 3600, rng), 3) for _ in range(20)}
    assert len(samples) > 10  # jittered, not lockstep


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("30m", 1800), ("2h", 7200), ("1d", 86400),
                                               ("1w", 604800), ("1.5h", 5400)])  # fmt: skip
def test_parse_duration(text, seconds):
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "2", "two hours", "0h", "-1h", "5y"])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_parse_time_defaults_to_utc():
    assert parse_time("2026-12-01T09:00") == datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert parse_time("2026-12-01T09:00Z") == datetime(2026, 12, 1, 9, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_time("tomorrow")
