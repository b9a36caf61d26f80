"""IETF AIPREF Content-Usage: the robots.txt rule (optionally path-scoped) and the HTTP response header."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from monitor.policy.robots import longest_matches, path_key, pattern_of
from monitor.policy.signals._text import Headers, header_values, strip_comment
from monitor.policy.signals.groups import GroupLine, Groups, coerce_lines, select
from monitor.policy.signals.model import AIPREF_KEYS, Lint, Source, UsagePrefs, decisions_for
from monitor.policy.signals.sfdict import parse_dictionary

RULE_SIGNAL = "content-usage"
HEADER_SIGNAL = "content-usage-header"


@dataclass(frozen=True)
class UsageStatement:
    """One parsed preference statement; on a Dictionary parse failure prefs is empty (all unknown)."""

    prefs: UsagePrefs
    errors: tuple[Lint, ...] = ()
    ignored_keys: tuple[str, ...] = ()  # unknown labels, ignored as the vocabulary requires


@dataclass(frozen=True)
class ContentUsageRule:
    """A robots.txt Content-Usage rule: the group's agents, an optional path pattern and its preferences."""

    line: int
    agents: tuple[str, ...]
    path: str | None
    prefs: UsagePrefs
    group: int | None = None  # index of its group in the robots.txt, when known
    pattern: str | None = None  # `path` in normal form, what is matched


@dataclass(frozen=True)
class ContentUsageRules:
    """Every Content-Usage rule of one robots.txt."""

    rules: tuple[ContentUsageRule, ...]
    errors: tuple[Lint, ...]

    def prefs_for(self, agent: str, path: str, group_agents: Groups = None) -> UsagePrefs:
        """Preferences for agent on path: the longest matching path wins; equal paths combine most-restrictive.

        A rule without a path matches everything with length 0. Preferences only mean something where the
        path is crawlable; checking Allow/Disallow is the robots engine's job (see consistency.check).
        """
        chosen = select(self.rules, agent, group_agents)
        best = longest_matches(((r.pattern, r) for r in chosen), path_key(path))
        return UsagePrefs(tuple(d for r in best for d in r.prefs.decisions))


def parse_usage_pref(value: str, source: Source) -> UsageStatement:
    """Parse an AIPREF usage-pref Dictionary (`train-ai=n, search=y`), tolerating older vocabulary labels."""
    members, error = parse_dictionary(value)
    if members is None:
        hint = " (keys must be lower case)" if value != value.lower() else ""
        msg = f"not a Structured-Fields Dictionary: {error}{hint}; all preferences unknown"
        return UsageStatement(UsagePrefs(), (Lint("sf-parse", msg, source.line),))
    decisions = []
    errors: list[Lint] = []
    ignored: list[str] = []
    for key, item in members.items():
        if key not in AIPREF_KEYS:
            ignored.append(key)
            continue
        if item.kind != "token" or item.value not in ("y", "n"):
            errors.append(Lint("value", f"{key}: {item.kind} {item.value!r} is not token y/n; unknown", source.line))
            continue
        decisions.extend(decisions_for(key, "yes" if item.value == "y" else "no", source, AIPREF_KEYS))
    return UsageStatement(UsagePrefs(tuple(decisions)), tuple(errors), tuple(ignored))


def parse_content_usage_header(headers: Headers | None) -> UsageStatement:
    """The Content-Usage response header; several field lines are joined with ', ' as RFC 9110 says."""
    values = header_values(headers, "content-usage")
    if not values:
        return UsageStatement(UsagePrefs())
    return parse_usage_pref(", ".join(v.strip() for v in values), Source(HEADER_SIGNAL, None, "Content-Usage"))


def split_rule_value(value: str) -> tuple[str | None, str]:
    """(path or None, preference): a value starting with '/' has a path up to the first SP/HTAB (attach §)."""
    body = strip_comment(value)
    if body.startswith("/"):
        for i, c in enumerate(body):
            if c in " \t":
                return body[:i], body[i:].strip()
        return body, ""
    return None, body


def parse_content_usage_rules(items: Iterable[GroupLine | tuple] | None) -> ContentUsageRules:
    """Parse Content-Usage rule values collected by the robots engine as (line, value, group agents)."""
    rules: list[ContentUsageRule] = []
    errors: list[Lint] = []
    for gl in coerce_lines(items):
        path, pref = split_rule_value(gl.value)
        stmt = parse_usage_pref(pref, Source(RULE_SIGNAL, gl.line, path or ""))
        errors.extend(stmt.errors)
        if not pref:
            errors.append(Lint("empty", "Content-Usage rule without a preference", gl.line))
        if not gl.agents:
            errors.append(Lint("ungrouped", "Content-Usage before any User-agent line; ignored", gl.line))
        rules.append(
            ContentUsageRule(gl.line, gl.agents, path, stmt.prefs, gl.group, None if path is None else pattern_of(path))
        )
    return ContentUsageRules(tuple(rules), tuple(errors))
