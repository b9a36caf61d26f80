"""robots.txt parse + group selection time against file size: 1k/2k/4k/8k User-agent lines and files at the 500 KiB cap.

Usage: python benchmarks/robots_parse.py [--baseline REV] [--repeat N]
Each workload is parsed and then asked one matching and one non-matching agent (selection and match included); the
best of N runs is reported. The ratio column compares each size with the one before it: about 2 means linear, about 4
quadratic. With --baseline, the same workloads also run on that git revision's code (exported to a temp directory),
side by side. Results are written down in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CAP = 500 * 1024


def one_group(n: int) -> bytes:
    """n User-agent lines forming one group, then its rule (the shape issue 13 reported)."""
    return "".join(f"User-agent: bot{i}\n" for i in range(n)).encode() + b"Disallow: /private\n"


def fill(line_of, cap: int = CAP) -> bytes:
    out, size, i = [], 0, 0
    while True:
        line = line_of(i).encode()
        if size + len(line) > cap:
            return b"".join(out)
        out.append(line)
        size += len(line)
        i += 1


SCALING = [f"{n}k user-agent lines" for n in (1, 2, 4, 8)]
WORKLOADS = {
    **{name: (lambda n=n: one_group(n * 1000)) for n, name in zip((1, 2, 4, 8), SCALING, strict=True)},
    "500 KiB of user-agent lines": lambda: fill(lambda i: f"User-agent: bot{i}\n"),
    "500 KiB user-agent/sitemap pairs": lambda: fill(lambda i: f"User-agent: b{i}\nSitemap: https://e/{i}\n"),
}


def measure(repeat: int) -> dict[str, float]:
    """Best-of-`repeat` seconds per workload for the code importable as `monitor` in this process."""
    from monitor.policy.robots import parse

    results = {}
    for name, make in WORKLOADS.items():
        body = make()
        best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            robots = parse(body)
            robots.match("bot7", "https://h/private/x")
            robots.match("OtherBot", "https://h/private/x")
            best = min(best, time.perf_counter() - t0)
        results[name] = best
    return results


def run_child(code_root: Path, repeat: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(code_root)}
    out = subprocess.run(
        [sys.executable, __file__, "--child", "--repeat", str(repeat)], env=env, check=True, capture_output=True
    )
    return json.loads(out.stdout)


def export(rev: str, into: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "monitor"], check=True, capture_output=True)
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="git revision to time side by side, e.g. HEAD~3")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.repeat)))
        return
    columns = {"current": run_child(ROOT, args.repeat)}
    if args.baseline:
        with tempfile.TemporaryDirectory() as tmp:
            columns[args.baseline] = run_child(export(args.baseline, Path(tmp)), 1)
    sizes = {name: len(make()) for name, make in WORKLOADS.items()}
    header = ["workload", "bytes"] + [f"{c} s (x prev)" for c in columns]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    previous: dict[str, float] = {}
    for name in WORKLOADS:
        cells = [name, f"{sizes[name]:,}"]
        for column, times in columns.items():
            seconds = times[name]
            step = previous.get(column)
            cells.append(f"{seconds:.3f}" + (f" (x{seconds / step:.1f})" if step and name in SCALING[1:] else ""))
            previous[column] = seconds
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
