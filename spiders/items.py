"""Items the spiders yield: raw facts about what a fetch saw, with no judgement attached."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PolicyFileItem:
    """One fetch of a policy file (robots.txt, ai.txt) from a protected domain.

    Exactly one of (``status`` is not None) or (``error_kind`` is not None and ``status`` is None) holds:
    a response of any status is a response; ``error_kind`` without status means no response arrived.
    An HTTP error status sets both ``status`` and ``error_kind`` (http_4xx / http_5xx).
    """

    domain: str
    file: str  # "robots.txt", "ai.txt", ".well-known/tdmrep.json", "page:<path class>", "license#<n>"
    url: str  # the URL requested first
    final_url: str | None = None  # after redirects
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names, first value
    header_values: dict[str, list[str]] = field(default_factory=dict)  # lower-cased names, every value in order
    body: bytes = b""  # cut at the configured cap
    size: int = 0  # bytes received (may exceed len(body) when truncated)
    truncated: bool = False
    redirects: list[str] = field(default_factory=list)  # URLs redirected through, in order
    error_kind: str | None = None  # a monitor.errors.ErrorKind value
    error_detail: str | None = None  # short human text, never used as a metric label
    duration_seconds: float = 0.0
    fetched_at: str = ""  # ISO-8601 UTC
