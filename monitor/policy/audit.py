"""Pure policy findings: the verdict matrix against the expected policy and against its previous version."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from monitor.incidents import Finding
from monitor.policy.matrix import Cell

# Groups of a matrix computed from a robots.txt that was not served (4xx: allow all; 5xx/no answer: disallow all):
# such verdicts are never the baseline of a regression (databases written before this rule may still hold them).
NOT_SERVED_GROUPS = frozenset({"unavailable", "unreachable"})
# Lints that deserve an incident (low); the rest are cosmetic and only visible in `policy explain`.
INCIDENT_LINTS = frozenset({"non-rfc-token", "sitemap-splits-run", "html", "over-cap", "ambiguous-group"})
MAX_LISTED = 12


@dataclass(frozen=True)
class Expectation:
    """What must hold (from config ``policy.expect``): agents, forbidden path classes, training reserved."""

    agents: Iterable[str] | None  # None: every agent in the matrix
    disallowed_on: tuple[str, ...]
    training_reserved: bool


@dataclass
class AuditResult:
    findings: list[Finding] = field(default_factory=list)
    cleared: list[str] = field(default_factory=list)
    newly_disallowed: list[Cell] = field(default_factory=list)  # recorded in the verdict history, not alerted


def _names(items: list[str]) -> str:
    shown = ", ".join(items[:MAX_LISTED])
    return shown + (f" and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else "")


def _rule(c: Cell) -> str:
    if c.rule_line is None:
        return f"no rule matched ({c.group} group)"
    return f"line {c.rule_line} `{c.rule_directive}: {c.rule_pattern}` ({c.group} group)"


def _regressions(
    out: AuditResult,
    domain: str,
    cells: list[Cell],
    previous: Mapping[tuple[str, str], Cell],
    expected: set[str] | None,
    open_regressions: Mapping[str, Collection[str]],
    baseline: str,
) -> None:
    """An agent newly allowed where the last served version disallowed it (first audit: baseline, none).

    High for an agent the expectation covers; recorded quietly (info, no alert) for the others. A regression
    resolves once every path class it names is disallowed again (back to the baseline or to the expectation).
    """
    by_agent: dict[str, list[tuple[Cell, Cell]]] = {}
    for c in cells:
        old = previous.get(c.key)
        if old is None or old.group in NOT_SERVED_GROUPS:
            continue
        if c.crawl_allowed and not old.crawl_allowed:
            by_agent.setdefault(c.agent, []).append((old, c))
        elif old.crawl_allowed and not c.crawl_allowed:
            out.newly_disallowed.append(c)
    against = f" Compared with {baseline}." if baseline else ""
    for agent, pairs in sorted(by_agent.items()):
        classes = [new.path_class for _, new in pairs]
        classes += [c for c in open_regressions.get(agent, ()) if c not in classes]  # still regressed since then
        detail = "; ".join(f"{new.path_class} ({new.sample}): was {_rule(old)}, now {_rule(new)}" for old, new in pairs)
        inside = expected is None or agent.lower() in expected
        data = {"agent": agent, "path_classes": classes, "expected": inside}
        if not inside:
            data["quiet"] = True  # outside policy.expect: recorded for the history, not alerted
        out.findings.append(
            Finding(f"policy_regression:{domain}:{agent}", "policy_regression", "high" if inside else "info", domain,
                    f"{agent} is newly allowed on {domain} ({', '.join(classes)})", detail + "." + against, data)
        )  # fmt: skip
    allowed = {c.key for c in cells if c.crawl_allowed}
    for agent, classes in sorted(open_regressions.items()):
        if agent not in by_agent and not any((agent, cls) in allowed for cls in classes):
            out.cleared.append(f"policy_regression:{domain}:{agent}")


def audit(
    domain: str,
    cells: list[Cell],
    previous: Mapping[tuple[str, str], Cell],
    expect: Expectation,
    lint_codes: Iterable[tuple[int | None, str, str]] | None = None,
    *,
    open_regressions: Mapping[str, Collection[str]] | None = None,
    judge_changes: bool = True,
    baseline: str = "",
) -> AuditResult:
    """Findings for one domain: breach of the expectation, per-agent regressions, contradictions, lints.

    ``previous`` is the matrix of the last served robots.txt (``baseline`` names it); ``judge_changes`` is False
    when this matrix does not come from a served robots.txt (missing, unparseable): then no regression is opened
    or resolved. ``open_regressions``: agent -> path classes of its active regression incident.
    """
    out = AuditResult()
    expected = None if expect.agents is None else {a.lower() for a in expect.agents}
    covered = [c for c in cells if expected is None or c.agent.lower() in expected]

    # Breach: an expected agent may crawl a forbidden class, or training is not reserved for it.
    crawling = sorted({c.agent for c in covered if c.path_class in expect.disallowed_on and c.crawl_allowed})
    unreserved = (
        sorted({c.agent for c in covered if c.path_class in expect.disallowed_on and c.train_ai != "no"})
        if expect.training_reserved
        else []
    )
    key = f"policy_breach:{domain}"
    if crawling or unreserved:
        parts = []
        if crawling:
            parts.append(
                f"{len(crawling)} AI agent(s) may crawl {'/'.join(expect.disallowed_on)} paths: {_names(crawling)}"
            )
        if unreserved:
            parts.append(f"training use is not reserved for {len(unreserved)} agent(s): {_names(unreserved)}")
        out.findings.append(
            Finding(key, "policy_breach", "high", domain, f"AI policy on {domain} breaches the expected policy",
                    "; ".join(parts) + ".", {"crawling": crawling, "unreserved": unreserved})
        )  # fmt: skip
    else:
        out.cleared.append(key)
    if judge_changes:
        _regressions(out, domain, cells, previous, expected, open_regressions or {}, baseline)
    # Contradictions between usage signals.
    contradicting = sorted({c.agent for c in cells if c.contradictions})
    key = f"policy_contradiction:{domain}"
    if contradicting:
        out.findings.append(
            Finding(key, "policy_contradiction", "medium", domain, f"AI-usage signals on {domain} contradict",
                    f"Two signals give opposite usage preferences for {_names(contradicting)}.",
                    {"agents": contradicting})
        )  # fmt: skip
    else:
        out.cleared.append(key)

    # Lints of robots.txt that change how crawlers read it (None: robots.txt was not parsed, nothing known).
    if lint_codes is None:
        return out
    serious = [(line, code, msg) for line, code, msg in lint_codes if code in INCIDENT_LINTS]
    key = f"policy_lint:{domain}:robots.txt"
    if serious:
        text = "; ".join(f"line {line}: {msg}" if line else msg for line, _, msg in serious[:MAX_LISTED])
        out.findings.append(
            Finding(key, "policy_lint", "low", domain, f"robots.txt on {domain} has problems crawlers may misread",
                    text, {"lints": [{"line": ln, "code": code} for ln, code, _ in serious]})
        )  # fmt: skip
    else:
        out.cleared.append(key)
    return out
