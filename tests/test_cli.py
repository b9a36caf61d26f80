"""The command line as a user meets it: demo, incidents triage, config check, help, exit codes."""

from __future__ import annotations

import json
import re

import pytest

from tests.helpers.proc import cli, cli_json, write_config


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    """A directory where `scrapewatch demo --once` has run on the built-in defaults."""
    d = tmp_path_factory.mktemp("demo")
    out = cli("demo", "--once", cwd=d, timeout=480)  # a loaded CI machine: two cycles, host intel, a bundle
    assert out.returncode == 0, out.stderr
    assert "cycle 2/2" in out.stdout and "no real site is contacted" in out.stdout
    (d / "demo.out").write_text(out.stdout)
    return d


def test_demo_once_leaves_incidents_that_list_shows(demo_dir):
    incidents = cli_json("incidents", "list", cwd=demo_dir)
    kinds = {(i["kind"], i["domain"]) for i in incidents}
    assert ("policy_file_changed", "soundcloud.com") in kinds
    assert ("policy_file_unreachable", "m.soundcloud.com") in kinds
    assert ("policy_regression", "soundcloud.com") in kinds  # the simulated robots.txt newly allows GPTBot
    regression = next(i for i in incidents if i["kind"] == "policy_regression" and i["domain"] == "soundcloud.com")
    assert regression["title"] == "GPTBot is newly allowed on soundcloud.com (home, track, set, audio)"
    assert regression["severity"] == "high"
    assert all(i["status"] == "open" for i in incidents)
    # The watchlist: the downloader, the proxying player, the re-upload and the mirror are exposures; the blog
    # that embeds the official widget (rendered: the widget's own media requests come from its frame) is not.
    exposed = {i["domain"] for i in incidents if i["kind"].startswith("exposure_")}
    assert exposed == {"sc2mp3-fast.example", "scplayer.example", "reupload.example", "scmirror.example"}
    critical = {(i["domain"], i["kind"]) for i in incidents if i["severity"] == "critical"}
    assert ("sc2mp3-fast.example", "exposure_downloader") in critical
    assert ("scplayer.example", "exposure_proxy") in critical
    # planetblupi-music-ogg is installed here: untagged audio is recognised by its fingerprint alone - the no-AI
    # track re-encoded on the re-upload site, and the canary ripped by a downloader whose page names nothing.
    heard = next(i for i in incidents if i["kind"] == "exposure_audio_match")
    assert (heard["domain"], heard["severity"], heard["data"]["catalogue_track"]["id"]) == (
        "reupload.example", "critical", "1234500001"
    )  # fmt: skip
    assert heard["data"]["audio_match"]["score"] >= 0.8
    ripped = next(i for i in incidents if i["kind"] == "canary_delivered" and i["domain"] == "rip-plain.example")
    assert ripped["severity"] == "critical" and ripped["data"]["fingerprint"]["track"] == "1234567890"
    # The CDN dropped the track page's noai header in the same change: a page-signal change with its diff.
    page = next(
        i
        for i in incidents
        if i["kind"] == "policy_file_changed" and i["data"]["file"] == "page:track" and i["domain"] == "soundcloud.com"
    )
    assert page["title"] == "the AI-usage signals of the sampled track page changed on soundcloud.com"
    assert "-x-robots-tag: noai, noimageai" in page["data"]["diff"]


def test_demo_once_shows_cases_one_per_offender(demo_dir):
    from monitor.demo.exposure_sites import OPERATOR_CLIENT_ID

    listed = cli_json("case", "list", cwd=demo_dir)["cases"]
    cases = {c["domain"]: c for c in listed}
    # The downloader's seven incidents are one case: five from its pages, two archive captures of it.
    downloader = cli_json("case", "show", str(cases["sc2mp3-fast.example"]["id"]), cwd=demo_dir)
    assert sorted(i["kind"] for i in downloader["incidents"]) == [
        "archive_downloader_page", "archive_downloader_page", "exposure_api_scraper", "exposure_cdn_media",
        "exposure_downloader", "exposure_file_tags", "exposure_proxy",
    ]  # fmt: skip
    assert downloader["severity"] == "critical" and downloader["status"] == "new"
    # The player and the mirror hard-code the same client_id: one operator, one case (the older one survives).
    assert "scplayer.example" not in cases
    merged = cli_json("case", "show", str(cases["scmirror.example"]["id"]), cwd=demo_dir)
    assert {d["domain"] for d in merged["domains"]} == {"scmirror.example", "scplayer.example"}
    assert {(k["kind"], k["value"]) for k in merged["links"]} >= {("client_id", OPERATOR_CLIENT_ID)}
    assert "merged" in [e["action"] for e in merged["timeline"]]
    # Unrelated sites stay apart; SoundCloud's own domains and the legitimate blog have no case.
    assert {"reupload.example", "rip-plain.example", "rip-canary.example"} <= set(cases)
    assert not [d for d in cases if "soundcloud" in d or d == "indie-blog.example"]
    printed = (demo_dir / "demo.out").read_text()
    assert f"{len(cases)} case(s), one per offender:" in printed
    # In the order `case list` (and the Cases page) lists them: most recently seen first.
    assert [int(i) for i in re.findall(r"^  case #(\d+) \[", printed, re.M)] == [c["id"] for c in listed]
    assert f"case #{downloader['id']} [critical] sc2mp3-fast.example: 7 incident(s)" in printed
    assert "scmirror.example + scplayer.example (client_id " in printed
    assert "open incident(s) outside cases:" in printed and "GPTBot is newly allowed on soundcloud.com" in printed


def test_demo_once_drafts_a_notice_and_exports_a_bundle_that_verifies(demo_dir, tmp_path):
    """The downloader's case: a notice to its hosting provider's abuse desk (from the simulated RDAP), and an
    evidence bundle that `case verify` accepts, and rejects once one byte of a copy changes."""
    cases = {c["domain"]: c for c in cli_json("case", "list", cwd=demo_dir)["cases"]}
    case_id = cases["sc2mp3-fast.example"]["id"]
    printed = (demo_dir / "demo.out").read_text()
    assert f"case #{case_id}: notice to the hosting provider (abuse@shadyhost.example) drafted at" in printed
    notice = (demo_dir / "data" / "exports" / f"case-{case_id}-notice-hosting.md").read_text()
    assert "abuse@shadyhost.example" in notice and "https://sc2mp3-fast.example/" in notice
    bundles = sorted((demo_dir / "data" / "exports").glob("*.zip"))
    assert len(bundles) == 1 and f"evidence bundle data/exports/{bundles[0].name}" in printed and "verified" in printed
    assert cli("case", "verify", str(bundles[0]), "--against-db", cwd=demo_dir).returncode == 0
    damaged = tmp_path / bundles[0].name
    content = bytearray(bundles[0].read_bytes())
    content[len(content) // 2] ^= 0x01
    damaged.write_bytes(bytes(content))
    result = cli("case", "verify", str(damaged), cwd=demo_dir)
    assert result.returncode == 1 and "failed verification" in result.stderr
    drafted = cli("case", "notice", str(case_id), "--to", "registrar", cwd=demo_dir)
    assert drafted.returncode == 0 and "to: abuse@offshore-names.example" in drafted.stderr


def test_policy_matrix_and_history_commands(demo_dir):
    rows = cli_json("policy", "matrix", "soundcloud.com", "--agent", "GPTBot", cwd=demo_dir)
    assert {(r["path_class"], r["crawl_allowed"]) for r in rows} == {
        ("home", 1),
        ("track", 1),
        ("set", 1),
        ("audio", 1),
    }
    table = cli("policy", "matrix", "--agent", "ClaudeBot", cwd=demo_dir).stdout
    assert "m.soundcloud.com" in table and "disallowed" in table
    history = cli("policy", "history", "soundcloud.com", cwd=demo_dir)
    assert history.returncode == 0
    assert "changed: crawl_allowed" in history.stdout and "GPTBot" in history.stdout
    assert "robots.txt present" in history.stdout
    table = cli("incidents", "list", cwd=demo_dir).stdout
    assert "robots.txt changed on soundcloud.com" in table


def test_show_and_triage_write_events(demo_dir):
    incidents = cli_json("incidents", "list", "--kind", "policy_file_changed", cwd=demo_dir)
    target = next(i for i in incidents if i["title"] == "robots.txt changed on soundcloud.com")
    shown = cli("incidents", "show", str(target["id"]), cwd=demo_dir)
    assert shown.returncode == 0 and "GPTBot" in shown.stdout  # the diff is part of the evidence
    out = cli("incidents", "ack", str(target["id"]), "--note", "checking with legal", "--by", "alice", cwd=demo_dir)
    assert out.returncode == 0 and "acknowledged" in out.stdout
    again = cli("incidents", "ack", str(target["id"]), "--note", "twice", cwd=demo_dir)
    assert again.returncode == 1 and "the incident is acknowledged; it cannot become acknowledged" in again.stderr
    out = cli("incidents", "resolve", str(target["id"]), "--note", "intended change", cwd=demo_dir)
    assert out.returncode == 0
    full = cli_json("incidents", "show", str(target["id"]), cwd=demo_dir)
    assert [(e["action"], e["actor"]) for e in full["events"]][1] == ("acknowledged", "alice")
    assert full["events"][-1]["note"] == "intended change" and full["status"] == "resolved"
    assert cli_json("incidents", "list", "--status", "resolved", cwd=demo_dir)[0]["id"] == target["id"]


def test_false_positive_and_not_found(demo_dir):
    inc = cli_json("incidents", "list", "--kind", "policy_file_unreachable", cwd=demo_dir)[0]
    out = cli("incidents", "false-positive", str(inc["id"]), "--note", "staging host", cwd=demo_dir)
    assert out.returncode == 0 and "false_positive" in out.stdout
    missing = cli("incidents", "show", "424242", cwd=demo_dir)
    assert missing.returncode == 4 and "no incident with id 424242" in missing.stderr
    assert cli("incidents", "ack", "1", cwd=demo_dir).returncode == 2  # --note is required


def test_config_check_prints_resolved_config_with_secrets_masked(tmp_path):
    cfg = write_config(
        tmp_path / "c.yaml",
        {"alerts": {"channels": [{"name": "slack", "url": "slack://TOKENA/TOKENB/TOKENC"}]},
         "http": {"proxy": "http://user:hunter2@127.0.0.1:3128"}},
    )  # fmt: skip
    out = cli("config", "check", str(cfg), "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["protected_domains"][0]["domain"] == "soundcloud.com"
    assert "TOKENB" not in out.stdout and "hunter2" not in out.stdout
    assert data["http"]["proxy"] == "http://***@127.0.0.1:3128"
    yaml_out = cli("config", "check", cwd=tmp_path)
    assert yaml_out.returncode == 0 and "soundcloud.com" in yaml_out.stdout


def test_config_check_lists_every_error(tmp_path):
    cfg = write_config(tmp_path / "c.yaml", {"http": {"retries": -1}, "storage": {"colour": 1}})
    out = cli("config", "check", str(cfg), cwd=tmp_path)
    assert out.returncode == 2
    assert "http.retries" in out.stderr and "storage.colour" in out.stderr


def test_version_and_help():
    from monitor import __version__

    out = cli("--version", cwd=".")
    assert out.returncode == 0 and __version__ in out.stdout
    for args in (["--help"], ["run", "--help"], ["incidents", "list", "--help"], ["demo", "--help"]):
        res = cli(*args, cwd=".")
        assert res.returncode == 0 and "Usage:" in res.stdout


def test_run_once_exits_nonzero_when_a_job_crashes(tmp_path):
    """A job that raises (here: its database table vanished under it) is logged and counted; exit 1."""
    import sqlite3

    cfg = write_config(
        tmp_path / "c.yaml",
        {"storage": {"data_dir": str(tmp_path / "data")},
         "protected_domains": [{"domain": "soundcloud.invalid"}], "http": {"timeout_seconds": 2, "retries": 0}},
    )  # fmt: skip
    assert cli("run", "--once", "--config", str(cfg), cwd=tmp_path).returncode == 0
    conn = sqlite3.connect(tmp_path / "data" / "scrapewatch.db")
    conn.execute("DROP TABLE snapshots")
    conn.commit()
    conn.close()
    out = cli("run", "--once", "--config", str(cfg), cwd=tmp_path)
    assert out.returncode == 1
    assert "raised; the run is recorded as an error" in out.stderr and "no such table: snapshots" in out.stderr
    conn = sqlite3.connect(tmp_path / "data" / "scrapewatch.db")
    (outcome, detail) = conn.execute("SELECT outcome, error_detail FROM probe_runs ORDER BY id DESC").fetchone()
    conn.close()
    assert outcome == "error" and "no such table: snapshots" in detail


def test_demo_serves_and_opens_a_change_incident_by_itself(tmp_path):
    """`scrapewatch demo` (not --once): the simulated robots.txt changes and the daemon notices by itself."""
    import re
    import signal
    import subprocess
    import time

    from tests.helpers.proc import COMMAND, clean_env, get

    cfg = write_config(tmp_path / "c.yaml", {"http": {"listen": "127.0.0.1:0"}})
    proc = subprocess.Popen(
        [*COMMAND, "demo", "--config", str(cfg), "--change-after", "3"],
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        base = None
        while base is None:
            line = proc.stdout.readline()
            assert line, "demo exited before printing its metrics URL"
            match = re.search(r"metrics: (http://[\d.]+:\d+)/metrics", line)
            base = match.group(1) if match else None
        t0 = time.monotonic()
        while time.monotonic() - t0 < 180:  # a loaded CI machine runs the demo's first cycle slowly
            page = json.loads(get(f"{base}/api/incidents?kind=policy_file_changed")[1])
            if page["total"]:
                break
            time.sleep(0.5)
        assert page["total"] >= 1, "no change incident within a minute"
        assert get(f"{base}/readyz")[0] == 200
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
    assert code == 0


def test_live_explain_and_one_shot_audit_through_the_proxy(tmp_path):
    """`policy explain` without --robots and `policy audit HOST` fetch live (here: the simulated internet)."""
    from monitor.demo.internet import BackgroundInternet
    from tests.helpers.proc import clean_env

    with BackgroundInternet() as net:
        env = clean_env(HTTPS_PROXY=net.url)
        url = "https://soundcloud.com/forss/flickermood"
        out = cli("policy", "explain", "--agent", "GPTBot", "--url", url, "--json", cwd=tmp_path, env=env)
        assert out.returncode == 0, out.stderr
        verdict = json.loads(out.stdout)
        assert verdict["allowed"] is False and verdict["rule"]["line"] == 7 and verdict["group"] == "specific"
        net.internet.set_phase(1)
        out = cli("policy", "audit", "soundcloud.com", "--agent", "GPTBot", "--agent", "AI2Bot", "--json",
                  cwd=tmp_path, env=env)  # fmt: skip
        assert out.returncode == 0, out.stderr
        report = json.loads(out.stdout)
        cells = {(c["agent"], c["path_class"]): c for c in report["cells"]}
        assert cells[("GPTBot", "track")]["crawl_allowed"] is True  # phase 1 weakened GPTBot's group
        assert cells[("AI2Bot", "track")]["train_ai"] == "no"  # Content-Signal and TDMRep reserve training
        assert [f["status"] for f in report["files"]] == [200, 200, 200]
        table = cli("policy", "audit", "m.soundcloud.com", "--agent", "GPTBot", cwd=tmp_path, env=env).stdout
        assert "ai.txt                   503" in table and "GPTBot" in table
    assert not (tmp_path / "data").exists()  # nothing recorded
    assert any(r.host == "soundcloud.com" and r.path == "/robots.txt" for r in net.internet.requests)
