"""Settings of cases: operator links that may merge them, and the takedown re-check after a notice."""

from __future__ import annotations

from pydantic import Field, field_validator

from monitor.settings.base import Section


class CaseSettings(Section):
    """How incidents are grouped into cases per offender and how a sent notice is followed up."""

    recheck_after_seconds: float = Field(
        7 * 86400.0,
        ge=60,
        description="After a notice is recorded (`case notice-sent`), the daemon re-crawls the case's URLs this "
        "long later, and again at this interval until every URL is gone (taken down).",
    )
    recheck_interval_seconds: float = Field(
        3600.0, ge=1, description="How often the daemon looks for cases whose re-check is due."
    )
    max_link_domains: int = Field(
        5,
        ge=2,
        description="An operator link value (client_id, analytics id, relay host, IP, certificate) seen on more "
        "domains than this is treated as public or shared and merges nothing.",
    )
    ignored_client_ids: list[str] = Field(
        default_factory=list,
        description="SoundCloud client_ids that never link operators (SoundCloud's own public web or widget ids, "
        "which every scraper can copy).",
    )

    @field_validator("ignored_client_ids")
    @classmethod
    def _ids(cls, value: list[str]) -> list[str]:
        return [v.strip() for v in value if v.strip()]
