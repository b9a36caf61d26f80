"""Linear, forgiving scan of the `<meta name content>` elements in an HTML document's head (capped)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from monitor.policy.signals._text import to_text

MAX_HTML_BYTES = 512 * 1024  # meta elements live in <head>; real heads are a few KiB
MAX_META = 1000
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9:-]*)")
_ATTR = re.compile(r"""([^\s"'>/=]+)\s*(?:=\s*("[^"]*"|'[^']*'|[^\s"'>]+))?""")
_RAW_TEXT = ("script", "style", "noscript", "template", "textarea", "title")


@dataclass(frozen=True)
class Meta:
    """One meta element: 1-based line, lower-cased name, raw content (entities decoded)."""

    line: int
    name: str
    content: str


def head_meta(document: str | bytes | None, max_bytes: int = MAX_HTML_BYTES) -> list[Meta]:
    """Meta elements before <body> or </head>; tolerant of broken markup, never raises."""
    text = to_text(document, max_bytes)
    out: list[Meta] = []
    pos, line, counted = 0, 1, 0
    n = len(text)
    while pos < n and len(out) < MAX_META:
        i = text.find("<", pos)
        if i < 0:
            break
        if text.startswith("<!--", i):
            j = text.find("-->", i + 4)
            if j < 0:
                break
            pos = j + 3
            continue
        m = _TAG.match(text, i)
        if not m:
            pos = i + 1
            continue
        closing, name = m.group(1) == "/", m.group(2).lower()
        end = text.find(">", m.end())
        if end < 0:
            break
        if (name == "body" and not closing) or (name == "head" and closing):
            break
        if not closing and name in _RAW_TEXT:
            # Skip raw text so a "<meta" inside a script string is not taken for markup.
            j = _find_ci(text, f"</{name}", end)
            pos = n if j < 0 else j
            continue
        if name == "meta" and not closing:
            line += text.count("\n", counted, i)
            counted = i
            attrs = {}
            for a in _ATTR.finditer(text, m.end(), end):
                key = a.group(1).lower()
                val = a.group(2) or ""
                if val[:1] in ("'", '"'):
                    val = val[1:-1]
                attrs.setdefault(key, html.unescape(val))
            if "name" in attrs:
                out.append(Meta(line, attrs["name"].strip().lower(), attrs.get("content", "")))
        pos = end + 1
    return out


def _find_ci(text: str, needle: str, start: int) -> int:
    """Case-insensitive find without lower-casing the whole document for each raw-text element."""
    pattern = re.compile(re.escape(needle), re.IGNORECASE)
    m = pattern.search(text, start)
    return m.start() if m else -1
