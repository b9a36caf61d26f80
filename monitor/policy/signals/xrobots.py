"""X-Robots-Tag / Robots-Tag headers and robots meta elements: per-agent directives and their usage mapping."""

from __future__ import annotations

import re
from dataclasses import dataclass

from monitor.policy.signals._text import Headers, header_values
from monitor.policy.signals.htmlmeta import MAX_HTML_BYTES, head_meta
from monitor.policy.signals.model import Decision, Lint, Source, UsagePrefs

GLOBAL = "*"
VALUED = frozenset({"max-snippet", "max-image-preview", "max-video-preview", "unavailable_after"})
KNOWN = frozenset(
    {"noai", "noimageai", "noindex", "nofollow", "none", "noarchive", "nosnippet", "noimageindex", "notranslate",
     "nocache", "all", "index", "follow", "indexifembedded", "noodp", "noydir"}
) | VALUED  # fmt: skip
MAX_DIRECTIVES = 2000
_TOKEN = re.compile(r"^[A-Za-z0-9._*-]+$")


@dataclass(frozen=True)
class RobotsDirective:
    """One directive (lower-cased, `name:value` for valued ones) for one agent (`*` = everyone)."""

    agent: str
    directive: str
    source: Source


@dataclass(frozen=True)
class RobotsDirectives:
    """Directives from headers or meta elements, with lints."""

    directives: tuple[RobotsDirective, ...]
    errors: tuple[Lint, ...] = ()

    def for_agent(self, agent: str) -> tuple[RobotsDirective, ...]:
        """Global plus the agent's own directives: the sum of restrictive rules applies (repext)."""
        token = agent.strip().lower()
        return tuple(d for d in self.directives if d.agent in (GLOBAL, token))

    def names_for(self, agent: str) -> frozenset[str]:
        """Directive names (without values) that apply to agent."""
        return frozenset(d.directive.split(":", 1)[0] for d in self.for_agent(agent))

    def usage_for(self, agent: str) -> UsagePrefs:
        """Daemon equivalences (ai-signals §8), not normative.

        noai -> train-ai=no and ai-input=no; noimageai -> the same for images only; noindex/none -> search=no;
        noimageindex -> search=no for images; noarchive -> train-ai=no for Bing's crawlers only (Bing's documented
        training opt-out).
        """
        token = agent.strip().lower()
        out: list[Decision] = []
        for d in self.for_agent(agent):
            name = d.directive.split(":", 1)[0]
            if name in ("noai", "noimageai"):
                scope = "image" if name == "noimageai" else "all"
                out += [
                    Decision("train-ai", "no", d.source, name, scope),
                    Decision("ai-input", "no", d.source, name, scope),
                ]
            elif name in ("noindex", "none"):
                out.append(Decision("search", "no", d.source, name))
            elif name == "noimageindex":
                out.append(Decision("search", "no", d.source, name, "image"))
            elif name == "noarchive" and token.startswith(("bing", "msnbot")):
                out.append(Decision("train-ai", "no", d.source, name))
        return UsagePrefs(tuple(out))


def _directive(item: str) -> str:
    name, sep, value = item.partition(":")
    name = name.strip().lower()
    return f"{name}:{value.strip()}" if sep else name


def _parse_x_value(value: str, source: Source, out: list[RobotsDirective], errors: list[Lint]) -> None:
    agent = GLOBAL
    for raw in value.split(","):
        item = raw.strip()
        if not item:
            continue
        head, sep, rest = item.partition(":")
        if sep and head.strip().lower() not in VALUED:
            # `GPTBot: noindex, nofollow`: the prefix scopes this and the following items of the same header.
            if not _TOKEN.match(head.strip()):
                errors.append(Lint("syntax", f"X-Robots-Tag item {item[:60]!r} has an invalid agent prefix"))
                continue
            agent = head.strip().lower()
            item = rest.strip()
            if not item:
                continue
        d = _directive(item)
        if d.split(":", 1)[0] not in KNOWN:
            errors.append(Lint("unknown-directive", f"unknown directive {d[:40]!r} for {agent}"))
        out.append(RobotsDirective(agent, d, source))


def parse_x_robots_tag(headers: Headers | None) -> RobotsDirectives:
    """All X-Robots-Tag headers (they accumulate) plus draft-illyes-repext `Robots-Tag` (`*=noindex; Bot=;`)."""
    out: list[RobotsDirective] = []
    errors: list[Lint] = []
    for i, value in enumerate(header_values(headers, "x-robots-tag"), 1):
        _parse_x_value(value, Source("x-robots-tag", None, f"X-Robots-Tag #{i}"), out, errors)
    for i, value in enumerate(header_values(headers, "robots-tag"), 1):
        source = Source("robots-tag", None, f"Robots-Tag #{i}")
        for part in value.split(";"):
            if not part.strip():
                continue
            token, eq, rules = part.partition("=")
            agent = token.strip().lower() if eq else GLOBAL
            if eq and not _TOKEN.match(token.strip()):
                errors.append(Lint("syntax", f"Robots-Tag member {part[:60]!r} has an invalid token"))
                continue
            for rule in (rules if eq else part).split(","):
                if rule.strip():
                    out.append(RobotsDirective(agent, _directive(rule), source))
    if len(out) > MAX_DIRECTIVES:
        errors.append(Lint("too-many", f"more than {MAX_DIRECTIVES} directives; rest ignored"))
    return RobotsDirectives(tuple(out[:MAX_DIRECTIVES]), tuple(errors))


def parse_robots_meta(document: str | bytes | None, max_bytes: int = MAX_HTML_BYTES) -> RobotsDirectives:
    """`<meta name="robots">` (everyone) and `<meta name="<token>">` (one crawler) in the head only."""
    out: list[RobotsDirective] = []
    for meta in head_meta(document, max_bytes):
        items = [_directive(i) for i in meta.content.split(",") if i.strip()]
        if meta.name != "robots" and not any(d.split(":", 1)[0] in KNOWN for d in items):
            continue  # description, viewport...: not a crawler-scoped robots meta
        if not _TOKEN.match(meta.name):
            continue
        agent = GLOBAL if meta.name == "robots" else meta.name
        source = Source("robots-meta", meta.line, f'meta name="{meta.name}"')
        out.extend(RobotsDirective(agent, d, source) for d in items)
    return RobotsDirectives(tuple(out[:MAX_DIRECTIVES]))
