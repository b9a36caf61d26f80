"""The daemon end to end, as a real process: probes through a proxy, HTTP endpoints, signals, crashes."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time

import pytest

from monitor.demo.internet import BackgroundInternet
from tests.helpers.proc import COMMAND, clean_env, cli, cli_json, free_port, get, wait_for, write_config


@pytest.fixture(scope="module")
def internet():
    with BackgroundInternet() as net:
        yield net


def daemon_config(tmp_path, port=0, interval=5, domains=None, **http):
    domains = domains or ["soundcloud.com", "www.soundcloud.com", "m.soundcloud.com", "api-v2.soundcloud.com"]
    return write_config(
        tmp_path / "scrapewatch.yaml",
        {
            "storage": {"data_dir": str(tmp_path / "data")},
            "http": {"listen": f"127.0.0.1:{port}", "timeout_seconds": 10, "retries": 0, **http},
            "protected_domains": [{"domain": d, "interval_seconds": interval, "jitter_seconds": 0} for d in domains],
            "scheduler": {"shutdown_grace_seconds": 5},
        },
    )


def db_rows(tmp_path, sql):
    conn = sqlite3.connect(tmp_path / "data" / "scrapewatch.db")
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_run_once_through_http_proxy_records_snapshots(tmp_path, internet):
    cfg = daemon_config(tmp_path)
    internet.internet.clear_requests()
    out = cli("run", "--once", "--config", str(cfg), cwd=tmp_path, env=clean_env(HTTP_PROXY=internet.url))
    assert out.returncode == 0, out.stderr
    snaps = db_rows(tmp_path, "SELECT domain, file, state FROM snapshots ORDER BY domain, file")
    assert ("soundcloud.com", "robots.txt", "present") in snaps
    assert ("m.soundcloud.com", "ai.txt", "unreachable") in snaps
    assert ("api-v2.soundcloud.com", "ai.txt", "missing") in snaps
    # 4 domains x (robots.txt, ai.txt, .well-known/tdmrep.json, page:home, page:track), plus the RSL license
    # document that soundcloud.com's robots.txt names (www.soundcloud.com is the same site).
    assert len(snaps) == 4 * 5 + 2
    assert ("soundcloud.com", "license#1", "present") in snaps and ("soundcloud.com", "page:track", "present") in snaps
    # The names went to the proxy (CONNECT for https), never to DNS.
    hosts = {(r.host, r.via) for r in internet.internet.requests}
    assert ("soundcloud.com", "connect") in hosts
    ua = json.loads(db_rows(tmp_path, "SELECT headers FROM observations LIMIT 1")[0][0])
    assert ua  # response headers are kept as evidence
    kinds = {(i["kind"], i["domain"]) for i in cli_json("incidents", "list", "--config", str(cfg), cwd=tmp_path)}
    # One failed fetch of m.soundcloud.com's ai.txt is weather; the second run in a row makes it an incident.
    assert ("policy_file_unreachable", "m.soundcloud.com") not in kinds
    assert ("policy_breach", "soundcloud.com") in kinds  # the default expectation covers every registry agent
    assert not [k for k in kinds if k[0] in ("policy_regression", "policy_file_changed")]  # first audit: a baseline
    verdicts = db_rows(tmp_path, "SELECT count(*) FROM policy_verdicts_in_force")[0][0]
    assert verdicts == 4 * 163 * 4  # domains x registry agents x default path classes
    stored = db_rows(tmp_path, "SELECT count(*) FROM policy_verdicts")[0][0]
    assert stored < 4 * 4 * 10  # stored once per group of agents with equal verdicts
    out = cli("run", "--once", "--config", str(cfg), cwd=tmp_path, env=clean_env(HTTP_PROXY=internet.url))
    assert out.returncode == 0, out.stderr
    kinds = {(i["kind"], i["domain"]) for i in cli_json("incidents", "list", "--config", str(cfg), cwd=tmp_path)}
    assert ("policy_file_unreachable", "m.soundcloud.com") in kinds


def test_sampled_pages_keep_only_their_signals(tmp_path, internet):
    cfg = daemon_config(tmp_path, domains=["soundcloud.com"])
    for _ in range(2):  # the track page's body changes on every request (play counts); its signals do not
        out = cli("run", "--once", "--config", str(cfg), cwd=tmp_path, env=clean_env(HTTP_PROXY=internet.url))
        assert out.returncode == 0, out.stderr
    rows = db_rows(
        tmp_path,
        "SELECT s.observations, b.content FROM snapshots s JOIN bodies b ON b.sha256 = s.sha256 "
        "WHERE s.file = 'page:track'",
    )
    assert len(rows) == 1 and rows[0][0] == 2  # one version, seen twice
    kept = rows[0][1].decode()
    assert "x-robots-tag: noai, noimageai" in kept and "meta tdm-reservation: 1" in kept and "plays" not in kept
    # The page's X-Robots-Tag decides training on the track class; the RSL license answers ai-input elsewhere.
    sources = dict(
        db_rows(
            tmp_path,
            "SELECT path_class, train_ai_source || ' ' || ai_input_source FROM policy_verdicts_in_force "
            "WHERE agent = 'GPTBot'",
        )
    )
    assert sources["track"] == "x-robots-tag x-robots-tag" and sources["home"] == "tdmrep-file rsl"
    files = {r[0] for r in db_rows(tmp_path, "SELECT DISTINCT file FROM observations")}
    assert {"page:home", "page:track", "license#1"} <= files


def test_serve_endpoints_and_sigterm(tmp_path, internet):
    port = free_port()
    cfg = daemon_config(tmp_path, port=port)
    proc = subprocess.Popen(
        [*COMMAND, "run", "--config", str(cfg)],
        cwd=tmp_path,
        env=clean_env(HTTPS_PROXY=internet.url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: get(f"{base}/healthz")[0] == 200, what="/healthz")
        wait_for(lambda: get(f"{base}/metrics")[1].count(b"scrapewatch_job_last_success_timestamp_seconds{") == 4,
                 what="every job's first run")  # fmt: skip
        assert b'scrapewatch_probe_success{domain="m.soundcloud.com",probe="ai.txt"} 0.0' in get(f"{base}/metrics")[1]
        status, body = get(f"{base}/readyz")
        assert status == 200, body
        assert json.loads(body)["scheduler"] == "running"
        metrics = get(f"{base}/metrics")[1].decode()
        for needle in (
            'scrapewatch_probe_success{domain="soundcloud.com",probe="robots.txt"} 1.0',
            'scrapewatch_probe_success{domain="m.soundcloud.com",probe="ai.txt"} 0.0',
            'scrapewatch_probe_http_status_code{domain="m.soundcloud.com",probe="ai.txt"} 503.0',
            'scrapewatch_probes_total{outcome="http_5xx",probe="ai.txt"}',
            "scrapewatch_build_info{",
            "scrapewatch_store_up 1.0",
            'scrapewatch_job_last_success_timestamp_seconds{job="policy_snapshot:soundcloud.com"}',
        ):
            assert needle in metrics, needle
        status, body = get(f"{base}/api/incidents?status=open&severity=low")
        page = json.loads(body)
        assert status == 200 and page["total"] >= 1
        inc = page["incidents"][0]
        status, body = get(f"{base}/api/incidents/{inc['id']}")
        assert status == 200 and json.loads(body)["events"][0]["action"] == "opened"
        assert get(f"{base}/api/incidents/99999")[0] == 404
        assert get(f"{base}/api/incidents?severity=urgent")[0] == 400
        assert get(f"{base}/api/incidents?since=yesterday")[0] == 400
        assert get(f"{base}/api/incidents?limit=0")[0] == 400
        assert get(f"{base}/api/incidents?colour=red")[0] == 400
        # The change is picked up on the next scheduled run, while the daemon keeps serving.
        internet.internet.set_phase(1)
        wait_for(lambda: json.loads(get(f"{base}/api/incidents?kind=policy_regression")[1])["total"] >= 1,
                 timeout=30, what="a policy_regression incident")  # fmt: skip
        regression = json.loads(get(f"{base}/api/incidents?kind=policy_regression")[1])["incidents"][0]
        assert regression["title"].startswith("GPTBot is newly allowed on")
        gpt_line = b'scrapewatch_policy_crawl_allowed{agent="GPTBot",domain="soundcloud.com",path_class="track"} 1.0'
        wait_for(lambda: gpt_line in get(f"{base}/metrics")[1], timeout=30, what="GPTBot allowed in /metrics")
        metrics = get(f"{base}/metrics")[1].decode()
        assert 'scrapewatch_policy_restriction{agent="ClaudeBot",domain="soundcloud.com"} 2.0' in metrics
        assert 'scrapewatch_policy_signal_present{domain="api-v2.soundcloud.com",signal="ai.txt"} 0.0' in metrics
    finally:
        internet.internet.set_phase(0)
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    stderr = proc.stderr.read()
    assert code == 0, stderr
    assert "received SIGTERM" in stderr and "stopped" in stderr


def test_port_in_use_is_a_clear_startup_error(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        out = cli("run", "--config", str(daemon_config(tmp_path, port=port)), cwd=tmp_path, timeout=60)
    assert out.returncode == 3
    assert f"cannot listen on 127.0.0.1:{port}" in out.stderr


def test_unusable_data_dir_is_a_clear_startup_error(tmp_path):
    (tmp_path / "blocker").write_text("a file where a directory should be")
    cfg = write_config(tmp_path / "c.yaml", {"storage": {"data_dir": str(tmp_path / "blocker" / "data")}})
    out = cli("run", "--once", "--config", str(cfg), cwd=tmp_path, timeout=60)
    assert out.returncode == 3
    assert "blocker" in out.stderr and "error:" in out.stderr


def test_invalid_config_exits_2_naming_the_key(tmp_path):
    cfg = write_config(tmp_path / "c.yaml", {"http": {"timeout_seconds": "soon", "colour": "red"}})
    out = cli("run", "--config", str(cfg), cwd=tmp_path)
    assert out.returncode == 2
    assert "http.timeout_seconds" in out.stderr and "http.colour" in out.stderr


def test_sigkill_mid_cycle_loses_no_committed_incident(tmp_path, internet):
    """Kill -9 while probes are in flight (slow.test holds its request); committed rows survive intact."""
    cfg = daemon_config(tmp_path, domains=["m.soundcloud.com", "slow.test"], interval=5)
    proc = subprocess.Popen(
        [*COMMAND, "run", "--config", str(cfg)],
        cwd=tmp_path,
        env=clean_env(HTTPS_PROXY=internet.url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        db = tmp_path / "data" / "scrapewatch.db"

        def committed_incident():
            try:
                return db.exists() and db_rows(tmp_path, "SELECT id FROM incidents")
            except sqlite3.OperationalError:  # the schema is not migrated yet
                return False

        wait_for(committed_incident, what="a committed incident")
        # slow.test's fetch is still pending here (timeout 3 s): the process dies mid-cycle.
        assert any(r.host == "slow.test" for r in internet.internet.requests)
        committed = db_rows(tmp_path, "SELECT id, dedupe_key FROM incidents")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert db_rows(tmp_path, "PRAGMA integrity_check") == [("ok",)]
    out = cli("run", "--once", "--config", str(cfg), cwd=tmp_path, env=clean_env(HTTPS_PROXY=internet.url))
    assert out.returncode == 0, out.stderr
    after = dict(db_rows(tmp_path, "SELECT id, dedupe_key FROM incidents"))
    for incident_id, key in committed:
        assert after[incident_id] == key
    assert db_rows(tmp_path, "PRAGMA integrity_check") == [("ok",)]


def test_unreachable_and_timeouts_are_recorded_not_fatal(tmp_path, internet):
    cfg = daemon_config(tmp_path, domains=["slow.test", "no-such-host.test", "reset.test"], timeout_seconds=1)
    t0 = time.monotonic()
    out = cli("run", "--once", "--config", str(cfg), cwd=tmp_path, env=clean_env(HTTPS_PROXY=internet.url))
    assert out.returncode == 0, out.stderr
    assert time.monotonic() - t0 < 60
    kinds = dict(db_rows(tmp_path, "SELECT domain || '/' || file, error_kind FROM observations"))
    assert kinds["slow.test/robots.txt"] == "timeout"
    assert kinds["no-such-host.test/robots.txt"] in {"http_5xx", "proxy"}  # the proxy's 502 for a dead name
    assert kinds["reset.test/robots.txt"] in {"connection", "other"}
    runs = db_rows(tmp_path, "SELECT outcome FROM probe_runs")
    assert runs and all(r == ("failure",) for r in runs)
