"""Precision of the policy audit over a simulated year: weekly robots.txt edits and daily transient failures (503,
timeouts) at a 2 % rate, for four protected hosts, through the real policy probe evaluation and a real SQLite store.

Usage: python benchmarks/precision.py [--runs-per-host 1460] [--failure-rate 0.02] [--seed 7]
Prints incidents and alert messages (outbox rows) by kind and transition; results are in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from monitor.agents import load_registry  # noqa: E402
from monitor.db import open_db  # noqa: E402
from monitor.probes.base import record  # noqa: E402
from monitor.probes.policy import PolicySnapshotProbe  # noqa: E402
from monitor.settings import ProtectedDomain, load_settings  # noqa: E402
from monitor.store import Store  # noqa: E402
from spiders.items import PolicyFileItem  # noqa: E402

HOSTS = ("soundcloud.com", "m.soundcloud.com", "api-v2.soundcloud.com", "on.soundcloud.com")
RUNS_PER_DAY = 4
STRICT = b"User-agent: *\nContent-Signal: search=yes, ai-train=no\nDisallow: /\nAllow: /$\n"
# The weekly edit cycle: cosmetic (a comment), weakened (GPTBot may crawl everything), strict again, a new sitemap.
VARIANTS = (
    STRICT,
    STRICT + b"# reviewed by trust & safety\n",
    STRICT + b"\nUser-agent: GPTBot\nAllow: /\n",
    STRICT,
    STRICT + b"Sitemap: https://soundcloud.com/sitemap.xml\n",
)
WEAKENED = {2}
PAGE = b"<!doctype html><html><head><meta name='robots' content='noai, noimageai'></head><body>track</body></html>"


def items(domain: ProtectedDomain, pages: dict[str, str], robots: bytes, failure: str | None) -> list[PolicyFileItem]:
    """What the spider would have yielded for one run: every file, or the same failure for every file."""
    urls = {file: domain.url(file) for file in domain.files} | pages
    out = []
    for file, url in urls.items():
        if failure == "503":
            out.append(PolicyFileItem(domain.domain, file, url, status=503, body=b"busy", error_kind="http_5xx"))
        elif failure == "timeout":
            out.append(PolicyFileItem(domain.domain, file, url, error_kind="timeout", error_detail="took too long"))
        elif file == "robots.txt":
            out.append(PolicyFileItem(domain.domain, file, url, status=200, body=robots, size=len(robots)))
        elif file == "ai.txt":
            body = b"User-agent: *\nDisallow: /\n"
            headers = {"content-type": "text/plain"}
            out.append(PolicyFileItem(domain.domain, file, url, status=200, body=body, headers=headers))
        elif file.startswith("page:"):
            headers = {"content-type": "text/html"}
            out.append(PolicyFileItem(domain.domain, file, url, status=200, body=PAGE, headers=headers))
        else:
            out.append(PolicyFileItem(domain.domain, file, url, status=404, error_kind="http_4xx"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-per-host", type=int, default=365 * RUNS_PER_DAY)
    parser.add_argument("--failure-rate", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    settings = load_settings(env={})
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(open_db(Path(tmp) / "precision.db"), storm_threshold=settings.alerts.storm_threshold)
        agents = load_registry(None).tokens()
        probe = PolicySnapshotProbe(
            store, None, agents, settings.policy, health_threshold=settings.alerts.probe_failures
        )
        failures: Counter[str] = Counter()
        changes = weakenings = 0
        t0 = time.perf_counter()
        for host in HOSTS:
            domain = ProtectedDomain(domain=host)
            pages = probe.pages(domain)
            job = probe.job(f"policy_snapshot:{host}", domain)
            served = None
            for n in range(args.runs_per_host):
                week = n // (7 * RUNS_PER_DAY)
                variant = week % len(VARIANTS)
                robots = VARIANTS[variant]
                failure = None
                if rng.random() < args.failure_rate:
                    failure = rng.choice(("503", "timeout"))
                    failures[failure] += 1
                elif robots != served:
                    if served is not None:
                        changes += 1
                        weakenings += variant in WEAKENED
                    served = robots
                outcome = asyncio.run(probe._evaluate(domain, items(domain, pages, robots, failure)))
                record(probe, job, outcome, "", time.monotonic())
        elapsed = time.perf_counter() - t0
        db = store.db
        runs = db.execute("SELECT count(*) FROM probe_runs").fetchone()[0]
        print(f"{len(HOSTS)} hosts x {args.runs_per_host} runs = {runs} runs in {elapsed:.1f} s; {len(agents)} agents")
        print(f"served robots.txt changes: {changes} ({weakenings} weakenings); transient failures: {dict(failures)}")
        print("incidents by kind (opened ever / open at the end):")
        for kind, total, still in db.execute(
            "SELECT kind, count(*), sum(status IN ('open', 'acknowledged')) FROM incidents GROUP BY kind ORDER BY kind"
        ):
            print(f"  {kind:26} {total:5} {still:5}")
        print("alert messages (outbox rows) by kind and transition:")
        for kind, transition, count in db.execute(
            "SELECT json_extract(payload, '$.kind'), transition, count(*) FROM alert_outbox GROUP BY 1, 2 ORDER BY 1, 2"
        ):
            print(f"  {kind:26} {transition:10} {count:5}")
        total = db.execute("SELECT count(*) FROM alert_outbox").fetchone()[0]
        events = db.execute("SELECT action, count(*) FROM incident_events GROUP BY action ORDER BY action").fetchall()
        print(f"alert messages: {total}; incident events: {dict(events)}")
        final = VARIANTS[((args.runs_per_host - 1) // (7 * RUNS_PER_DAY)) % len(VARIANTS)]
        print(f"final robots.txt weakened: {final in [VARIANTS[i] for i in WEAKENED]}")


if __name__ == "__main__":
    main()
