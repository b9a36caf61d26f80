"""Bounded text helpers shared by the signal parsers: decoding, header lookup, comment stripping."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

MAX_HEADER_CHARS = 16 * 1024  # per header field after combining; repext asks for >= 8 KiB
MAX_HEADER_LINES = 64
MAX_LINE_CHARS = 16664  # Google's per-line cap (2083 * 8), reused for robots-carried values

Headers = Mapping[str, str | bytes | Iterable[str | bytes]] | Iterable[tuple[str | bytes, str | bytes]]


def to_text(data: str | bytes | bytearray | None, limit: int) -> str:
    """Decode at most limit bytes as UTF-8 (invalid bytes replaced); never raises."""
    if data is None:
        return ""
    if isinstance(data, str):
        return data[:limit]
    return bytes(data[:limit]).decode("utf-8", "replace")


def header_values(headers: Headers | None, name: str) -> list[str]:
    """All values of a header, case-insensitive name, from a dict (str or list values) or (name, value) pairs."""
    if not headers:
        return []
    want = name.lower()
    pairs: Iterable = headers.items() if isinstance(headers, Mapping) else headers
    out: list[str] = []
    try:
        for item in pairs:
            try:
                key, val = item
            except (TypeError, ValueError):
                continue
            if to_text(key, 256).strip().lower() != want:
                continue
            values = [val] if isinstance(val, str | bytes | bytearray) else list(val)
            for v in values:
                if len(out) >= MAX_HEADER_LINES:
                    return out
                out.append(to_text(v, MAX_HEADER_CHARS))
    except TypeError:
        return out
    return out


def strip_comment(value: str) -> str:
    """robots.txt-style: the value ends at '#'."""
    return value.split("#", 1)[0].strip()
