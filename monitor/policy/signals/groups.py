"""Plain-data input from the robots.txt engine (one collected line) and RFC 9309 group selection for it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from monitor.policy.signals._text import MAX_LINE_CHARS

MAX_LINES = 10_000  # bounds work on pathological files; far above any real robots.txt


@dataclass(frozen=True)
class GroupLine:
    """A robots.txt line value with its 1-based line number and the user-agent tokens of its group.

    agents == () means the line came before any user-agent line (global for License:, ungrouped otherwise).
    """

    line: int
    value: str
    agents: tuple[str, ...] = ()


def coerce_lines(items: Iterable[GroupLine | tuple] | None) -> list[GroupLine]:
    """Accept GroupLine, (line, value) or (line, value, agents); silently drop malformed items."""
    out: list[GroupLine] = []
    for item in items or ():
        if len(out) >= MAX_LINES:
            break
        try:
            if isinstance(item, GroupLine):
                gl = item
            else:
                line, value, *rest = item
                agents = tuple(str(a) for a in rest[0]) if rest else ()
                gl = GroupLine(int(line), str(value), agents)
        except (TypeError, ValueError):
            continue
        out.append(GroupLine(gl.line, gl.value[:MAX_LINE_CHARS], gl.agents))
    return out


def select(
    lines: Iterable[GroupLine], agent: str, group_agents: Iterable[tuple[str, ...]] | None = None
) -> list[GroupLine]:
    """Lines of the groups that apply to agent: exact case-insensitive token match (merged), else `*` (§1.2).

    group_agents: the user-agent tokens of every group in the file, when known. A specific group replaces `*`
    even if it carries none of these lines, so without it a specific group with only Allow/Disallow would
    wrongly fall back to `*`.
    """
    lines = list(lines)
    token = agent.strip().lower()
    own = [gl for gl in lines if any(a.strip().lower() == token for a in gl.agents)]
    if own or (group_agents is not None and has_group(group_agents, agent)):
        return own
    return [gl for gl in lines if any(a.strip() == "*" for a in gl.agents)]


def has_group(agents_seen: Iterable[tuple[str, ...]], agent: str) -> bool:
    """Whether any group names agent explicitly."""
    token = agent.strip().lower()
    return any(a.strip().lower() == token for agents in agents_seen for a in agents)
