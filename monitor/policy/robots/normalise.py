"""RFC 9309 §2.2.2 percent-encoding normal form shared by patterns and paths, and URL -> matchable path."""

from __future__ import annotations

import re
from functools import lru_cache

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# One pass finds every octet that is not already in normal form: a %XX escape (decode it if it names an unreserved
# octet, else upper-case its hex) or an octet that may not stand raw in a URI (RFC 3986: neither unreserved, reserved
# nor '%'), i.e. controls, space, DEL, `"<>\^`{|}` and every non-ASCII (UTF-8) octet, which get percent-encoded.
# A lone '%' stays as it is, as Google's matcher leaves it.
_NOT_NORMAL = re.compile(rb"%[0-9A-Fa-f]{2}|[^A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]")
_CACHED_CHARS = 2048  # longer texts are normalised uncached, so the cache's memory stays bounded


def _fix(match: re.Match[bytes]) -> bytes:
    token = match.group()
    if len(token) == 3:
        octet = int(token[1:], 16)
        return bytes((octet,)) if octet in _UNRESERVED else token.upper()
    return b"%%%02X" % token[0]


def normalise(value: str | bytes) -> str:
    """`value` in the normal form both sides of a comparison use.

    Escapes of unreserved characters are decoded (`/%61udio` -> `/audio`); other escapes keep their meaning and are
    only upper-cased (`%2f` -> `%2F`, never `/`); non-ASCII text is UTF-8 encoded and percent-encoded (`ツ` ->
    `%E3%83%84`). Normalising is idempotent, so already-normal text is returned unchanged.
    """
    if isinstance(value, str):
        if len(value) <= _CACHED_CHARS:
            return _normalise_text(value)
        value = value.encode("utf-8", "surrogatepass")
    return _NOT_NORMAL.sub(_fix, value).decode("ascii")


@lru_cache(maxsize=8192)  # the same sample paths and patterns are normalised for every agent row
def _normalise_text(value: str) -> str:
    return _NOT_NORMAL.sub(_fix, value.encode("utf-8", "surrogatepass")).decode("ascii")


def path_of(url: str) -> str:
    """The part of `url` rules match against: path, params and query (port of Google's GetPathParamsQuery).

    Accepts an absolute URL, a network-path reference (`//host/p`) or a path; the fragment is dropped and an empty
    path is `/`. The result is not normalised (see `path_key`).
    """
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


def path_key(url: str) -> str:
    """The normalised path of `url`: what every compiled pattern is matched against."""
    return normalise(path_of(url))


def _find_first_of(text: str, chars: str, start: int) -> int:
    best = -1
    for ch in chars:
        pos = text.find(ch, start)
        if pos != -1 and (best == -1 or pos < best):
            best = pos
    return best
