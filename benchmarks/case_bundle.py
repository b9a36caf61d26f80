"""Evidence bundle export and verification time and peak memory for a large case.

Usage: python benchmarks/case_bundle.py [--rows N] [--bodies N] [--body-kib K] [--shots N]
A case of N evidence rows whose bodies are drawn from --bodies distinct files of --body-kib KiB (audio heads are
512 KiB), with --shots screenshots of 300 KiB, is stored through Store.apply; the bundle is exported twice (bytes
compared) and verified; the peak Python heap of one more export and verify is traced (tracemalloc).
Results are written down in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.cases.bundle import export, verify
from monitor.db import open_db
from monitor.incidents import Evaluation, Evidence, Finding
from monitor.store import EvidenceFiles, ProbeRun, Store


def traced_peak(call) -> float:
    """Peak Python heap (MiB) allocated while ``call`` runs (tracemalloc: what the export holds, not the setup)."""
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def digest(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--bodies", type=int, default=100)
    parser.add_argument("--body-kib", type=int, default=512)
    parser.add_argument("--shots", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store = Store(open_db(root / "sw.db"), EvidenceFiles(root / "evidence"))
        finding = Finding("exposure:big.example:cdn:-", "exposure_cdn_media", "high", "big.example", "big")
        bodies = [os.urandom(args.body_kib * 1024) for _ in range(args.bodies)]
        shots = [os.urandom(300 * 1024) for _ in range(args.shots)]
        rows = [
            Evidence(finding.dedupe_key, f"https://big.example/a/{i}.mp3", f"https://big.example/p/{i % 50}",
                     "SC-CDN-PROGRESSIVE", "high", body=bodies[i % args.bodies], body_type="audio/mpeg",
                     screenshot=shots[i % args.shots], headers={"content-type": ["audio/mpeg"]})
            for i in range(args.rows)
        ]  # fmt: skip
        run = ProbeRun("w", "exposure_watch", "big.example", "2026-11-01T09:00:00+00:00",
                       "2026-11-01T09:00:05+00:00", "success", None, 5.0)  # fmt: skip
        incident = store.apply(run, Evaluation("exposure:big", [finding]), evidence=rows).incident_ids
        evidence = store.evidence(next(iter(incident.values())), limit=args.rows)
        del bodies, shots, rows
        facts = {"id": 1, "domain": "big.example", "opened_at": "2026-11-01T09:00:05+00:00",
                 "last_seen": "2026-11-01T09:00:05+00:00", "timeline": [], "evidence": evidence}  # fmt: skip
        start = time.perf_counter()
        first = export(facts, store.files, root / "a")
        exported = time.perf_counter() - start
        second = export(facts, store.files, root / "b")
        start = time.perf_counter()
        checked = verify(first.path)
        verified = time.perf_counter() - start
        same = digest(first.path) == digest(second.path)
        size = first.path.stat().st_size / 2**20
        print(f"rows={args.rows} bodies={args.bodies}x{args.body_kib}KiB shots={args.shots}x300KiB")
        print(f"bundle {size:.1f} MiB, {first.files} files, identical on re-export: {same}, verify ok: {checked.ok}")
        print(
            f"export {exported:.2f} s, verify {verified:.2f} s; Python heap peak of an export "
            f"{traced_peak(lambda: export(facts, store.files, root / 'c')):.1f} MiB, of a verify "
            f"{traced_peak(lambda: verify(first.path)):.1f} MiB"
        )


if __name__ == "__main__":
    main()
