"""The read side as history grows: builds a small and a large database THROUGH THE STORE (Store.apply with synthetic
runs: incidents, sightings, policy observations, verdict versions, a flapping incident, alert deliveries) and times
every read endpoint over loopback HTTP against the real web server (build_site on the Twisted reactor).

Usage: python benchmarks/read_paths.py [--small-incidents N] [--large-incidents N] [--large-observations N]
           [--requests R] [--keep DIR]
       python benchmarks/read_paths.py --sightings-only [--standing N] [--runs R]
Prints the build of each database and a table of p50/p95 per endpoint; results go to benchmarks/RESULTS.md.
``--sightings-only`` builds only the standing findings seen again and again (with evidence whose Date header changes
every run) and prints the events and evidence rows they wrote.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from monitor import metrics  # noqa: E402
from monitor.db import open_db  # noqa: E402
from monitor.incidents import Evaluation, Evidence, Finding  # noqa: E402
from monitor.policy.matrix import Cell  # noqa: E402
from monitor.policy.snapshot import FileVerdict  # noqa: E402
from monitor.settings import AlertChannel  # noqa: E402
from monitor.store import alerts as store_alerts  # noqa: E402
from monitor.store.core import ProbeRun, Store  # noqa: E402
from monitor.store.files import EvidenceFiles  # noqa: E402
from spiders.items import PolicyFileItem  # noqa: E402

KINDS = ("exposure_mirror", "exposure_downloader", "canary_leak", "archive_capture", "dataset_listing",
         "watch_player", "policy_regression", "probe_health")  # fmt: skip
SEVERITIES = ("info", "low", "medium", "high", "critical")
WATCHED = 300  # the watchlist's domains: history grows, the watchlist does not
PROTECTED = 5  # policy domains, each with AGENTS x CLASSES verdict cells
AGENTS, CLASSES = 100, 6
FILES = ("robots.txt", "ai.txt", ".well-known/tdmrep.json", "page:tracks", "page:audio")
T0 = datetime(2025, 1, 1, tzinfo=UTC)


@dataclass
class Size:
    name: str
    incidents: int
    observations: int
    sightings: int  # runs re-seeing the standing findings (each sees 1/10 of the incidents)
    flaps: int  # open/resolve cycles of the one incident with a long timeline
    verdict_versions: int  # re-audits per protected domain, each changing 1/10 of the cells


class Clock:
    """Synthetic run times, one step per run, so that last_seen spreads like a real history."""

    def __init__(self) -> None:
        self.t = T0

    def run(self, job: str = "bench", domain: str = "x.example") -> ProbeRun:
        self.t += timedelta(seconds=7)
        now = self.t.isoformat(timespec="microseconds")
        return ProbeRun(job, "watch", domain, now, now, "success", None, 0.1)


def _finding(i: int, detail: str = "") -> Finding:
    return Finding(f"bench:{i}", KINDS[i % len(KINDS)], SEVERITIES[(i * 7) % 5], f"site{i % WATCHED}.example",
                   f"synthetic finding {i}", detail)  # fmt: skip


def _sighting(i: int, now: str) -> Evidence:
    """What a run sees of standing finding ``i``: the same page each time, the response's Date header aside."""
    return Evidence(f"bench:{i}", f"https://site{i % WATCHED}.example/p{i}", f"https://site{i % WATCHED}.example/",
                    "SC-DL-PAGE", SEVERITIES[(i * 7) % 5], detail="offers a download", snippet=f"link {i}",
                    headers={"content-type": ["text/html"], "date": [now]}, body=b"<html>the same page</html>",
                    body_type="text/html")  # fmt: skip


def see_standing(store: Store, clock: Clock, standing: list[int], runs: int) -> None:
    """``runs`` runs, each re-seeing 1/10 of ``standing`` with its evidence: counted, not events or evidence rows."""
    for n in range(runs):
        part = standing[n % 10 :: 10]
        run = clock.run()
        store.apply(run, Evaluation("bench", [_finding(i) for i in part]),
                    evidence=[_sighting(i, run.finished_at) for i in part])  # fmt: skip


def sightings_only(path: Path, standing: int, runs: int) -> None:
    """The standing findings alone: open them with evidence, see them again ``runs`` times, count what was written."""
    store = Store(open_db(path), EvidenceFiles(path.parent / "evidence"), storm_threshold=0)
    clock = Clock()
    for at in range(0, standing, 500):
        part = range(at, min(at + 500, standing))
        run = clock.run()
        store.apply(run, Evaluation("bench", [_finding(i) for i in part]),
                    evidence=[_sighting(i, run.finished_at) for i in part])  # fmt: skip
    before = {t: store.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("incident_events", "evidence")}
    t = time.perf_counter()
    see_standing(store, clock, list(range(standing)), runs)
    took = time.perf_counter() - t
    seen = store.db.execute("SELECT sum(sightings) - count(*) FROM evidence").fetchone()[0]
    after = {t: store.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in before}
    print(
        f"{standing:,} standing findings, {runs} runs re-seeing 1/10 of them: {seen:,} sightings wrote "
        f"{after['incident_events'] - before['incident_events']:,} events and "
        f"{after['evidence'] - before['evidence']:,} evidence rows ({after['evidence']:,} rows in all, the "
        f"largest sightings {store.db.execute('SELECT max(sightings) FROM evidence').fetchone()[0]})"
    )
    store.db.execute("VACUUM")
    store.db.close()
    print(f"the database: {path.stat().st_size / 2**20:.1f} MiB after VACUUM; the sightings took {took:.0f} s")


def _cells(domain: str, version: int) -> list[Cell]:
    out = []
    for a in range(AGENTS):
        for c in range(CLASSES):
            changed = (a * CLASSES + c) % 10 == version % 10 and version > 0  # 1/10 of the cells per re-audit
            allowed = (a + c + (version if changed else 0)) % 2 == 0
            out.append(Cell(domain, f"agent{a}", f"class{c}", allowed, "/x", "specific", 3, "disallow", "/",
                            None, None, None, None, None, None, "partial", version if changed else 0))  # fmt: skip
    return out


def build(path: Path, size: Size) -> tuple[int, dict[str, float]]:
    """The database of one size, every row written by Store.apply (or the alert store); the flapping incident's id."""
    # A benchmark's thousands of openings are not a storm.
    store = Store(open_db(path), EvidenceFiles(path.parent / f"{path.stem}-evidence"), storm_threshold=0)
    clock, took = Clock(), {}
    t = time.perf_counter()
    for at in range(0, size.incidents, 500):  # one run opens 500 incidents (big crawls do)
        store.apply(clock.run(), Evaluation("bench", [_finding(i) for i in range(at, min(at + 500, size.incidents))]))
    for at in range(0, size.incidents, 1000):  # 7 in 10 resolve
        store.apply(
            clock.run(), Evaluation("bench", cleared=[f"bench:{i}" for i in range(at, at + 1000) if i % 10 < 7])
        )
    standing = [i for i in range(size.incidents) if i % 10 == 7]
    see_standing(store, clock, standing, size.sightings)  # seen again and again: counted, not events
    took["incidents"] = time.perf_counter() - t
    t = time.perf_counter()
    flappy = store.apply(clock.run(), Evaluation("flap", [Finding("flappy", "watch_player", "high", "flap.example",
                                                                   "flaps", data={"quiet": True})]))  # fmt: skip
    for _ in range(size.flaps):
        store.apply(clock.run(), Evaluation("flap", cleared=["flappy"]))
        store.apply(clock.run(), Evaluation("flap", [Finding("flappy", "watch_player", "high", "flap.example",
                                                             "flaps", data={"quiet": True})]))  # fmt: skip
    took["flapping incident"] = time.perf_counter() - t
    t = time.perf_counter()
    keys = [(f"policy{d}.example", f) for d in range(PROTECTED) for f in FILES]
    body = b"User-agent: *\nDisallow: /\n"
    sha = hashlib.sha256(body).hexdigest()
    written, first = 0, True
    while written < size.observations:
        batch = []
        for _ in range(max(1, min(1000, (size.observations - written) // len(keys)))):
            now = clock.run().finished_at
            batch += [(PolicyFileItem(d, f, f"https://{d}/{f}", status=200, body=body, size=len(body), fetched_at=now),
                       FileVerdict("present", sha, first, [], [])) for d, f in keys]  # fmt: skip
            first = False
        store.apply(clock.run(), Evaluation("policy"), files=batch)
        written += len(batch)
    took["observations"] = time.perf_counter() - t
    t = time.perf_counter()
    for d in range(PROTECTED):
        domain, before = f"policy{d}.example", None
        for version in range(size.verdict_versions + 1):
            cells = _cells(domain, version)
            store.apply(clock.run(domain=domain), Evaluation("policy"), cells=cells, previous_cells=before)
            before = {c.key: c for c in cells}
    took["verdict versions"] = time.perf_counter() - t
    t = time.perf_counter()
    channels = {n: AlertChannel(name=n, url=f"json://127.0.0.1:9/{n}", min_severity="info") for n in ("ops", "oncall")}
    now = T0 + timedelta(days=400)
    while store.db.execute("SELECT 1 FROM alert_outbox WHERE routed_at IS NULL LIMIT 1").fetchone():
        store_alerts.route_new(store, channels, [], now, limit=5000)
    # Delivered, as a working sender leaves them: one in ten of one channel's a dead letter, the newest 20 pending.
    ids = [r[0] for r in store.db.execute("SELECT id FROM alert_deliveries ORDER BY id")][:-20]
    dead = set(ids[::20])
    for at in range(0, len(ids), 5000):
        chunk = ids[at : at + 5000]
        store_alerts.mark_failed(store, [(i, None) for i in chunk if i in dead], "refused", now)
        store_alerts.mark_sent(store, [i for i in chunk if i not in dead], "bench", now)
    took["alert deliveries"] = time.perf_counter() - t
    store.db.execute("ANALYZE")
    store.db.close()
    return flappy.incident_ids["flappy"], took


def counts(path: Path) -> dict[str, int]:
    conn = open_db(path, migrate=False).conn
    try:
        tables = ("incidents", "incident_events", "evidence", "observations", "policy_verdicts", "alert_deliveries")
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
    finally:
        conn.close()


# ---- serving and timing ----------------------------------------------------------------------------------------


class Server:
    """build_site() on 127.0.0.1 with the reactor's loop in a thread; ``path`` picks the database served."""

    def __init__(self) -> None:
        from monitor.runtime import reactor
        from monitor.web.server import build_site

        self.path: Path | None = None
        self.loop = reactor.loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        from twisted.internet import reactor as twisted_reactor

        site = build_site(lambda: Store(open_db(self.path, migrate=False)), lambda: (True, {}))
        metrics.REGISTRY.register(metrics.StoreCollector(lambda: open_db(self.path, migrate=False).conn))

        async def listen():
            return twisted_reactor.listenTCP(0, site, interface="127.0.0.1")

        self.port = asyncio.run_coroutine_threadsafe(listen(), self.loop).result(30).getHost().port
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def get(self, target: str) -> bytes:
        self.conn.request("GET", target)
        response = self.conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{target}: {response.status} {body[:200]!r}")
        return body


def timed(server: Server, targets: dict[str, tuple[Path, str]], repeat: int) -> dict[str, tuple[float, float, int]]:
    """p50, p95 (ms) and body size per size, the sizes' requests interleaved so that the machine's load (shared,
    and it changes by the minute) weighs on both alike."""
    samples: dict[str, list[float]] = {name: [] for name in targets}
    size: dict[str, int] = {}
    for n in range(repeat + 3):  # the first 3 warm the page cache and the connection
        for name, (path, target) in targets.items():
            server.path = path
            t = time.perf_counter()
            size[name] = len(server.get(target))
            if n >= 3:
                samples[name].append((time.perf_counter() - t) * 1000)
    out = {}
    for name, got in samples.items():
        got.sort()
        out[name] = (statistics.median(got), got[min(len(got) - 1, int(len(got) * 0.95))], size[name])
    return out


def endpoints(server: Server, path: Path, flappy: int) -> dict[str, str]:
    """The endpoint label -> the request, with page 50's cursor found by walking the next links."""
    server.path = path
    target = "/api/incidents?limit=20"
    for _ in range(49):
        nxt = json.loads(server.get(target))["next"]
        target = nxt
    assert target and "after=" in target, "the database is too small for page 50 of 20"
    more = urlsplit(json.loads(server.get(f"/api/incidents/{flappy}"))["events_next"])
    return {
        "/api/incidents": "/api/incidents",
        "/api/incidents?kind=": "/api/incidents?kind=canary_leak",
        "/api/incidents?domain=": "/api/incidents?domain=site7.example",
        "page 50 of 20 (cursor)": target,
        "page 50 of 20 (offset, old links)": "/api/incidents?limit=20&offset=980",
        "/triage": "/triage",
        "/triage?kind=&status=all": "/triage?kind=exposure_mirror&status=all",
        "/metrics": "/metrics",
        "/api/incidents/{id} (long timeline)": f"/api/incidents/{flappy}",
        "its events, next page": f"{more.path}?{more.query}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small-incidents", type=int, default=1_200)
    parser.add_argument("--large-incidents", type=int, default=50_000)
    parser.add_argument("--large-observations", type=int, default=1_000_000)
    parser.add_argument("--large-flaps", type=int, default=20_000, help="open/resolve cycles: 2 events each")
    parser.add_argument("--requests", type=int, default=100, help="timed requests per endpoint and size")
    parser.add_argument("--keep", help="build the databases in this directory (reused when present)")
    parser.add_argument("--sightings-only", action="store_true", help="only count what repeated sightings write")
    parser.add_argument("--standing", type=int, default=5_000, help="standing findings (--sightings-only)")
    parser.add_argument("--runs", type=int, default=200, help="runs re-seeing 1/10 of them (--sightings-only)")
    args = parser.parse_args()
    if args.sightings_only:
        sightings_only(Path(tempfile.mkdtemp(prefix="sightings-")) / "sightings.db", args.standing, args.runs)
        return
    sizes = [
        Size("small", args.small_incidents, 1_000, 20, 400, 5),
        Size("large", args.large_incidents, args.large_observations, 200, args.large_flaps, 200),
    ]
    root = Path(args.keep or tempfile.mkdtemp(prefix="read-paths-"))
    root.mkdir(parents=True, exist_ok=True)
    built = {}
    for size in sizes:
        path = root / f"{size.name}.db"
        meta = root / f"{size.name}.json"
        if path.exists() and meta.exists():
            flappy, took = json.loads(meta.read_text())
        else:
            path.unlink(missing_ok=True)
            flappy, took = build(path, size)
            meta.write_text(json.dumps([flappy, took]))
        built[size.name] = (path, flappy)
        rows = counts(path)
        print(f"{size.name}: {', '.join(f'{n:,} {t}' for t, n in rows.items())}; "
              f"{path.stat().st_size / 2**20:.0f} MiB; built in {sum(took.values()):.0f} s "
              f"({', '.join(f'{k} {v:.0f} s' for k, v in took.items())})")  # fmt: skip
    server = Server()
    targets = {name: endpoints(server, path, flappy) for name, (path, flappy) in built.items()}
    results = {
        label: timed(server, {name: (built[name][0], targets[name][label]) for name in built}, args.requests)
        for label in targets["small"]
    }
    print(f"\n{args.requests} requests per endpoint and size over loopback HTTP, milliseconds")
    print("| endpoint | small p50 | small p95 | large p50 | large p95 | p95 large/small | body small / large |")
    print("|---|---|---|---|---|---|---|")
    for label, by in results.items():
        (s50, s95, sb), (l50, l95, lb) = by["small"], by["large"]
        print(f"| {label} | {s50:.1f} | {s95:.1f} | {l50:.1f} | {l95:.1f} | {l95 / s95:.2f} | "
              f"{sb / 1024:.0f} KiB / {lb / 1024:.0f} KiB |")  # fmt: skip


if __name__ == "__main__":
    main()
