"""`incidents list` over a real database of 250 incidents: it says when it stopped at its limit and how to page
on, --offset pages, and --all streams every row in bounded pages."""

from __future__ import annotations

import json

import pytest

from monitor.db import open_db
from monitor.incidents import Evaluation, Finding
from monitor.store import ProbeRun, Store, utcnow
from tests.helpers.proc import cli, cli_json, write_config

TOTAL = 250


def _run(job: str) -> ProbeRun:
    now = utcnow()
    return ProbeRun(job, "test", "example.org", now, now, "success", None, 0.0)


@pytest.fixture(scope="module")
def db_dir(tmp_path_factory):
    """A configuration whose database holds 250 incidents, written in two runs (two last_seen values)."""
    d = tmp_path_factory.mktemp("incidents")
    write_config(d / "c.yaml", {"storage": {"data_dir": str(d / "data")}})
    store = Store(open_db(d / "data" / "scrapewatch.db"), storm_threshold=0)  # many incidents, not a storm
    for start, stop in ((0, 150), (150, TOTAL)):
        findings = [
            Finding(f"test:{n}", "test_kind", "high" if n % 2 else "low", "example.org", f"incident {n}", "", {})
            for n in range(start, stop)
        ]
        store.apply(_run("test:job"), Evaluation(f"test:{start}", findings))
    store.db.close()
    return d


def listed(db_dir, *args):
    out = cli("incidents", "list", "--config", str(db_dir / "c.yaml"), *args, cwd=db_dir)
    assert out.returncode == 0, out.stderr
    return out


def test_the_default_limit_is_said_on_stderr_with_how_to_page(db_dir):
    out = listed(db_dir, "--json")
    rows = json.loads(out.stdout)
    assert len(rows) == 100
    assert "listed incidents 1-100; more match: the next page is --offset 100" in out.stderr
    assert "--all" in out.stderr and "--limit" in out.stderr
    table = listed(db_dir)
    assert len([line for line in table.stdout.splitlines() if "incident " in line]) == 100
    assert "more match" in table.stderr


def test_offset_pages_to_the_end_and_the_last_page_says_nothing(db_dir):
    everything = [r["id"] for r in json.loads(listed(db_dir, "--json", "--limit", "1000").stdout)]
    assert len(everything) == len(set(everything)) == TOTAL
    pages, stderr = [], []
    for offset in (0, 100, 200):
        out = listed(db_dir, "--json", "--offset", str(offset))
        pages += [r["id"] for r in json.loads(out.stdout)]
        stderr.append(out.stderr)
    assert pages == everything
    assert "--offset 200" in stderr[1] and "more match" not in stderr[2]
    exact = listed(db_dir, "--json", "--limit", str(TOTAL))
    assert len(json.loads(exact.stdout)) == TOTAL and "more match" not in exact.stderr


def test_all_lists_every_row_in_order(db_dir):
    everything = [r["id"] for r in json.loads(listed(db_dir, "--json", "--limit", "1000").stdout)]
    out = listed(db_dir, "--json", "--all")
    assert [r["id"] for r in json.loads(out.stdout)] == everything and out.stderr == ""
    assert [r["id"] for r in cli_json("incidents", "list", "--all", "--offset", "240", "--config",
                                      str(db_dir / "c.yaml"), cwd=db_dir)] == everything[240:]  # fmt: skip
    filtered = json.loads(listed(db_dir, "--json", "--all", "--severity", "high").stdout)
    assert len(filtered) == TOTAL // 2 and {r["severity"] for r in filtered} == {"high"}
    table = listed(db_dir, "--all").stdout.splitlines()
    assert len([line for line in table if "incident " in line]) == TOTAL and table[0].split()[:2] == ["id", "severity"]


def test_all_with_limit_is_a_usage_error(db_dir):
    out = cli("incidents", "list", "--all", "--limit", "5", "--config", str(db_dir / "c.yaml"), cwd=db_dir)
    assert out.returncode == 2 and "leave out --limit" in out.stderr


def test_iter_incidents_reads_bounded_pages_across_equal_timestamps(db_dir):
    store = Store(open_db(db_dir / "data" / "scrapewatch.db"), storm_threshold=0)  # many incidents, not a storm
    try:
        everything = [r["id"] for r in store.list_incidents(limit=1000)]
        statements: list[str] = []
        store.db.conn.set_trace_callback(statements.append)
        streamed = [r["id"] for r in store.iter_incidents(offset=3, page_size=7)]
        store.db.conn.set_trace_callback(None)
    finally:
        store.db.close()
    assert streamed == everything[3:]
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) == -(-(TOTAL - 3) // 7) + (1 if (TOTAL - 3) % 7 == 0 else 0)
    assert all("LIMIT 7" in s for s in reads)
