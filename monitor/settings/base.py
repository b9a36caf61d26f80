"""What every settings section shares: the strict base model, the severity vocabulary, URL validation."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

Severity = Literal["info", "low", "medium", "high", "critical"]


class Section(BaseModel):
    # No infinities or NaN: `timeout_seconds: 1e999999` is a mistake, not a wish for an endless timeout.
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


def http_url(value: str, what: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"{what} {value!r} is not an http(s) URL with a host")
    return value
