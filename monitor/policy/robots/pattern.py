"""RFC 9309 path patterns: `*` and a trailing `$`, the longest match wins, allow wins ties, an empty rule never matches.

Every pattern and path here is in `normalise`'s normal form; `pattern_of` and `path_key` produce it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Generic, TypeVar

from monitor.policy.robots.normalise import normalise

T = TypeVar("T")
PathMatcher = Callable[[str], bool]


def pattern_of(raw: str | bytes) -> str:
    """The normalised form of a pattern as written in a file (robots.txt, ai.txt, tdmrep.json, RSL…)."""
    return normalise(raw)


def priority(pattern: str) -> int:
    """A normalised pattern's specificity: its length in octets, `*` and `$` included (Google's matcher)."""
    return len(pattern)


def _never(path: str) -> bool:
    return False


@lru_cache(maxsize=4096)  # one robots.txt rarely has more distinct patterns; the rest are recompiled, not kept
def compile_pattern(pattern: str) -> PathMatcher:
    """A predicate telling whether normalised `pattern` matches a normalised path from its first octet.

    An empty pattern matches nothing (`Disallow:` restricts nothing). Wildcards are matched by leftmost literal search
    rather than a backtracking regex, so hostile patterns with many `*` stay linear in the path length; leftmost
    placement is always safe for `*`-only globs.
    """
    if not pattern:
        return _never
    anchored = pattern.endswith("$")
    body = pattern[:-1] if anchored else pattern
    parts = body.split("*")
    head, tail = parts[0], parts[1:]
    if not tail:
        if anchored:
            return head.__eq__
        return lambda path: path.startswith(head)
    middle = [m for m in tail[:-1] if m]
    last = tail[-1]

    def matches(path: str) -> bool:
        if not path.startswith(head):
            return False
        pos = len(head)
        for literal in middle:
            found = path.find(literal, pos)
            if found == -1:
                return False
            pos = found + len(literal)
        if anchored:
            return len(path) - len(last) >= pos and path.endswith(last)
        return not last or path.find(last, pos) != -1

    return matches


def matches(pattern: str, path: str) -> bool:
    """Whether normalised `pattern` matches normalised `path`."""
    return compile_pattern(pattern)(path)


class RuleSet(Generic[T]):
    """Allow/Disallow rules ordered once so that the first matching rule is the winner.

    Order: longer pattern first, allow before disallow at equal length, then file order. Empty patterns are dropped:
    they have priority 0 and can never decide.
    """

    __slots__ = ("_entries",)

    def __init__(self, rules: Iterable[tuple[str, bool, T]]):
        ordered = sorted(
            ((pattern, allow, n, item) for n, (pattern, allow, item) in enumerate(rules) if pattern),
            key=lambda e: (-len(e[0]), not e[1], e[2]),
        )
        self._entries = tuple((compile_pattern(p), allow, item) for p, allow, _, item in ordered)

    def decide(self, path: str) -> tuple[bool, T] | None:
        """(allowed, deciding rule) for normalised `path`, or None when no rule matches."""
        for match, allow, item in self._entries:
            if match(path):
                return allow, item
        return None


def longest_matches(candidates: Iterable[tuple[str | None, T]], path: str) -> list[T]:
    """The candidates whose pattern matches `path` with the highest priority (several on a tie), in input order.

    A None pattern stands for a rule without a path (a Content-Usage line without one): it matches every path with
    priority 0, below any pattern.
    """
    best: list[T] = []
    best_len = -1
    for pattern, item in candidates:
        if pattern is None:
            length = 0
        elif matches(pattern, path):
            length = priority(pattern)
        else:
            continue
        if length > best_len:
            best, best_len = [item], length
        elif length == best_len:
            best.append(item)
    return best
