"""RFC 9309 path patterns (`*`, `$`) with percent-normalisation, for signals that reuse robots.txt matching."""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

MAX_PATH_CHARS = 16664
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_HEX = frozenset(b"0123456789abcdefABCDEF")


@lru_cache(maxsize=8192)  # the same patterns and sample paths are normalised for every agent row
def normalize(value: str) -> str:
    """Normalise like ai-signals §1.5: decode unreserved %XX, upper-case other %xx, percent-encode non-ASCII."""
    raw = value[:MAX_PATH_CHARS].encode("utf-8", "replace")
    out: list[str] = []
    i, n = 0, len(raw)
    while i < n:
        b = raw[i]
        if b == 0x25 and i + 2 < n and raw[i + 1] in _HEX and raw[i + 2] in _HEX:
            v = int(raw[i + 1 : i + 3], 16)
            out.append(chr(v) if v in _UNRESERVED else "%" + raw[i + 1 : i + 3].decode().upper())
            i += 3
            continue
        out.append(f"%{b:02X}" if b >= 0x7F or b <= 0x20 else chr(b))
        i += 1
    return "".join(out)


def path_of(url_or_path: str) -> str:
    """Path plus query of a URL (fragment dropped); an empty path is '/'."""
    text = url_or_path[:MAX_PATH_CHARS].strip()
    if "://" in text[:16]:
        try:
            parts = urlsplit(text)
        except ValueError:
            return "/"
        path = parts.path or "/"
        return path + ("?" + parts.query if parts.query else "")
    text = text.split("#", 1)[0]
    return text or "/"


def matches(pattern: str, path: str) -> bool:
    """Prefix match with `*` (any run) and a trailing `$` (end anchor); greedy, O(len(path) * segments)."""
    pattern, path = normalize(pattern), normalize(path)
    anchored = pattern.endswith("$")
    if anchored:
        pattern = pattern[:-1]
    parts = pattern.split("*")
    if not path.startswith(parts[0]):
        return False
    if len(parts) == 1:
        return path == parts[0] if anchored else True
    pos = len(parts[0])
    # Leftmost placement of each middle literal is always safe for `*`-only globs.
    for seg in parts[1:-1]:
        found = path.find(seg, pos)
        if found < 0:
            return False
        pos = found + len(seg)
    last = parts[-1]
    if anchored:
        return len(path) - len(last) >= pos and path.endswith(last)
    return path.find(last, pos) >= 0


def priority(pattern: str) -> int:
    """Specificity as in Google's matcher: octets of the normalised pattern, `*` and `$` included."""
    return len(normalize(pattern))
