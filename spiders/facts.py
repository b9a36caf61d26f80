"""Small helpers every spider uses to write down a fetch: when, how long, and a short error text."""

from __future__ import annotations

import time
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
