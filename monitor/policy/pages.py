"""Pure page-level AI-usage signals of a sampled page (a track page, the home page): X-Robots-Tag / Robots-Tag
headers, robots meta (`noai`, `noimageai`, per-crawler meta), TDMRep headers and meta, the Content-Usage header,
and `Link: <...>; rel="license"`.

A page body changes on every fetch (play counts, session ids), so the audit never keeps page bodies: it keeps
:func:`summary`, a canonical text of only the signal-bearing parts. Two fetches with the same signals have the same
summary, so a page sample gets a new version (and a diff) exactly when one of its signals changes.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from monitor.policy.signals import (
    RobotsDirectives,
    TDMResult,
    UsagePrefs,
    UsageStatement,
    parse_content_usage_header,
    parse_robots_meta,
    parse_tdm_headers,
    parse_tdm_meta,
    parse_x_robots_tag,
)
from monitor.policy.signals._text import header_values
from monitor.policy.signals.htmlmeta import MAX_HTML_BYTES, head_meta
from monitor.policy.signals.model import combine

PAGE_PREFIX = "page:"
# Headers whose values are AI-usage or indexing signals; everything else on a page response is noise here.
SIGNAL_HEADERS = ("x-robots-tag", "robots-tag", "tdm-reservation", "tdm-policy", "content-usage", "link")
SIGNAL_META = ("robots", "tdm-reservation", "tdm-policy")
MAX_SUMMARY_LINES = 200
MAX_VALUE_CHARS = 500

Headers = Mapping[str, str | Sequence[str]]


def page_file(path_class: str) -> str:
    """The snapshot name of a path class's sampled page, e.g. ``page:track``."""
    return f"{PAGE_PREFIX}{path_class}"


def is_page_file(file: str) -> bool:
    return file.startswith(PAGE_PREFIX)


def path_class_of(file: str) -> str:
    return file[len(PAGE_PREFIX) :]


@dataclass(frozen=True)
class PageSignals:
    """The parsed signals of one sampled page."""

    robots: RobotsDirectives = field(default_factory=lambda: RobotsDirectives(()))
    tdm_header: TDMResult = field(default_factory=TDMResult)
    tdm_meta: TDMResult = field(default_factory=TDMResult)
    content_usage: UsageStatement | None = None

    @property
    def named_agents(self) -> frozenset[str]:
        """Crawler tokens that have directives of their own (`X-Robots-Tag: GPTBot: noai`, `<meta name=gptbot>`)."""
        return frozenset(d.agent for d in self.robots.directives if d.agent != "*")

    def usage_for(self, agent: str) -> UsagePrefs:
        """The usage preferences this page states for ``agent`` (robots directives and Content-Usage header).

        TDMRep is not included: it is resolved together with the site's tdmrep.json (file, then header, then meta).
        """
        parts = [self.robots.usage_for(agent)]
        if self.content_usage is not None:
            parts.append(self.content_usage.prefs)
        return combine(*parts)


def _is_html(headers: Headers | None, body: bytes) -> bool:
    ctype = " ".join(header_values(headers, "content-type")).lower()
    if ctype:
        return "html" in ctype
    return body[:512].lstrip().lower().startswith((b"<!doctype html", b"<html"))


def parse_page(headers: Headers | None, body: bytes | None) -> PageSignals:
    """The signals of a fetched page; meta elements are read only from an HTML body's head. Never raises."""
    body = body or b""
    html = body if _is_html(headers, body) else b""
    robots_header = parse_x_robots_tag(headers)
    robots_meta = parse_robots_meta(html) if html else RobotsDirectives(())
    robots = RobotsDirectives(
        robots_header.directives + robots_meta.directives, robots_header.errors + robots_meta.errors
    )
    usage_values = header_values(headers, "content-usage")
    return PageSignals(
        robots=robots,
        tdm_header=parse_tdm_headers(headers),
        tdm_meta=parse_tdm_meta(html) if html else TDMResult(),
        content_usage=parse_content_usage_header(headers) if usage_values else None,
    )


def summary(status: int | None, headers: Headers | None, body: bytes | None) -> bytes:
    """Canonical text of a page's signal-bearing parts: status, signal headers (all values, in order) and the
    robots / tdm / per-crawler meta of an HTML head. Deterministic; bounded; never raises."""
    body = body or b""
    lines = [f"status: {status if status is not None else '-'}"]
    for name in SIGNAL_HEADERS:
        for value in header_values(headers, name):
            if name == "link" and "license" not in value.lower():
                continue
            lines.append(f"{name}: {' '.join(value.split())[:MAX_VALUE_CHARS]}")
    if _is_html(headers, body):
        robots_tokens = {d.agent for d in parse_robots_meta(body).directives if d.agent != "*"}
        for meta in head_meta(body, MAX_HTML_BYTES):
            if meta.name in SIGNAL_META or meta.name in robots_tokens:
                lines.append(f"meta {meta.name}: {' '.join(meta.content.split())[:MAX_VALUE_CHARS]}")
    if len(lines) > MAX_SUMMARY_LINES:
        lines = [*lines[:MAX_SUMMARY_LINES], f"... {len(lines) - MAX_SUMMARY_LINES} more signal lines"]
    return ("\n".join(lines) + "\n").encode()


def unsummarise(text: bytes) -> tuple[int | None, dict[str, list[str]], bytes]:
    """A page rebuilt from its :func:`summary` (status, signal headers, an HTML head of its signal meta), so that
    the audit can read the last served version of a page that is unreachable now."""
    status: int | None = None
    headers: dict[str, list[str]] = {"content-type": ["text/html"]}
    metas: list[str] = []
    for line in text.decode("utf-8", "replace").splitlines():
        name, sep, value = line.partition(": ")
        if not sep:
            continue
        if name == "status":
            status = int(value) if value.isdigit() else None
        elif name.startswith("meta "):
            metas.append(f'<meta name="{html.escape(name[5:])}" content="{html.escape(value)}">')
        elif name in SIGNAL_HEADERS:
            headers.setdefault(name, []).append(value)
    return status, headers, f"<!doctype html><html><head>{''.join(metas)}</head></html>".encode()
