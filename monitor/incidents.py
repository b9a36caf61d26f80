"""Pure incident lifecycle: findings plus the previous state become transitions (open, update, escalate,
resolve, reopen), and the rules for the changes people make (acknowledge, resolve, false positive)."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
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

    @property
    def quiet(self) -> bool:
        """Recorded (incident, events) but never alerted: ``data["quiet"]`` (kept with the incident)."""
        return bool(self.data.get("quiet"))


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
    domain: str = ""
    quiet: bool = False  # its finding was quiet: recorded, never alerted
    summary: str | None = None  # the dedupe key of the storm summary it was opened under
    # An event (a file changed): it alerted when it happened and resolves without another message.
    resolves_silently: bool = False


@dataclass(frozen=True)
class Transition:
    """One change to apply to one incident: ``incident`` is None when it is opened for the first time.

    ``clean`` counts a clean run of an active incident that needs more of them before it resolves. ``quiet``
    transitions are recorded without an alert; ``summary`` links an incident to the storm summary that announced it.
    """

    action: Action
    dedupe_key: str
    status: str
    severity: str
    finding: Finding | None
    incident: IncidentState | None
    quiet: bool = False
    summary: str | None = None

    @property
    def alerts(self) -> bool:
        return self.action in ALERTING and not self.quiet


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
        quiet = f.quiet
        if prev is None:
            out.append(Transition("opened", f.dedupe_key, "open", f.severity, f, None, quiet))
        elif prev.status in ACTIVE:  # still the same occurrence: it stays linked to its storm summary
            if SEVERITY_RANK[f.severity] > SEVERITY_RANK[prev.severity]:
                out.append(Transition("escalated", f.dedupe_key, prev.status, f.severity, f, prev, quiet, prev.summary))
            else:
                out.append(
                    Transition("updated", f.dedupe_key, prev.status, prev.severity, f, prev, quiet, prev.summary)
                )
        elif prev.status == "resolved":
            out.append(Transition("reopened", f.dedupe_key, "open", f.severity, f, prev, quiet))
        else:  # false_positive: people decided; keep counting, never alert again
            out.append(Transition("updated", f.dedupe_key, prev.status, prev.severity, f, prev, quiet, prev.summary))
    for key in evaluation.cleared:
        prev = previous.get(key)
        if key in seen or prev is None or prev.status not in ACTIVE:
            continue
        quiet = prev.quiet or prev.resolves_silently
        if prev.clean_runs + 1 < evaluation.resolve_after:
            out.append(Transition("clean", key, prev.status, prev.severity, None, prev, quiet, prev.summary))
        else:
            out.append(Transition("resolved", key, "resolved", prev.severity, None, prev, quiet, prev.summary))
    return out


# ---- storm control -------------------------------------------------------------------------------------------

STORM_PREFIX = "storm:"
MAX_STORM_TITLES = 10
MAX_STORM_KEYS = 200
_RAISING = frozenset({"opened", "reopened", "escalated"})


def _about(t: Transition) -> tuple[str, str]:
    """(domain, kind) of the incident a transition is about."""
    if t.finding is not None:
        return t.finding.domain, t.finding.kind
    assert t.incident is not None
    return t.incident.domain, t.incident.kind


def _storms(transitions: list[Transition], threshold: int) -> dict[str, tuple[str, str, str, list[int]]]:
    """Summary key -> (domain, kind, direction, indices) for every group of more than ``threshold`` alerting
    transitions of one kind on one domain in one direction (raised: opened/reopened/escalated; resolved)."""
    groups: dict[tuple[str, str, str], list[int]] = {}
    for i, t in enumerate(transitions):
        if not t.alerts or t.dedupe_key.startswith(STORM_PREFIX) or (t.action == "resolved" and t.summary):
            continue
        direction = "raised" if t.action in _RAISING else "resolved"
        groups.setdefault((*_about(t), direction), []).append(i)
    out = {}
    for (domain, kind, direction), idx in groups.items():
        if len(idx) > threshold:
            # The same set of incidents storming again is the same storm (reopened), a different set a new one.
            digest = hashlib.sha256("\n".join(sorted(transitions[i].dedupe_key for i in idx)).encode()).hexdigest()
            out[f"{STORM_PREFIX}{kind}:{domain}:{direction}:{digest[:12]}"] = (domain, kind, direction, idx)
    return out


def storm_keys(transitions: list[Transition], threshold: int) -> set[str]:
    """The summary keys :func:`contain_storms` may touch: the store loads their incidents first."""
    if threshold <= 0:
        return set()
    linked = {t.summary for t in transitions if t.action == "resolved" and t.summary}
    return set(_storms(transitions, threshold)) | linked  # type: ignore[arg-type]


def contain_storms(
    transitions: list[Transition],
    previous: Mapping[str, IncidentState],
    threshold: int,
    linked_active: Mapping[str, Collection[str]] | None = None,
) -> list[Transition]:
    """Storm control: more than ``threshold`` alerting transitions of one kind on one domain in one run (0: off)
    become one summary incident that alerts once; the items are still written, quiet, linked by ``summary``.

    An item opened under a summary resolves quietly; its summary resolves (one alert) with the last of them.
    ``previous`` holds the summaries' stored incidents, ``linked_active`` the active items linked to each summary.
    """
    if threshold <= 0:
        return transitions
    out = list(transitions)
    for key, (domain, kind, direction, idx) in _storms(transitions, threshold).items():
        items = [transitions[i] for i in idx]
        for i in idx:
            out[i] = replace(out[i], quiet=True, summary=key)
        finding = _summary(key, domain, kind, direction, items)
        prev = previous.get(key)
        if direction == "raised":
            out += transition(Evaluation(key, [finding]), {key: prev} if prev else {})
        else:  # a summary of resolutions is born resolved: it only announces them
            out.append(Transition("resolved", key, "resolved", finding.severity, finding, prev))
    resolved_now = {t.dedupe_key for t in transitions if t.action == "resolved"}
    for summary in sorted({t.summary for t in transitions if t.action == "resolved" and t.summary}):  # type: ignore[type-var]
        for i, t in enumerate(out):
            if t.action == "resolved" and t.summary == summary:
                out[i] = replace(t, quiet=True)  # announced by its summary: resolved by it too
        prev = previous.get(summary)
        remaining = set((linked_active or {}).get(summary, ())) - resolved_now
        if prev is not None and prev.status in ACTIVE and not remaining:
            out.append(Transition("resolved", summary, "resolved", prev.severity, None, prev))
    return out


def _summary(key: str, domain: str, kind: str, direction: str, items: list[Transition]) -> Finding:
    verb = "opened" if direction == "raised" else "resolved"
    counts = Counter(t.action for t in items)
    titles = [t.finding.title if t.finding else (t.incident.kind if t.incident else "") + " " + t.dedupe_key
              for t in items[:MAX_STORM_TITLES]]  # fmt: skip
    more = f"; and {len(items) - len(titles)} more" if len(items) > len(titles) else ""
    detail = (
        ", ".join(f"{n} {action}" for action, n in sorted(counts.items()))
        + f" in one run. First {len(titles)}: "
        + "; ".join(titles)
        + more
        + "."
    )
    severity = max((t.severity for t in items), key=SEVERITY_RANK.__getitem__)
    return Finding(
        key, kind, severity, domain, f"{len(items)} {kind} incidents {verb} on {domain} at once", detail,
        {"storm": True, "count": len(items), "actions": dict(counts),
         "items": [t.dedupe_key for t in items[:MAX_STORM_KEYS]]},
    )  # fmt: skip


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
