"""Robots.txt extension lines handed to the signal parsers (one collected line each), and picking the lines of the
groups the RFC 9309 engine selects for an agent."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from monitor.policy.robots import GroupIndex
from monitor.policy.signals._text import MAX_LINE_CHARS

MAX_LINES = 10_000  # bounds work on pathological files; far above any real robots.txt


@dataclass(frozen=True)
class GroupLine:
    """A robots.txt line value with its 1-based line number, the user-agent tokens of its group and that group's index.

    agents == () means the line came before any user-agent line (global for License:, ungrouped otherwise). `group`
    is the index of the group in the robots.txt the line came from (RobotsFile.groups), when known.
    """

    line: int
    value: str
    agents: tuple[str, ...] = ()
    group: int | None = None


class Grouped(Protocol):
    """A parsed line that remembers its group: its user-agent tokens and, when known, the group's index."""

    @property
    def agents(self) -> tuple[str, ...]: ...

    @property
    def group(self) -> int | None: ...


G = TypeVar("G", bound=Grouped)
Groups = GroupIndex | Iterable[tuple[str, ...]] | None


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
        out.append(GroupLine(gl.line, gl.value[:MAX_LINE_CHARS], gl.agents, gl.group))
    return out


def select(items: Sequence[G], agent: str, groups: Groups = None) -> list[G]:
    """The items of the groups the RFC 9309 engine selects for `agent`: its own groups merged, else `*` (§2.2.1).

    groups: the robots.txt's GroupIndex, the items carrying their `group` index into it (the daemon's case); or
    the user-agent tokens of every group in the file, when known. A specific group replaces `*` even if it carries
    none of these items, so without them a specific group with only Allow/Disallow would wrongly fall back to `*`.
    """
    if isinstance(groups, GroupIndex):
        chosen = set(groups.select(agent).groups)
        return [item for item in items if item.group is not None and item.group in chosen]
    # Each item is its own group here; groups named only by `groups` carry no items but can still win.
    index = GroupIndex([*(item.agents for item in items), *(groups or ())])
    chosen = set(index.select(agent).groups)
    return [item for n, item in enumerate(items) if n in chosen]
