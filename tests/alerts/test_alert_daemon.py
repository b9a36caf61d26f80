"""Alerts from the real daemon process: the crash window around a send, the demo's done-when, mutes from the
CLI, probe health, and the alert metrics on /metrics."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import threading
from collections import Counter

import pytest

from monitor.demo.internet import BackgroundInternet
from tests.alerts.receivers import WebhookReceiver
from tests.helpers.proc import COMMAND, clean_env, cli, cli_json, free_port, get, wait_for, write_config


@pytest.fixture(scope="module")
def internet():
    with BackgroundInternet() as net:
        yield net


def config(tmp_path, hook_url: str, domains: list[str], port: int = 0, **alerts):
    return write_config(
        tmp_path / "scrapewatch.yaml",
        {
            "storage": {"data_dir": str(tmp_path / "data")},
            "http": {"listen": f"127.0.0.1:{port}", "timeout_seconds": 10, "retries": 0},
            "protected_domains": [{"domain": d, "interval_seconds": 3600, "jitter_seconds": 0} for d in domains],
            "scheduler": {"shutdown_grace_seconds": 5},
            "alerts": {"channels": [{"name": "hook", "url": hook_url, "min_severity": "info"}], **alerts},
        },
    )


def db_rows(tmp_path, sql):
    conn = sqlite3.connect(tmp_path / "data" / "scrapewatch.db")
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def start(cfg, tmp_path, internet) -> subprocess.Popen:
    return subprocess.Popen([*COMMAND, "run", "--config", str(cfg)], cwd=tmp_path,
                            env=clean_env(HTTPS_PROXY=internet.url), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def test_sigkill_after_the_channel_accepted_duplicates_that_one_alert_once_and_loses_none(tmp_path, internet):
    """The receiver kills the daemon (SIGKILL) the moment the first alert reaches it, before answering: that
    alert was delivered but never marked sent, the second one was committed but never sent. After a restart
    the first arrives exactly once more, the second exactly once."""
    port = free_port()
    with WebhookReceiver() as hook:
        # soundcloud.com's first audit opens two incidents in one transaction (a breach and a lint).
        cfg = config(tmp_path, hook.url, ["soundcloud.com"], port=port, group_threshold=50)
        proc = start(cfg, tmp_path, internet)
        killed = threading.Event()

        def kill_once(_received) -> None:
            if not killed.is_set():
                killed.set()
                os.kill(proc.pid, signal.SIGKILL)

        hook.on_receive = kill_once
        try:
            assert proc.wait(timeout=60) == -signal.SIGKILL
        finally:
            if proc.poll() is None:
                proc.kill()
        (first,) = hook.keys()
        committed = db_rows(tmp_path, "SELECT idempotency_key, status, attempts FROM alert_deliveries ORDER BY id")
        assert len(committed) == 2 and all(status == "pending" and n == 0 for _, status, n in committed)
        assert committed[0][0] == first  # accepted by the channel, not recorded: the crash window
        second = committed[1][0]

        hook.on_receive = None
        proc = start(cfg, tmp_path, internet)
        try:
            wait_for(lambda: len(hook.keys()) >= 3, timeout=60, what="both alerts after the restart")
            base = f"http://127.0.0.1:{port}"
            sent_line = 'scrapewatch_alerts_sent_total{channel="hook"} 2.0'
            wait_for(lambda: sent_line in get(f"{base}/metrics")[1].decode(), what="the sent counter")
            metrics = get(f"{base}/metrics")[1].decode()
            for line in (
                "scrapewatch_alert_outbox_depth 0.0",
                "scrapewatch_alert_outbox_oldest_pending_seconds 0.0",
                'scrapewatch_alert_dead_letters{channel="hook"} 0.0',
                'scrapewatch_alerts_failed_total{channel="hook"} 0.0',
                'scrapewatch_job_interval_seconds{job="policy_snapshot:soundcloud.com"} 3600.0',
            ):
                assert line in metrics, line
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0, proc.stderr.read()
    assert Counter(hook.keys()) == {first: 2, second: 1}
    final = db_rows(tmp_path, "SELECT status, attempts FROM alert_deliveries")
    assert final == [("sent", 1), ("sent", 1)]
    assert db_rows(tmp_path, "SELECT status FROM alert_outbox") == [("sent",), ("sent",)]


def test_sigterm_during_a_send_finishes_and_records_it_then_stops(tmp_path, internet):
    with WebhookReceiver(delay=1.5) as hook:
        cfg = config(tmp_path, hook.url, ["soundcloud.com"], group_threshold=50)
        proc = start(cfg, tmp_path, internet)
        hook.on_receive = lambda _received: proc.send_signal(signal.SIGTERM)  # while the answer is 1.5 s away
        try:
            assert proc.wait(timeout=60) == 0, proc.stderr.read()
        finally:
            if proc.poll() is None:
                proc.kill()
    err = proc.stderr.read()
    assert "received SIGTERM" in err and "raised an exception" not in err
    (first,) = hook.keys()
    states = db_rows(tmp_path, "SELECT idempotency_key, status, attempts FROM alert_deliveries ORDER BY id")
    assert states[0] == (first, "sent", 1)  # the send in flight finished and was recorded
    assert [(status, n) for _, status, n in states[1:]] == [("pending", 0)]  # nothing more was sent


def test_demo_once_delivers_one_message_per_new_incident(tmp_path):
    with WebhookReceiver() as hook:
        # The demo's downloader site has five incidents (one grouped message by default) and the demo opens more
        # incidents than the default 20 messages a minute: both are lifted to see one message per incident.
        cfg = write_config(tmp_path / "c.yaml", {"alerts": {"group_threshold": 50,
                                                            "channels": [{"name": "team", "url": hook.url,
                                                                          "min_severity": "info",
                                                                          "rate_limit_per_minute": 0}]}})  # fmt: skip
        out = cli("demo", "--once", "--config", str(cfg), cwd=tmp_path, timeout=180)
        assert out.returncode == 0, out.stderr
    incidents = cli_json("incidents", "list", "--config", str(cfg), cwd=tmp_path)
    assert len(incidents) >= 10
    alerts = [r.body["scrapewatch"] for r in hook.received]
    assert sorted(a["incident_id"] for a in alerts) == sorted(i["id"] for i in incidents)
    assert {a["transition"] for a in alerts} == {"opened"}
    assert len(set(hook.keys())) == len(hook.keys())
    regression = next(a for a in alerts if a["kind"] == "policy_regression" and a["domain"] == "soundcloud.com")
    assert regression["title"] == "GPTBot is newly allowed on soundcloud.com (home, track, set, audio)"


def test_cli_mute_holds_a_domain_and_failed_alerts_can_be_retried(tmp_path, internet):
    env = clean_env(HTTPS_PROXY=internet.url)
    with WebhookReceiver(status=500) as hook:
        cfg = config(tmp_path, hook.url, ["soundcloud.com", "m.soundcloud.com"], max_attempts=1)
        out = cli("mute", "add", "--domain", "m.soundcloud.com", "--for", "2h", "--reason", "CDN migration",
                  "--by", "alice", "--config", str(cfg), cwd=tmp_path)  # fmt: skip
        assert out.returncode == 0 and "mute #1" in out.stdout, out.stderr
        assert [m["domain"] for m in cli_json("mute", "list", "--config", str(cfg), cwd=tmp_path)] == [
            "m.soundcloud.com"
        ]
        assert cli("run", "--once", "--config", str(cfg), cwd=tmp_path, env=env).returncode == 0
        sent_domains = {r.body["scrapewatch"]["domain"] for r in hook.received}
        assert sent_domains == {"soundcloud.com"}  # the muted domain sent nothing
        listed = cli_json("alerts", "list", "--config", str(cfg), cwd=tmp_path)
        muted = [d for d in listed if d["domain"] == "m.soundcloud.com"]
        assert muted and {d["status"] for d in muted} == {"muted"}
        assert all("mute #1 (domain=m.soundcloud.com)" in d["detail"] for d in muted)
        # The receiver answered 500 with max_attempts 1: every soundcloud.com alert is a dead letter.
        failed = cli_json("alerts", "list", "--failed", "--config", str(cfg), cwd=tmp_path)
        assert failed and {d["status"] for d in failed} == {"dead"} and "error=500" in failed[0]["last_error"]
        table = cli("alerts", "list", "--failed", "--config", str(cfg), cwd=tmp_path).stdout
        assert "dead" in table and "error=500" in table
        hook.status = 200
        retried = failed[0]["id"]
        out = cli("alerts", "retry", str(retried), "--config", str(cfg), cwd=tmp_path)
        assert out.returncode == 0 and f"delivery #{retried}" in out.stdout
        before = len(hook.received)
        assert cli("run", "--once", "--config", str(cfg), cwd=tmp_path, env=env).returncode == 0
        assert [r.key for r in hook.received[before:]] == [failed[0]["idempotency_key"]]
    again = cli("alerts", "retry", str(retried), "--config", str(cfg), cwd=tmp_path)
    assert again.returncode == 1 and "is sent" in again.stderr
    assert cli("alerts", "retry", "9999", "--config", str(cfg), cwd=tmp_path).returncode == 4
    assert cli("mute", "lift", "1", "--config", str(cfg), cwd=tmp_path).returncode == 0
    assert cli_json("mute", "list", "--config", str(cfg), cwd=tmp_path) == []


def test_probe_health_alert_after_n_failed_runs(tmp_path, internet):
    env = clean_env(HTTPS_PROXY=internet.url)
    with WebhookReceiver() as hook:
        cfg = config(tmp_path, hook.url, ["m.soundcloud.com"], probe_failures=2)
        for _ in range(2):  # m.soundcloud.com's ai.txt answers 503 in every phase: each run fails
            assert cli("run", "--once", "--config", str(cfg), cwd=tmp_path, env=env).returncode == 0
    health = [r.body["scrapewatch"] for r in hook.received if r.body["scrapewatch"]["kind"] == "probe_health"]
    (alert,) = health
    assert alert["transition"] == "opened" and alert["domain"] == "m.soundcloud.com"
    assert alert["title"] == "policy_snapshot:m.soundcloud.com failed 2 runs in a row"


def test_alerts_test_command_reaches_each_channel(tmp_path):
    with WebhookReceiver() as good, WebhookReceiver(status=503) as bad:
        cfg = write_config(tmp_path / "c.yaml", {"alerts": {"channels": [
            {"name": "good", "url": good.url}, {"name": "bad", "url": bad.url.replace("json://", "json://user:s3cretpw@")}
        ]}})  # fmt: skip
        out = cli("alerts", "test", "good", "--config", str(cfg), cwd=tmp_path)
        assert out.returncode == 0 and "good (json://***/***): sent" in out.stdout, out.stderr
        assert len(good.received) == 1 and bad.received == []
        assert good.received[0].body["title"] == "scrapewatch test message"
        out = cli("alerts", "test", "--config", str(cfg), cwd=tmp_path)
        assert out.returncode == 1 and f"bad (json://***@127.0.0.1:{bad.port}/***): FAILED: " in out.stdout
        assert "error=503" in out.stdout
        assert "s3cretpw" not in out.stdout + out.stderr
        missing = cli("alerts", "test", "nope", "--config", str(cfg), cwd=tmp_path)
        assert missing.returncode == 4 and "no channel named 'nope'" in missing.stderr


def test_a_bad_channel_url_is_a_config_error_naming_it_masked(tmp_path):
    channels = [{"name": "ok", "url": "json://127.0.0.1:9/x"}, {"name": "typo", "url": "slak://TOKENA/TOKENB/TOKENC"}]
    cfg = write_config(tmp_path / "c.yaml", {"alerts": {"channels": channels}})
    for args in (["config", "check", str(cfg)], ["run", "--once", "--config", str(cfg)]):
        out = cli(*args, cwd=tmp_path)
        assert out.returncode == 2, out.stderr
        assert "alerts.channels[1]: " in out.stderr
        assert "channel 'typo': url is not a valid Apprise URL: slak://***/***/***" in out.stderr
        assert "TOKENB" not in out.stderr + out.stdout


def test_config_check_masks_channel_urls(tmp_path):
    cfg = write_config(tmp_path / "c.yaml", {"alerts": {"channels": [
        {"name": "mail", "url": "mailtos://alice:hunter2@smtp.example.org?to=tns@example.org"}]}})  # fmt: skip
    out = cli("config", "check", str(cfg), "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "hunter2" not in out.stdout
    assert json.loads(out.stdout)["alerts"]["channels"][0]["url"].startswith("mailtos://***@smtp.example.org")
