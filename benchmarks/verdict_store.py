"""What storing a policy audit's verdict matrix costs the coordinator, per domain, in a real SQLite file.

Two robots.txt shapes, each audited for every agent of the bundled registry over the default path classes:
``soundcloud`` (the demo's soundcloud.com file: one named group, one 21-agent group and ``*``) and ``plain``
(one ``*`` group, as most third-party sites serve). For each: the matrix computed once, then the store's
``verdicts.apply`` + ``verdicts.current`` timed over many domains, each inside its own transaction as
``Store.apply`` runs it — a first audit (nothing stored), a re-audit with nothing changed, and a re-audit where
one agent's group changed. Prints rows written per domain, milliseconds per domain, what /metrics spends on the
verdicts in force and the database's size.

Usage: python benchmarks/verdict_store.py [--domains N]
Results are written down in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from monitor.agents import load_registry  # noqa: E402
from monitor.db import open_db  # noqa: E402
from monitor.policy.matrix import Cell, DomainSignals, compute  # noqa: E402
from monitor.policy.robots import fetch_verdict  # noqa: E402
from monitor.settings.policy import _default_path_classes  # noqa: E402
from monitor.store import verdicts  # noqa: E402

SOUNDCLOUD = (HERE.parent / "monitor/demo/sites/soundcloud.com/robots.txt").read_bytes()
PLAIN = b"User-agent: *\nDisallow: /private/\nAllow: /\n"


def matrix(domain: str, body: bytes) -> list[Cell]:
    agents = load_registry().tokens()
    return compute(domain, DomainSignals(fetch_verdict(200, body)), agents, _default_path_classes())


def _timed(db, label: str, per_domain) -> tuple[str, float]:
    times = []
    for i, cells in enumerate(per_domain):
        start = time.perf_counter()
        with db.conn:
            before = verdicts.current(db, cells[0].domain)
            verdicts.apply(db, cells[0].domain, cells, f"2026-12-0{1 + i % 1}T00:00:{i % 60:02d}", before)
        times.append(time.perf_counter() - start)
    return label, statistics.median(times) * 1000


def _scrape(db) -> tuple[float, int]:
    """What /metrics spends on the verdicts in force (``metrics_sql.policy_metrics``) and the series it makes."""
    from prometheus_client.core import GaugeMetricFamily

    from monitor.metrics_sql import policy_metrics

    times, series = [], 0
    for _ in range(5):
        families = [
            GaugeMetricFamily(name, "", labels=labels)
            for name, labels in (
                ("allowed", ["domain", "agent", "path_class"]),
                ("restriction", ["domain", "agent"]),
                ("contradictions", ["domain"]),
                ("last_change", ["domain"]),
                ("present", ["domain", "file"]),
            )
        ]
        start = time.perf_counter()
        policy_metrics(db.conn, *families)
        times.append(time.perf_counter() - start)
        series = len(families[0].samples)
    return statistics.median(times) * 1000, series


def run(shape: str, body: bytes, n: int) -> None:
    template = matrix("d0.example", body)
    domains = [[replace(c, domain=f"d{i}.example") for c in template] for i in range(n)]
    moved = template[0].agent  # the first agent gets its own, different verdicts: one group changes
    changed = [
        [replace(c, crawl_allowed=not c.crawl_allowed, group="specific") if c.agent == moved else c for c in cells]
        for cells in domains
    ]
    with tempfile.TemporaryDirectory() as tmp:
        db = open_db(Path(tmp) / "v.db")
        rows = []
        for label, cells in (("first audit", domains), ("re-audit, unchanged", domains), ("one agent moved", changed)):
            before = db.execute("SELECT count(*) FROM policy_verdicts").fetchone()[0]
            rows.append((*_timed(db, label, cells), before))
        total = db.execute("SELECT count(*) FROM policy_verdicts").fetchone()[0]
        scrape_ms, series = _scrape(db)
        db.conn.execute("VACUUM")
        size = (Path(tmp) / "v.db").stat().st_size
        db.close()
    print(f"\n{shape}: {len(template)} cells per domain ({len({c.agent for c in template})} agents), {n} domains")
    for i, (label, ms, before) in enumerate(rows):
        after = rows[i + 1][2] if i + 1 < len(rows) else total
        print(f"  {label:22} {ms:7.2f} ms/domain (median)  {(after - before) / n:7.1f} rows written/domain")
    print(f"  /metrics policy collection: {scrape_ms:.0f} ms (median of 5) for {series} allowed series")
    print(f"  database after the three passes: {size / 1024:.0f} KiB, {total / n:.1f} verdict rows per domain")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--domains", type=int, default=200)
    args = parser.parse_args()
    for shape, body in (("soundcloud", SOUNDCLOUD), ("plain", PLAIN)):
        run(shape, body, args.domains)


if __name__ == "__main__":
    main()
