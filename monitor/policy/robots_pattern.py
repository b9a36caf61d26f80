"""Low-level robots.txt matching pieces: URL → path, pattern normalisation and matching, product tokens."""

from __future__ import annotations

import re
from collections.abc import Callable

# RFC 9309 identifier is [A-Za-z_-]; we also keep digits and '.' so that real tokens like AI2Bot are not cut to
# "AI" (Google's behaviour, which silently un-blocks them). Non-RFC tokens are linted by the parser instead.
_TOKEN_PREFIX = re.compile(r"[A-Za-z0-9._-]*")
RFC_TOKEN = re.compile(r"[A-Za-z_-]+")
_PERCENT_HEX = re.compile(rb"%([0-9A-Fa-f]{2})")
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

PathMatcher = Callable[[str], bool]


def path_params_query(url: str) -> str:
    """The part of `url` robots rules match against: path, params and query (port of Google's GetPathParamsQuery)."""
    search_start = 2 if url.startswith("//") else 0
    early_path = _find_first_of(url, "/?;", search_start)
    protocol_end = url.find("://", search_start)
    if protocol_end == -1 or (early_path != -1 and early_path < protocol_end):
        # A '/', '?' or ';' before '://' means the '://' is inside the path, not after a scheme.
        protocol_end = search_start
    else:
        protocol_end += 3
    path_start = _find_first_of(url, "/?;", protocol_end)
    if path_start == -1:
        return "/"
    hash_pos = url.find("#", search_start)
    if hash_pos != -1 and hash_pos < path_start:
        return "/"
    path = url[path_start : hash_pos if hash_pos != -1 else len(url)]
    return path if path.startswith("/") else "/" + path


def _find_first_of(text: str, chars: str, start: int) -> int:
    best = -1
    for ch in chars:
        pos = text.find(ch, start)
        if pos != -1 and (best == -1 or pos < best):
            best = pos
    return best


def normalise_pattern(raw: bytes) -> str:
    """Percent-encode octets >= 0x80 and upper-case existing %xx escapes, as Google's MaybeEscapePattern does.

    Unreserved escapes such as %62 are deliberately not decoded: the reference vectors (Google's behaviour) expect
    `%62%61%7A` not to match `/baz`, although RFC 9309's table says it should.
    """
    upper = _PERCENT_HEX.sub(lambda m: b"%" + m.group(1).upper(), raw)
    return "".join(chr(b) if b < 0x80 else f"%{b:02X}" for b in upper)


def compile_pattern(pattern: str) -> PathMatcher:
    """A predicate telling whether `pattern` (with `*` and a trailing `$`) matches a path from its first octet.

    Wildcards are matched by leftmost literal search rather than a backtracking regex, so hostile patterns with many
    `*` stay linear in the path length.
    """
    anchored = pattern.endswith("$")
    body = pattern[:-1] if anchored else pattern
    parts = body.split("*")
    head, tail = parts[0], parts[1:]
    if not tail:
        if anchored:
            return head.__eq__
        return lambda path: path.startswith(head)
    middle, last = tail[:-1], tail[-1]
    middle = [m for m in middle if m]

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


def robots_token(value: str) -> str:
    """The product token a `user-agent:` value names: its prefix up to the first char outside [A-Za-z0-9._-]."""
    match = _TOKEN_PREFIX.match(value)
    return match.group(0) if match else ""


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
