"""Pure policy findings: the verdict matrix against the expected policy and against its previous version."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from monitor.incidents import Finding
from monitor.policy.matrix import Cell

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


def audit(
    domain: str,
    cells: list[Cell],
    previous: Mapping[tuple[str, str], Cell],
    expect: Expectation,
    lint_codes: Iterable[tuple[int | None, str, str]] | None = None,
) -> AuditResult:
    """Findings for one domain: breach of the expectation, per-agent regressions, contradictions, lints."""
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

    # Regressions: an agent newly allowed where it was disallowed (first audit: baseline, no regression).
    by_agent: dict[str, list[tuple[Cell, Cell]]] = {}
    for c in cells:
        old = previous.get(c.key)
        if old is None:
            continue
        if c.crawl_allowed and not old.crawl_allowed:
            by_agent.setdefault(c.agent, []).append((old, c))
        elif old.crawl_allowed and not c.crawl_allowed:
            out.newly_disallowed.append(c)
    for agent, pairs in sorted(by_agent.items()):
        classes = [new.path_class for _, new in pairs]
        detail = "; ".join(f"{new.path_class} ({new.sample}): was {_rule(old)}, now {_rule(new)}" for old, new in pairs)
        out.findings.append(
            Finding(f"policy_regression:{domain}:{agent}", "policy_regression", "high", domain,
                    f"{agent} is newly allowed on {domain} ({', '.join(classes)})", detail + ".",
                    {"agent": agent, "path_classes": classes})
        )  # fmt: skip
    if previous:
        forbidden: dict[str, list[Cell]] = {}
        for c in cells:
            if c.path_class in expect.disallowed_on:
                forbidden.setdefault(c.agent, []).append(c)
        for agent in sorted(set(forbidden) - set(by_agent)):
            agent_cells = forbidden[agent]
            if not any(c.crawl_allowed for c in agent_cells):
                out.cleared.append(f"policy_regression:{domain}:{agent}")

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
