"""The wire formats of archive and dataset-hub answers: gzip bodies, Wayback CDX JSON, NDJSON, Retry-After."""

from __future__ import annotations

import json
import time
import zlib
from email.utils import parsedate_to_datetime
from typing import Any

MAX_ROWS_PER_PAGE = 100_000


def decoded_body(body: bytes, headers: dict[str, list[str]], cap: int) -> tuple[bytes, str | None]:
    """The body with a gzip content encoding undone (at most ``cap`` bytes out), and a problem, if any."""
    encoding = ",".join(headers.get("content-encoding", [])).lower()
    magic = body[:2] == b"\x1f\x8b"
    if "gzip" not in encoding and not magic:
        return body, None
    if not magic:
        return b"", "Content-Encoding says gzip, but the body is not gzip"
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, max(cap, 1))
    except zlib.error as exc:
        return b"", f"corrupt gzip body: {exc}"
    if inflater.unconsumed_tail:
        return out, f"gzip body inflates beyond {cap} bytes"
    if not inflater.eof:
        return out, "gzip body ends early (truncated)"
    return out, None


def read_json(text: bytes) -> tuple[Any, str | None]:
    try:
        return json.loads(text), None
    except ValueError as exc:
        return None, f"malformed JSON: {str(exc)[:120]}"
    except RecursionError:  # "[[[[…": nesting deeper than the parser goes
        return None, "malformed JSON: nested too deeply"


def parse_wayback(text: bytes) -> tuple[list[dict[str, str]], str | None, str | None]:
    """Rows, resume key and problem of a Wayback ``output=json`` answer: an array of arrays, header first,
    with ``[]`` and ``[resumeKey]`` as its last two entries when ``showResumeKey`` found more."""
    if not text.strip():
        return [], None, None
    data, error = read_json(text)
    if error:
        return [], None, error
    if not isinstance(data, list) or not all(isinstance(r, list) for r in data):
        return [], None, "not a JSON array of arrays"
    if not data:
        return [], None, None
    header, body = [str(h) for h in data[0]], data[1:]
    resume = None
    if len(body) >= 2 and body[-2] == [] and len(body[-1]) == 1:
        resume, body = str(body[-1][0]), body[:-2]
    rows = [dict(zip(header, map(str, r), strict=False)) for r in body[:MAX_ROWS_PER_PAGE] if r]
    return rows, resume, None


def parse_ndjson(text: bytes) -> tuple[list[dict[str, Any]], int]:
    """Objects of a newline-delimited JSON answer and how many lines were not one (a cut last line)."""
    rows: list[dict[str, Any]] = []
    bad = 0
    for line in text.splitlines()[:MAX_ROWS_PER_PAGE]:
        if not line.strip():
            continue
        obj, error = read_json(line)
        if error or not isinstance(obj, dict):
            bad += 1
        else:
            rows.append(obj)
    return rows, bad


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds: delay-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
