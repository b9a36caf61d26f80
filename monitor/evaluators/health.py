"""Pure probe-health evaluator: N consecutive failed runs of one job open a ``probe_health`` incident, a success
resolves it. The incident machinery turns that into opened / reopened / resolved alerts through the outbox."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from monitor.incidents import Evaluation, Finding

KIND = "probe_health"
SEVERITY = "medium"


@dataclass(frozen=True)
class RunStreak:
    """The recent history of one job: its latest outcome and the failed runs since its last success."""

    job: str
    domain: str
    latest_outcome: str | None  # None: the job has never run
    consecutive_failures: int
    error_kinds: tuple[str, ...] = ()  # of those failed runs, newest first


def dedupe_key(job: str) -> str:
    return f"{KIND}:{job}"


def evaluate(streak: RunStreak, threshold: int) -> Evaluation:
    """A finding once ``threshold`` runs in a row failed; the key cleared when the latest run succeeded."""
    scope = f"{KIND}:{streak.job}"
    key = dedupe_key(streak.job)
    if streak.latest_outcome == "success":
        return Evaluation(scope, cleared=[key])
    if streak.latest_outcome != "failure" or streak.consecutive_failures < threshold:
        return Evaluation(scope)
    kinds = Counter(k for k in streak.error_kinds if k)
    summary = ", ".join(f"{k} x{n}" for k, n in kinds.most_common()) or "unknown errors"
    finding = Finding(
        dedupe_key=key,
        kind=KIND,
        severity=SEVERITY,
        domain=streak.domain,
        title=f"{streak.job} failed {streak.consecutive_failures} runs in a row",
        detail=f"The last {streak.consecutive_failures} runs of {streak.job} failed ({summary}).",
        data={
            "job": streak.job,
            "consecutive_failures": streak.consecutive_failures,
            "error_kinds": dict(kinds),
            "threshold": threshold,
        },
    )
    return Evaluation(scope, findings=[finding])
