"""RFC 9309 group selection: product tokens on both sides, merging every group naming the agent, `*` fallback."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

GroupKind = Literal["specific", "global", "none"]

# RFC 9309 identifier is [A-Za-z_-]; we also keep digits and '.' so that real tokens like AI2Bot are not cut to
# "AI" (Google's behaviour, which silently un-blocks them). Non-RFC tokens are linted by the parsers instead.
_TOKEN_PREFIX = re.compile(r"[A-Za-z0-9._-]*")
RFC_TOKEN = re.compile(r"[A-Za-z_-]+")
_UA_PRODUCT = re.compile(r"([A-Za-z0-9._-]+)/[^\s;()]*")
_UA_COMMENT = re.compile(r"\(([^()]*)\)")
# Names that appear in almost every browser-shaped User-Agent and never identify a crawler.
# fmt: off
_BROWSER_WORDS = frozenset({
    "mozilla", "applewebkit", "chrome", "chromium", "safari", "gecko", "khtml", "firefox", "edg", "edge", "mobile",
    "version", "opr", "opera", "compatible", "linux", "android", "windows", "macintosh", "iphone", "ipad", "cpu", "u",
    "x11", "trident", "like",
})
# fmt: on
_SELECTION_CACHE_MAX = 4096
_DERIVED_CACHE_MAX = 256
V = TypeVar("V")


def robots_token(value: str) -> str:
    """The product token a `user-agent:` value names: its prefix up to the first char outside [A-Za-z0-9._-]."""
    match = _TOKEN_PREFIX.match(value)
    return match.group(0) if match else ""


def group_token(value: str) -> str:
    """What a `user-agent:` value matches: `*` for the global group, else its product token ("" matches nothing)."""
    value = value.strip()
    if value == "*" or (value.startswith("*") and value[1:2].isspace()):
        return "*"
    return robots_token(value)


def product_token(agent: str) -> str:
    """The product token to look up for `agent`, which is either a bare token or a full HTTP User-Agent string.

    A value without '/', '(' or ';' is taken as the crawler's token verbatim (Google's contract, so "Foo Bar" names no
    group). Otherwise it is a User-Agent header: the first product name (`Name/version`, at top level or inside a
    comment such as `(compatible; GPTBot/1.2; +https://…)`) that is not a browser-engine word is the token.
    """
    agent = agent.strip()
    if not any(ch in agent for ch in "/(;"):
        return agent
    candidates: list[str] = []
    for comment in _UA_COMMENT.findall(agent):
        for item in comment.split(";"):
            item = item.strip()
            product = _UA_PRODUCT.fullmatch(item)
            if product:
                candidates.append(product.group(1))
            elif RFC_TOKEN.fullmatch(item):
                candidates.append(item)
    outside = _UA_COMMENT.sub(" ", agent)
    candidates[:0] = [m.group(1) for m in _UA_PRODUCT.finditer(outside)]
    for candidate in candidates:
        if candidate.lower() not in _BROWSER_WORDS:
            return candidate
    return ""


@dataclass(frozen=True, slots=True, eq=False)
class Selection:
    """The groups that apply to one agent: indices into the file's groups in file order, and how they were chosen.

    A GroupIndex hands out one Selection per distinct answer, so identity is equality (and hashing is O(1) however
    many groups were merged).
    """

    kind: GroupKind
    groups: tuple[int, ...]


NO_GROUP = Selection("none", ())


class GroupIndex:
    """Token -> groups, built once per file in one pass over its user-agent values; `select` is then O(1).

    Matching is case-insensitive and exact on the product token (RFC 9309 §2.2.1). Every group naming the token is
    merged; only when none does, every `*` group applies.
    """

    __slots__ = ("_by_token", "_cache", "_global")

    def __init__(self, groups: Iterable[Iterable[str]]):
        by_token: dict[str, list[int]] = {}
        global_: list[int] = []
        for index, values in enumerate(groups):
            for token in {group_token(v).lower() for v in values}:
                if token == "*":
                    global_.append(index)
                elif token:
                    by_token.setdefault(token, []).append(index)
        self._by_token = {token: Selection("specific", tuple(ids)) for token, ids in by_token.items()}
        self._global = Selection("global", tuple(global_)) if global_ else NO_GROUP
        self._cache: dict[str, Selection] = {}

    def select(self, agent: str) -> Selection:
        """The groups that apply to `agent` (a product token or a full User-Agent header)."""
        selection = self._cache.get(agent)
        if selection is None:
            token = product_token(agent).lower()
            selection = self._by_token.get(token, self._global) if token else self._global
            if len(self._cache) >= _SELECTION_CACHE_MAX:
                self._cache.clear()
            self._cache[agent] = selection
        return selection

    def names(self, agent: str) -> bool:
        """Whether some group names `agent` explicitly."""
        return self.select(agent).kind == "specific"


class PerSelection(Generic[V]):
    """Values derived from a selection (merged rules, user-agent lines), built on first use and kept, boundedly.

    Building per distinct selection rather than per token at parse time keeps parsing linear: a token in many
    groups, or a group with many tokens, costs nothing until an agent actually selects it.
    """

    __slots__ = ("_build", "_cache")

    def __init__(self, build: Callable[[Selection], V]):
        self._build = build
        self._cache: dict[Selection, V] = {}

    def __call__(self, selection: Selection) -> V:
        value = self._cache.get(selection)
        if value is None:
            value = self._build(selection)
            if len(self._cache) >= _DERIVED_CACHE_MAX:
                self._cache.clear()
            self._cache[selection] = value
        return value
