"""Cloudflare Content-Signal robots.txt lines (`search=yes, ai-train=no`) to common usage preferences."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from monitor.policy.signals._text import strip_comment, to_text
from monitor.policy.signals.groups import GroupLine, Groups, coerce_lines, select
from monitor.policy.signals.model import CONTENT_SIGNAL_KEYS, Lint, Source, UsagePrefs, decisions_for

SIGNAL = "content-signal"
USE_VALUES = frozenset({"immediate", "reference", "full"})
MANAGED_MARKER = "# BEGIN Cloudflare Managed content"


@dataclass(frozen=True)
class ContentSignalLine:
    """One parsed Content-Signal line."""

    line: int
    agents: tuple[str, ...]
    prefs: UsagePrefs
    extras: tuple[tuple[str, str], ...]  # non yes/no keys such as use=reference, kept raw
    group: int | None = None  # index of its group in the robots.txt, when known


@dataclass(frozen=True)
class ContentSignalResult:
    """All Content-Signal lines of one robots.txt, with lints."""

    lines: tuple[ContentSignalLine, ...]
    errors: tuple[Lint, ...]

    def for_agent(self, agent: str, group_agents: Groups = None) -> UsagePrefs:
        """Preferences for an agent: its own group(s) merged, else `*`; ungrouped lines are ignored (RFC 9309).

        Pass group_agents (the robots.txt's GroupIndex, or every group's tokens) so a specific group without
        Content-Signal still replaces `*`.
        """
        return UsagePrefs(tuple(d for cs in select(self.lines, agent, group_agents) for d in cs.prefs.decisions))

    def extras_for(self, agent: str, group_agents: Groups = None) -> dict[str, str]:
        """Non-yes/no keys (e.g. the 2026 `use`) that apply to agent; the last one wins."""
        return {k: v for cs in select(self.lines, agent, group_agents) for k, v in cs.extras}


def parse_value(value: str, line: int | None = None) -> tuple[UsagePrefs, tuple[tuple[str, str], ...], list[Lint]]:
    """Parse one `key=value, ...` Content-Signal value."""
    errors: list[Lint] = []
    decisions = []
    extras: list[tuple[str, str]] = []
    source = Source(SIGNAL, line)
    body = strip_comment(value)
    if not body:
        errors.append(Lint("empty", "empty Content-Signal value", line))
    for item in body.split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, val = item.partition("=")
        key, val = key.strip(), val.strip()
        if not sep or not key:
            errors.append(Lint("syntax", f"expected key=value, got {item[:80]!r}", line))
            continue
        lkey, lval = key.lower(), val.lower()
        if key != lkey or val != lval:
            errors.append(Lint("case", f"non-canonical case in {item[:80]!r}", line))
        if lkey == "use":
            if lval not in USE_VALUES:
                errors.append(Lint("value", f"use={val[:40]!r}: expected immediate|reference|full", line))
            extras.append((lkey, lval))
            continue
        if lkey not in CONTENT_SIGNAL_KEYS:
            errors.append(Lint("unknown-key", f"unknown Content-Signal key {key[:40]!r}", line))
            continue
        if lval not in ("yes", "no"):
            errors.append(Lint("value", f"{key}={val[:40]!r}: expected yes or no; left unset", line))
            continue
        decisions.extend(decisions_for(lkey, lval, source, CONTENT_SIGNAL_KEYS))  # type: ignore[arg-type]
    return UsagePrefs(tuple(decisions)), tuple(extras), errors


def parse_content_signals(items: Iterable[GroupLine | tuple] | None) -> ContentSignalResult:
    """Parse Content-Signal values collected by the robots engine as (line, value, group agents)."""
    lines: list[ContentSignalLine] = []
    errors: list[Lint] = []
    for gl in coerce_lines(items):
        prefs, extras, errs = parse_value(gl.value, gl.line)
        errors.extend(errs)
        if not gl.agents:
            errors.append(Lint("ungrouped", "Content-Signal before any User-agent line; ignored", gl.line))
        lines.append(ContentSignalLine(gl.line, gl.agents, prefs, extras, gl.group))
    return ContentSignalResult(tuple(lines), tuple(errors))


def is_cloudflare_managed(robots_txt: str | bytes | None) -> bool:
    """Heuristic: Cloudflare's managed robots.txt marker, so the signal may not be the owner's own choice."""
    return MANAGED_MARKER.lower() in to_text(robots_txt, 2 * 1024 * 1024).lower()
