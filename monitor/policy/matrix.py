"""Pure verdict matrix: for one domain, every agent x path class -> crawl verdict with its rule and group,
usage verdicts (train-ai, ai-input, search) with their sources, and a restriction class."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from monitor.policy import aitxt as aitxt_mod
from monitor.policy.robots_fetch import FetchPolicy, FetchState
from monitor.policy.signals import (
    GroupLine,
    UsagePrefs,
    check,
    combine,
    parse_content_signals,
    parse_content_usage_rules,
)
from monitor.policy.signals.model import Decision

USAGE_PURPOSES = ("train-ai", "ai-input", "search")


@dataclass(frozen=True)
class Cell:
    """One (domain, agent, path class) verdict. Equal cells mean nothing changed."""

    domain: str
    agent: str
    path_class: str
    crawl_allowed: bool
    sample: str  # the sample path that decided the class (the first allowed one, else the first)
    group: str  # specific | global | none | unavailable | unreachable
    rule_line: int | None
    rule_directive: str | None
    rule_pattern: str | None
    train_ai: str | None
    train_ai_source: str | None
    ai_input: str | None
    ai_input_source: str | None
    search: str | None
    search_source: str | None
    restriction: str  # full | partial | none: over every path class for this agent
    contradictions: int = 0

    @property
    def key(self) -> tuple[str, str]:
        return (self.agent, self.path_class)


@dataclass(frozen=True)
class DomainSignals:
    """The parsed signals of one domain that the matrix reads."""

    robots: FetchPolicy
    aitxt: aitxt_mod.AiTxt | None = None


def _source(d: Decision | None) -> str | None:
    if d is None:
        return None
    s = d.source
    return f"{s.signal}:{s.line}" if s.line is not None else s.signal


def _lines(policy: FetchPolicy, key: str) -> tuple[list[GroupLine], list[tuple[str, ...]]]:
    robots = policy.robots
    if robots is None:
        return [], []
    groups = robots.groups
    out = []
    for r in robots.records_for(key):
        agents = groups[r.group].tokens if r.group is not None and r.group < len(groups) else ()
        out.append(GroupLine(r.line, r.value, tuple(agents)))
    return out, [g.tokens for g in groups]


def compute(
    domain: str, signals: DomainSignals, agents: Iterable[str], path_classes: Mapping[str, list[str]]
) -> list[Cell]:
    """The matrix for ``domain``: one Cell per agent x path class, deterministic order."""
    policy = signals.robots
    cs_lines, group_agents = _lines(policy, "content-signal")
    cu_lines, _ = _lines(policy, "content-usage")
    content_signals = parse_content_signals(cs_lines)
    content_usage = parse_content_usage_rules(cu_lines)
    state_group = {FetchState.UNAVAILABLE: "unavailable", FetchState.UNREACHABLE: "unreachable"}.get(policy.state)
    cells: list[Cell] = []
    for agent in agents:
        row: list[Cell] = []
        for path_class, samples in path_classes.items():
            verdicts = [(path, policy.match(agent, f"https://{domain}{path}")) for path in samples]
            sample, verdict = next(((p, v) for p, v in verdicts if v.allowed), verdicts[0])
            statements: list[UsagePrefs] = [
                content_signals.for_agent(agent, group_agents),
                content_usage.prefs_for(agent, sample, group_agents),
            ]
            if signals.aitxt is not None and signals.aitxt.valid:
                statements.append(aitxt_mod.to_usage(aitxt_mod.may_use(signals.aitxt, agent, sample)))
            usage = combine(*statements)
            decided = {p: usage.get(p) for p in USAGE_PURPOSES}
            contradictions = sum(1 for f in check(statements, crawl_allowed=verdict.allowed) if f.is_contradiction)
            rule = verdict.rule
            row.append(
                Cell(
                    domain=domain,
                    agent=agent,
                    path_class=path_class,
                    crawl_allowed=verdict.allowed,
                    sample=sample,
                    group=state_group or verdict.group,
                    rule_line=rule.line if rule else None,
                    rule_directive=rule.directive if rule else None,
                    rule_pattern=rule.pattern if rule else None,
                    train_ai=decided["train-ai"].value if decided["train-ai"] else None,
                    train_ai_source=_source(decided["train-ai"]),
                    ai_input=decided["ai-input"].value if decided["ai-input"] else None,
                    ai_input_source=_source(decided["ai-input"]),
                    search=decided["search"].value if decided["search"] else None,
                    search_source=_source(decided["search"]),
                    restriction="",
                    contradictions=contradictions,
                )
            )
        allowed = sum(c.crawl_allowed for c in row)
        restriction = "full" if allowed == 0 else "none" if allowed == len(row) else "partial"
        cells.extend(replace(c, restriction=restriction) for c in row)
    return cells
