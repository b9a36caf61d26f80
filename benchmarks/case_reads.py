"""Case reads at scale: a case list page (first and deep, by keyset cursor), the scrape-time case counts, and one
huge case answered bounded (as /api/cases/{id}) and in full (case_facts, as notices and bundles read it).

Usage: ``python benchmarks/case_reads.py [--cases 20000] [--big 20000]`` (a temporary SQLite file; rows inserted
with SQL in bulk, shaped as the store writes them)."""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from monitor.db import open_db
from monitor.store.case_reads import list_cursor
from monitor.store.core import Store
from monitor.web.cases_api import bounded_facts

STATUSES = ("new", "investigating", "notice_sent", "taken_down", "no_action", "reappeared")


def _fill(store: Store, cases: int, big: int) -> int:
    db = store.db
    at = "2026-11-01T12:00:00.000000+00:00"
    with db.conn:
        db.execute(
            "INSERT INTO probe_runs (job, probe, domain, started_at, finished_at, outcome, duration_seconds) "
            "VALUES ('b', 'b', 'b', ?, ?, 'success', 0)",
            [at, at],
        )
        db.conn.executemany(
            "INSERT INTO cases (id, domain, title, status, severity, opened_at, first_seen, last_seen, updated_at, "
            "taken_down_at) VALUES (?, ?, ?, ?, 'high', ?, ?, ?, ?, ?)",
            [(i, f"site{i}.example", f"site{i}.example exposes audio", STATUSES[i % 6], at, at,
              f"2026-11-{1 + i % 28:02d}T12:00:00.000000+00:00", at,
              f"2026-12-{1 + i % 28:02d}T12:00:00.000000+00:00" if i % 6 == 3 else None)
             for i in range(1, cases + 1)],
        )  # fmt: skip
        db.conn.executemany(
            "INSERT INTO case_domains (domain, case_id, reason, linked_at) VALUES (?, ?, 'opened', ?)",
            [(f"site{i}.example", i, at) for i in range(1, cases + 1)],
        )
        data = json.dumps({"site": "site1.example", "urls": [f"https://site1.example/{n}" for n in range(20)]})
        db.conn.executemany(
            "INSERT INTO incidents (id, dedupe_key, kind, severity, status, domain, scope, title, detail, data, "
            "first_seen, last_seen, updated_at) VALUES (?, ?, 'exposure_mirror', 'low', 'open', 'site1.example', "
            "'b', ?, 'detail', ?, ?, ?, ?)",
            [(n, f"k{n}", f"mirror page {n}", data, at, at, at) for n in range(1, big + 1)],
        )
        db.conn.executemany(
            "INSERT INTO incident_events (incident_id, at, action, actor, to_status) "
            "VALUES (?, ?, 'opened', 'b', 'open')",
            [(n, at) for n in range(1, big + 1)],
        )
        db.conn.executemany(
            "INSERT INTO case_incidents (incident_id, case_id, linked_at) VALUES (?, 1, ?)",
            [(n, at) for n in range(1, big + 1)],
        )
        db.conn.executemany(
            "INSERT INTO evidence (incident_id, run_id, at, url, page_url, signature, severity, headers) "
            "VALUES (?, 1, ?, ?, 'https://site1.example/', 'SC-X', 'low', ?)",
            [(n, at, f"https://site1.example/a/{n}.mp3", json.dumps({"server": ["nginx"]})) for n in range(1, big + 1)],
        )
    return 1


def _timed(fn, repeat: int = 5) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--big", type=int, default=20_000, help="incidents (and evidence rows) of the one big case")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(open_db(Path(tmp) / "b.db"))
        big = _fill(store, args.cases, args.big)
        rows = store.list_cases(limit=args.cases)
        deep = list_cursor(rows[-51])
        results = [
            ("list_cases, first page of 50", *_timed(lambda: store.list_cases(limit=50))),
            ("list_cases, page of 50 after a cursor at the end", *_timed(lambda: store.list_cases(after=deep))),
            ("list_cases, status=taken_down, first page", *_timed(lambda: store.list_cases(status="taken_down"))),
            ("case_counts (every scrape)", *_timed(store.case_counts)),
            ("bounded facts of the big case (/api/cases/{id})", *_timed(lambda: bounded_facts(store, big, None))),
            ("full case_facts of the big case", *_timed(lambda: store.case_facts(big), repeat=1)),
        ]
        print(f"{args.cases} cases; the big case has {args.big} incidents, events and evidence rows")
        for name, seconds, out in results:
            size = len(json.dumps(out, default=str)) if isinstance(out, dict) else ""
            print(f"| {name} | {seconds * 1000:.1f} ms | {f'{size / 1e6:.2f} MB JSON' if size else ''} |")
        store.db.close()


if __name__ == "__main__":
    main()
