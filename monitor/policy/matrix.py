"""Pure verdict matrix: for one domain, every agent x path class -> crawl verdict with its rule and group,
usage verdicts (train-ai, ai-input, search) with their sources, and a restriction class."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from monitor.policy import aitxt as aitxt_mod
from monitor.policy.pages import PageSignals
from monitor.policy.robots import FetchPolicy, FetchState, GroupIndex
from monitor.policy.signals import (
    ContentSignalResult,
    ContentUsageRules,
    GroupLine,
    RSLDocument,
    TDMRepFile,
    UsagePrefs,
    check,
    combine,
    parse_content_signals,
    parse_content_usage_rules,
    resolve_tdm,
    tdm_to_usage,
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
    """The parsed signals of one domain that the matrix reads.

    ``pages`` holds the signals of sampled pages by path class (they apply to that class only); ``rsl`` is the
    license document named by robots.txt's License line, when it was fetched and parsed.
    """

    robots: FetchPolicy
    aitxt: aitxt_mod.AiTxt | None = None
    tdmrep: TDMRepFile | None = None
    pages: Mapping[str, PageSignals] = field(default_factory=dict)
    rsl: RSLDocument | None = None


def _source(d: Decision | None) -> str | None:
    if d is None:
        return None
    s = d.source
    return f"{s.signal}:{s.line}" if s.line is not None else s.signal


def _lines(policy: FetchPolicy, key: str) -> list[GroupLine]:
    robots = policy.robots
    if robots is None:
        return []
    groups = robots.groups
    out = []
    for r in robots.records_for(key):
        agents = groups[r.group].tokens if r.group is not None and r.group < len(groups) else ()
        out.append(GroupLine(r.line, r.value, agents, r.group))
    return out


def compute(
    domain: str, signals: DomainSignals, agents: Iterable[str], path_classes: Mapping[str, list[str]]
) -> list[Cell]:
    """The matrix for ``domain``: one Cell per agent x path class, deterministic order."""
    policy = signals.robots
    row = _RowMaker(
        policy,
        parse_content_signals(_lines(policy, "content-signal")),
        parse_content_usage_rules(_lines(policy, "content-usage")),
        signals.aitxt if signals.aitxt is not None and signals.aitxt.valid else None,
        signals.tdmrep,
        signals.pages,
        signals.rsl,
        {FetchState.UNAVAILABLE: "unavailable", FetchState.UNREACHABLE: "unreachable"}.get(policy.state),
        path_classes,
    )
    # Most agents fall to the same groups (usually `*`) in every signal, so their rows are equal but for the
    # agent's name: compute one row per class of agents (~4x fewer rule matches for a typical file).
    rows: dict[tuple[object, ...], list[tuple[object, ...]]] = {}
    cells: list[Cell] = []
    for agent in agents:
        key = row.agent_class(agent)
        values = rows.get(key)
        if values is None:
            values = rows[key] = row.compute(domain, agent)
        cells.extend(Cell(domain, agent, *v) for v in values)
    return cells


class _RowMaker:
    """One domain's parsed signals; computes an agent's row of cells as tuples of the fields after ``agent``."""

    def __init__(
        self,
        policy: FetchPolicy,
        content_signals: ContentSignalResult,
        content_usage: ContentUsageRules,
        aitxt: aitxt_mod.AiTxt | None,
        tdmrep: TDMRepFile | None,
        pages: Mapping[str, PageSignals],
        rsl: RSLDocument | None,
        state_group: str | None,
        path_classes: Mapping[str, list[str]],
    ):
        self.policy = policy
        self.content_signals = content_signals
        self.content_usage = content_usage
        # The robots.txt's groups, which Content-Signal and Content-Usage lines select by, as Allow/Disallow do.
        self.groups: GroupIndex | None = policy.robots.index if policy.robots is not None else None
        self.aitxt = aitxt
        self.tdmrep = tdmrep
        self.pages = pages
        self.page_agents = [page.named_agents for page in pages.values()]
        self.rsl = rsl
        self.state_group = state_group
        self.path_classes = path_classes

    def agent_class(self, agent: str) -> tuple[object, ...]:
        """Everything a row depends on besides the agent's name; equal keys mean equal rows.

        Any new agent-dependent signal must add what selects it for the agent here.
        """
        # The engine's selections (kind and group indices) for robots.txt, whose groups Content-Signal and
        # Content-Usage lines share, and for ai.txt.
        robots = self.groups.select(agent) if self.groups is not None else None
        ai = self.aitxt.select(agent) if self.aitxt is not None else None
        token = agent.strip().lower()
        pages = tuple(token in named for named in self.page_agents)
        return robots, ai, pages

    def compute(self, domain: str, agent: str) -> list[tuple[object, ...]]:
        policy, groups = self.policy, self.groups
        row: list[list[object]] = []
        for path_class, samples in self.path_classes.items():
            verdicts = [(path, policy.match(agent, f"https://{domain}{path}")) for path in samples]
            sample, verdict = next(((p, v) for p, v in verdicts if v.allowed), verdicts[0])
            statements: list[UsagePrefs] = [
                self.content_signals.for_agent(agent, groups),
                self.content_usage.prefs_for(agent, sample, groups),
            ]
            if self.aitxt is not None:
                statements.append(aitxt_mod.to_usage(aitxt_mod.may_use(self.aitxt, agent, sample)))
            page = self.pages.get(path_class)
            if page is not None:
                statements.append(page.usage_for(agent))
            # TDMRep resolves in order: the site's tdmrep.json, then the page's headers, then its meta.
            tdm_steps = [self.tdmrep.lookup(sample)] if self.tdmrep is not None else []
            if page is not None:
                tdm_steps += [page.tdm_header, page.tdm_meta]
            if tdm_steps:
                statements.append(tdm_to_usage(resolve_tdm(*tdm_steps)))
            if self.rsl is not None:
                statements.append(self.rsl.usage_for(f"https://{domain}{sample}"))
            usage = combine(*statements)
            decided = {p: usage.get(p) for p in USAGE_PURPOSES}
            contradictions = sum(1 for f in check(statements, crawl_allowed=verdict.allowed) if f.is_contradiction)
            rule = verdict.rule
            row.append(
                [
                    path_class,
                    verdict.allowed,
                    sample,
                    self.state_group or verdict.group,
                    rule.line if rule else None,
                    rule.directive if rule else None,
                    rule.pattern if rule else None,
                    decided["train-ai"].value if decided["train-ai"] else None,
                    _source(decided["train-ai"]),
                    decided["ai-input"].value if decided["ai-input"] else None,
                    _source(decided["ai-input"]),
                    decided["search"].value if decided["search"] else None,
                    _source(decided["search"]),
                    "",
                    contradictions,
                ]
            )
        allowed = sum(1 for values in row if values[1])
        restriction = "full" if allowed == 0 else "none" if allowed == len(row) else "partial"
        for values in row:
            values[_RESTRICTION] = restriction
        return [tuple(values) for values in row]


_RESTRICTION = 13  # index of Cell.restriction among the fields after domain and agent
