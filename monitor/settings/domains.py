"""The protected domains whose AI-usage signals are audited (SoundCloud's four hosts by default)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from monitor.settings.base import (
    Section,
)

POLICY_FILES = ("robots.txt", "ai.txt", ".well-known/tdmrep.json")


_HOST_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


class ProtectedDomain(Section):
    """A domain whose AI-usage signals scrapewatch audits."""

    domain: str = Field(description="Host name, e.g. soundcloud.com.")
    scheme: Literal["https", "http"] = Field("https", description="Scheme used to fetch its policy files.")
    interval_seconds: int = Field(3600, ge=5, description="How often its policy files are fetched.")
    jitter_seconds: int = Field(60, ge=0, description="Random delay added to each run.")
    files: list[str] = Field(
        default_factory=lambda: list(POLICY_FILES), description="Policy files fetched from its root."
    )

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        value = value.strip().lower().rstrip(".")
        if "/" in value or "@" in value:
            raise ValueError("expected a host name such as soundcloud.com (no scheme or path)")
        host = value.rsplit(":", 1)[0] if value.count(":") == 1 else value
        if not _HOST_RE.match(host):
            raise ValueError("expected a host name such as soundcloud.com (no scheme or path)")
        return value

    @field_validator("files")
    @classmethod
    def _files(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(POLICY_FILES))
        if unknown:
            raise ValueError(f"unknown policy file(s) {unknown}; known: {list(POLICY_FILES)}")
        return value

    def url(self, file: str) -> str:
        return f"{self.scheme}://{self.domain}/{file}"


def default_domains() -> list[ProtectedDomain]:
    return [
        ProtectedDomain(domain=d)
        for d in ("soundcloud.com", "www.soundcloud.com", "m.soundcloud.com", "api-v2.soundcloud.com")
    ]
