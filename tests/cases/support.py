"""Helpers for case tests: a store on a real SQLite file and probe runs of exposure-like findings."""

from __future__ import annotations

from monitor.incidents import Evaluation, Evidence, Finding
from monitor.store.core import ProbeRun, Store, utcnow

CID = "Zq8xLm3Np7Rt2Vw9Yb4Cd6Ef1Gh5Jk0M"


def finding(site: str, family: str = "downloader", severity: str = "critical", track: str = "1") -> Finding:
    key = f"exposure:{site}:{family}:{track}"
    kind = "exposure_" + family.replace("-", "_")
    return Finding(key, kind, severity, site, f"{site} {family} ({track})", "detail", {"site": site, "family": family})


def evidence(f: Finding, url: str | None = None, body: bytes | None = None, **data) -> Evidence:
    url = url or f"https://{f.domain}/page"
    return Evidence(f.dedupe_key, url, url, "SC-X", f.severity, body=body, body_type="text/html", data=data)


def run(store: Store, findings: list[Finding], evidence: list[Evidence] = (), cleared: list[str] = (),
        scope: str = "exposure:test", resolve_after: int = 1):  # fmt: skip
    now = utcnow()
    probe = ProbeRun(f"job:{scope}", "watch", "x", now, now, "success", None, 0.1)
    return store.apply(probe, Evaluation(scope, findings, list(cleared), resolve_after), evidence=evidence)


def cases(store: Store) -> list[dict]:
    return list(store.db.query("SELECT * FROM cases ORDER BY id"))


def actions(store: Store, case_id: int) -> list[str]:
    return [r["action"] for r in store.db.query("SELECT action FROM case_events WHERE case_id = ? ORDER BY id",
                                                [case_id])]  # fmt: skip
