"""Small helpers every spider uses to write down a fetch: when, how long, and a short error text."""

from __future__ import annotations

import time
import zlib
from datetime import UTC, datetime
from typing import Any

from spiders.middlewares import STARTED_META

DETAIL_MAX = 200


def short_error(exc: BaseException) -> str:
    """``Type: message`` of ``exc`` in at most DETAIL_MAX characters (human text, never a metric label)."""
    # Scrapy's wrappers often carry no message of their own: the Twisted cause says what happened.
    message = str(exc) or str(exc.__cause__ or "")
    message = message.replace("<twisted.python.failure.Failure ", "<")
    text = f"{type(exc).__name__}: {message}".strip().rstrip(":")
    return text if len(text) <= DETAIL_MAX else text[: DETAIL_MAX - 1] + "…"


def utc_now() -> str:
    """The current time, ISO-8601 UTC with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def duration_of(meta: dict[str, Any]) -> float:
    """Seconds since ProxyMiddleware first saw the request (retries and redirects included)."""
    started = meta.get(STARTED_META)
    if started is None:
        return float(meta.get("download_latency") or 0.0)
    return round(time.monotonic() - started, 6)


# zlib window bits per Content-Encoding token: gzip framing, or zlib framing (raw deflate is tried after it).
# Without a size cap, decoding is still bounded: a few KiB of gzip may inflate to gigabytes.
UNCAPPED_DECODE_LIMIT = 64 * 1024 * 1024
_CODINGS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def decode_content(body: bytes, encodings: list[str], cap: int) -> tuple[bytes, bool, str | None]:
    """Undo a gzip / deflate Content-Encoding without ever producing more than ``cap`` bytes (0: no cap).

    Returns (body, cut, problem): ``cut`` when the decoded body was longer than ``cap`` (a decompression bomb
    inflates to the cap and no further), ``problem`` a short text when the body could not be decoded, which is
    then kept as it arrived (as is a coding we do not decode, e.g. br).
    """
    codings = [c.strip().lower() for value in encodings for c in value.split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    cut = False
    for coding in reversed(codings):  # the last coding applied is undone first
        if coding not in _CODINGS:
            return body, cut, f"Content-Encoding {coding[:40]} not decoded; body kept as received"
        out, more, problem = _inflate(body, _CODINGS[coding], cap)
        if problem and coding == "deflate":  # servers often send raw deflate under this name
            out, more, problem = _inflate(body, -zlib.MAX_WBITS, cap)
        if problem:
            return body, cut, f"Content-Encoding {coding}: {problem}; body kept as received"
        body, cut = out, cut or more
    if cut:
        limit = cap if cap > 0 else UNCAPPED_DECODE_LIMIT
        return body, cut, f"{'+'.join(codings)} body inflates beyond {limit} bytes; decoded body cut there"
    return body, cut, None


def _inflate(body: bytes, wbits: int, cap: int) -> tuple[bytes, bool, str | None]:
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(body, cap if cap > 0 else UNCAPPED_DECODE_LIMIT)
    except zlib.error as exc:
        return b"", False, f"corrupt body ({exc})"
    return out, bool(inflater.unconsumed_tail), None
