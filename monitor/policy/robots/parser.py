"""robots.txt parser: bytes -> groups, rules, raw extension records and lints, parsed once; then match many.

Parsing is one pass over the lines and linear in the file size; group selection and rule ordering happen per distinct
selection on first use (see groups.GroupIndex and pattern.RuleSet).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from monitor.policy.robots.groups import RFC_TOKEN, GroupIndex, GroupKind, PerSelection, Selection, group_token
from monitor.policy.robots.normalise import path_key
from monitor.policy.robots.pattern import RuleSet, pattern_of

MAX_BYTES = 500 * 1024
# Google's kMaxLineLen (2083 * 8): longer lines are cut there, which also bounds the cost of one pattern.
MAX_LINE_BYTES = 2083 * 8
ROBOTS_PATH = "/robots.txt"

Directive = Literal["allow", "disallow"]

_BOM = b"\xef\xbb\xbf"
_NEWLINE = re.compile(rb"\r\n|\r|\n")
_WS = b" \t\v\f"
_DISALLOW_TYPOS = (b"dissallow", b"dissalow", b"disalow", b"diasllow", b"disallaw")
_EXTENSIONS = {b"content-signal", b"content-usage", b"license", b"crawl-delay"}


@dataclass(frozen=True, slots=True)
class Rule:
    """One Allow/Disallow line; `pattern` is percent-normalised and its length in bytes is the rule's priority."""

    line: int
    directive: Directive
    pattern: str


@dataclass(frozen=True, slots=True)
class Group:
    """A run of user-agent lines (blank and non-rule lines allowed inside) and the rules that follow it."""

    index: int
    agents: tuple[str, ...]
    tokens: tuple[str, ...]
    agent_lines: tuple[int, ...]
    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class Record:
    """A non-Allow/Disallow line kept raw for other parsers (sitemap, content-signal, content-usage, license…).

    `group` is the RFC 9309 group the line sits in (None before any user-agent line). `agents_before` lists the
    user-agent values declared in that group above this line: under draft-ietf-aipref-attach a Content-Usage line is a
    rule that ends the user-agent run, so it applies only to those agents, not to user-agent lines after it.
    """

    line: int
    key: str
    value: str
    group: int | None
    agent_count: int = 0
    # The group's list of user-agent values, shared by its records (copying a prefix per record was quadratic).
    _agents: Sequence[str] = field(default=(), repr=False, compare=False)

    @property
    def agents_before(self) -> tuple[str, ...]:
        """The user-agent values of this record's group declared above it."""
        return tuple(self._agents[: self.agent_count])


@dataclass(frozen=True, slots=True)
class Lint:
    """Something a site owner probably did not intend, or that crawlers read differently."""

    line: int | None
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer to "may `agent` fetch `url`": the deciding rule, and which group kind applied.

    `group_lines` are the line numbers of the user-agent lines of every group that applied (merged groups included).
    """

    allowed: bool
    rule: Rule | None
    group: GroupKind
    group_lines: tuple[int, ...]


@dataclass(frozen=True, eq=False)
class RobotsFile:
    """A parsed robots.txt. Immutable; `match` reads a token index built once at construction."""

    groups: tuple[Group, ...]
    records: tuple[Record, ...] = ()
    lints: tuple[Lint, ...] = ()
    size: int = 0
    truncated: bool = False
    index: GroupIndex = field(init=False, repr=False)
    _merged: PerSelection[tuple[RuleSet[Rule], tuple[int, ...]]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", GroupIndex(g.tokens for g in self.groups))
        object.__setattr__(self, "_merged", PerSelection(self._merge))

    def select(self, agent: str) -> Selection:
        """The groups that apply to `agent` (a product token or a full User-Agent header)."""
        return self.index.select(agent)

    def _merge(self, selection: Selection) -> tuple[RuleSet[Rule], tuple[int, ...]]:
        """The selected groups' rules, ordered, and their user-agent line numbers."""
        members = [self.groups[i] for i in selection.groups]
        rules = RuleSet((r.pattern, r.directive == "allow", r) for g in members for r in g.rules)
        return rules, tuple(line for g in members for line in g.agent_lines)

    def match(self, agent: str, url: str) -> Verdict:
        """May `agent` fetch `url`? Longest pattern wins, ties go to allow, `/robots.txt` is always allowed."""
        selection = self.select(agent)
        rules, lines = self._merged(selection)
        path = path_key(url)
        if path != ROBOTS_PATH:
            decided = rules.decide(path)
            if decided is not None:
                return Verdict(decided[0], decided[1], selection.kind, lines)
        return Verdict(True, None, selection.kind, lines)

    def records_for(self, key: str) -> tuple[Record, ...]:
        """The raw records with this (lower-case) key, e.g. "sitemap", "content-usage", "license"."""
        return tuple(r for r in self.records if r.key == key)


def _strip_bom(raw: bytes) -> bytes:
    # Google also skips a partial BOM (a file cut or mangled after its first byte or two).
    for n in (3, 2, 1):
        if raw.startswith(_BOM[:n]):
            return raw[n:]
    return raw


def _key_value(line: bytes) -> tuple[bytes, bytes, bool] | None:
    """Split `key: value`; like Google, accept `key value` (exactly two words) without a colon."""
    sep = line.find(b":")
    if sep == -1:
        words = line.split()
        if len(words) != 2:
            return None
        return words[0], words[1], True
    key = line[:sep].strip(_WS)
    return (key, line[sep + 1 :].strip(_WS), False) if key else None


def _classify(key: bytes) -> tuple[str, bool]:
    """(kind, canonical spelling) for a directive name; names match by prefix, case-insensitively, as in Google."""
    k = key.lower()
    if k.startswith(b"user-agent"):
        return "user-agent", k == b"user-agent"
    if k.startswith((b"useragent", b"user agent")):
        return "user-agent", False
    if k.startswith(b"allow"):
        return "allow", k == b"allow"
    if k.startswith(b"disallow"):
        return "disallow", k == b"disallow"
    if k.startswith(_DISALLOW_TYPOS):
        return "disallow", False
    if k.startswith(b"sitemap"):
        return "sitemap", k == b"sitemap"
    if k.startswith(b"site-map"):
        return "sitemap", False
    if k in _EXTENSIONS:
        return k.decode("ascii"), True
    return "unknown", True


def _looks_like_html(raw: bytes) -> bool:
    head = raw[:1024].lstrip().lower()
    return head.startswith((b"<!doctype", b"<html", b"<head", b"<?xml")) or b"<html" in head


class _Builder:
    """Mutable state of one parse; Google's group semantics: only Allow/Disallow lines end a user-agent run."""

    def __init__(self) -> None:
        self.groups: list[Group] = []
        self.records: list[Record] = []
        self.lints: list[Lint] = []
        self.agents: list[str] = []
        self.tokens: list[str] = []
        self.agent_lines: list[int] = []
        self.rules: list[Rule] = []
        self.in_run = False  # user-agent lines seen and no rule since: another user-agent line extends the group
        self.interruptions: list[tuple[int, str]] = []

    def close(self) -> None:
        if self.agent_lines:
            index = len(self.groups)
            agents, tokens, lines = tuple(self.agents), tuple(self.tokens), tuple(self.agent_lines)
            self.groups.append(Group(index, agents, tokens, lines, tuple(self.rules)))
        self.agents, self.tokens, self.agent_lines, self.rules = [], [], [], []

    def user_agent(self, lineno: int, value: str) -> None:
        if not self.in_run:
            self.close()
        elif self.interruptions:
            self._lint_interruptions()
        self.in_run = True
        token = group_token(value)
        if token != "*" and not RFC_TOKEN.fullmatch(value):
            meaning = f"matched as {token!r}" if token else "matches no crawler"
            self.lints.append(
                Lint(lineno, "non-rfc-token", f"user-agent {value!r} is not an RFC 9309 product token; {meaning}")
            )
        self.agents.append(value)
        self.tokens.append(token)
        self.agent_lines.append(lineno)

    def _lint_interruptions(self) -> None:
        for lineno, kind in self.interruptions:
            if kind == "sitemap":
                code, why = "sitemap-splits-run", "a Sitemap line does not end a group (RFC 9309 §2.2.4)"
            elif kind in ("content-usage", "content-signal"):
                code, why = "ambiguous-group", f"RFC 9309 merges the agents around this {kind} line; aipref-attach ends"
                why += " the group at it"
            else:
                code, why = "line-splits-run", f"a {kind} line does not end a group"
            self.lints.append(Lint(lineno, code, f"user-agent lines before and after share one group: {why}"))
        self.interruptions = []

    def rule(self, lineno: int, directive: Directive, value: bytes) -> None:
        if not self.agent_lines:
            self.lints.append(Lint(lineno, "rule-outside-group", f"{directive} before any user-agent line is ignored"))
            return
        self.in_run = False
        self.interruptions = []
        pattern = pattern_of(value)
        self.rules.append(Rule(lineno, directive, pattern))
        slash = pattern.rfind("/")
        if directive == "allow" and slash != -1 and pattern.startswith("/index.htm", slash):
            # Google-compatible: allowing …/index.html also allows the directory URL …/ exactly.
            self.rules.append(Rule(lineno, "allow", pattern[: slash + 1] + "$"))

    def other(self, lineno: int, kind: str, value: bytes) -> None:
        if self.in_run:
            self.interruptions.append((lineno, kind))
        if kind != "unknown":
            group = len(self.groups) if self.agent_lines else None
            text = value.decode("utf-8", "replace")
            self.records.append(Record(lineno, kind, text, group, len(self.agents), self.agents))


def parse(data: bytes | str, *, max_bytes: int = MAX_BYTES) -> RobotsFile:
    """Parse robots.txt content. Never raises; anything unparseable is skipped, odd constructs become lints."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    size = len(raw)
    b = _Builder()
    truncated = size > max_bytes
    if truncated:
        raw = raw[:max_bytes]
        # Drop the partial last line: a cut "Disallow: /private" would become a broader "Disallow: /priv".
        cut = max(raw.rfind(b"\n"), raw.rfind(b"\r"))
        raw = raw[: cut + 1]
        b.lints.append(Lint(None, "over-cap", f"{size} bytes; content beyond {max_bytes} bytes is ignored"))
    raw = _strip_bom(raw)
    if _looks_like_html(raw):
        b.lints.append(Lint(1, "html", "the body looks like HTML, not a robots.txt file"))
    for lineno, line in enumerate(_NEWLINE.split(raw), start=1):
        if len(line) > MAX_LINE_BYTES:
            b.lints.append(Lint(lineno, "long-line", f"{len(line)} bytes; cut at {MAX_LINE_BYTES} as Google does"))
            line = line[:MAX_LINE_BYTES]
        comment = line.find(b"#")
        if comment != -1:
            line = line[:comment]
        parsed = _key_value(line.strip(_WS))
        if parsed is None:
            continue
        key, value, no_colon = parsed
        kind, canonical = _classify(key)
        if no_colon:
            b.lints.append(Lint(lineno, "missing-colon", f"'{key.decode('utf-8', 'replace')}' has no colon"))
        if not canonical:
            b.lints.append(Lint(lineno, "misspelt-key", f"'{key.decode('utf-8', 'replace')}' read as {kind}"))
        if kind == "user-agent":
            b.user_agent(lineno, value.decode("utf-8", "replace"))
        elif kind in ("allow", "disallow"):
            b.rule(lineno, "allow" if kind == "allow" else "disallow", value)
        else:
            b.other(lineno, kind, value)
    b.close()
    return RobotsFile(tuple(b.groups), tuple(b.records), tuple(b.lints), size, truncated)
