"""Pure incident lifecycle: findings plus the previous state become transitions (open, update, escalate,
resolve, reopen), and the rules for the changes people make (acknowledge, resolve, false positive)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from monitor.errors import InvalidTransition

SEVERITY_RANK = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
ACTIVE = ("open", "acknowledged")
Action = Literal["opened", "updated", "escalated", "reopened", "resolved", "clean"]
# Transitions that produce an alert row in the outbox; "updated" is recorded but not announced.
ALERTING: frozenset[str] = frozenset({"opened", "escalated", "reopened", "resolved"})


@dataclass(frozen=True)
class Finding:
    """Something an evaluator saw in this run that deserves (or continues) an incident."""

    dedupe_key: str
    kind: str
    severity: str
    domain: str
    title: str
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITY_RANK:
            raise ValueError(f"unknown severity {self.severity!r}")


@dataclass(frozen=True)
class Evaluation:
    """What one probe run found: ``findings`` present now, ``cleared`` keys checked and found clean.

    ``resolve_after`` is how many consecutive clean runs resolve an active incident (1: the first clean run).
    """

    scope: str
    findings: list[Finding] = field(default_factory=list)
    cleared: list[str] = field(default_factory=list)
    resolve_after: int = 1


@dataclass(frozen=True)
class Evidence:
    """One occurrence of a finding to keep with its incident: where it was seen and the files that show it.

    Evaluators describe it (bytes in hand); the store writes the files, content-addressed, when the run is applied.
    """

    dedupe_key: str
    url: str  # where the match was found (resource or request URL)
    page_url: str  # the page being scanned
    signature: str
    severity: str
    detail: str = ""
    snippet: str = ""
    headers: dict[str, Any] = field(default_factory=dict)
    body: bytes | None = None
    body_type: str = ""
    screenshot: bytes | None = None
    requests: bytes | None = None  # the page's request log
    data: dict[str, Any] = field(default_factory=dict)
    requests_type: str = "application/x-ndjson"


@dataclass(frozen=True)
class IncidentState:
    """The part of a stored incident that the lifecycle needs."""

    id: int
    dedupe_key: str
    kind: str
    severity: str
    status: str
    occurrences: int = 1
    clean_runs: int = 0  # consecutive clean runs since it was last seen


@dataclass(frozen=True)
class Transition:
    """One change to apply to one incident: ``incident`` is None when it is opened for the first time.

    ``clean`` counts a clean run of an active incident that needs more of them before it resolves.
    """

    action: Action
    dedupe_key: str
    status: str
    severity: str
    finding: Finding | None
    incident: IncidentState | None

    @property
    def alerts(self) -> bool:
        return self.action in ALERTING


def transition(evaluation: Evaluation, previous: dict[str, IncidentState]) -> list[Transition]:
    """Turn an evaluation into incident transitions given the stored incidents keyed by dedupe key.

    - new finding -> opened; finding on an active incident -> updated, or escalated when more severe;
    - finding on a resolved incident -> reopened; on a false positive -> updated, staying silent;
    - a cleared key whose incident is active -> resolved once ``evaluation.resolve_after`` consecutive runs were
      clean (``clean`` before that); anything else cleared -> nothing.
    """
    out: list[Transition] = []
    seen: set[str] = set()
    for f in evaluation.findings:
        if f.dedupe_key in seen:
            continue
        seen.add(f.dedupe_key)
        prev = previous.get(f.dedupe_key)
        if prev is None:
            out.append(Transition("opened", f.dedupe_key, "open", f.severity, f, None))
        elif prev.status in ACTIVE:
            if SEVERITY_RANK[f.severity] > SEVERITY_RANK[prev.severity]:
                out.append(Transition("escalated", f.dedupe_key, prev.status, f.severity, f, prev))
            else:
                out.append(Transition("updated", f.dedupe_key, prev.status, prev.severity, f, prev))
        elif prev.status == "resolved":
            out.append(Transition("reopened", f.dedupe_key, "open", f.severity, f, prev))
        else:  # false_positive: people decided; keep counting, never alert again
            out.append(Transition("updated", f.dedupe_key, prev.status, prev.severity, f, prev))
    for key in evaluation.cleared:
        prev = previous.get(key)
        if key in seen or prev is None or prev.status not in ACTIVE:
            continue
        if prev.clean_runs + 1 < evaluation.resolve_after:
            out.append(Transition("clean", key, prev.status, prev.severity, None, prev))
        else:
            out.append(Transition("resolved", key, "resolved", prev.severity, None, prev))
    return out


# What people may do: action -> (statuses it applies to, status it leads to).
MANUAL_ACTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "acknowledged": (("open",), "acknowledged"),
    "resolved": (("open", "acknowledged"), "resolved"),
    "false_positive": (("open", "acknowledged", "resolved"), "false_positive"),
    "reopened": (("resolved", "false_positive"), "open"),
}


def manual_status(action: str, current_status: str) -> str:
    """The status an incident moves to when a person takes ``action``; raises InvalidTransition."""
    if action not in MANUAL_ACTIONS:
        raise InvalidTransition(f"unknown action {action!r}")
    allowed, target = MANUAL_ACTIONS[action]
    if current_status not in allowed:
        raise InvalidTransition(f"the incident is {current_status}; it cannot become {target}")
    return target
