"""Settings of the alert channels (Apprise URLs, validated at load), mutes, grouping and retries."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from monitor.net import mask_url
from monitor.settings.base import Section, Severity

_CHANNEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


class AlertChannel(Section):
    """One Apprise destination and the alerts it wants."""

    name: str = Field(description="Channel name used in logs, metrics and `alerts test NAME` (letters, digits, _ . -).")
    url: str = Field(
        description="Apprise URL (slack://, mailto://, json://, pagerduty://, ...); masked in every output."
    )
    min_severity: Severity = Field("low", description="Lowest severity sent to this channel.")
    kinds: list[str] = Field(default_factory=list, description="Incident kinds sent to this channel (empty: all).")
    domains: list[str] = Field(
        default_factory=list, description="Domains sent to this channel, subdomains included (empty: all)."
    )
    send_resolved: bool = Field(True, description="Whether resolutions are sent (probe recoveries always are).")
    rate_limit_per_minute: int = Field(
        20, ge=0, description="At most this many messages a minute; the rest wait for the next drain (0: no limit)."
    )
    digest: bool = Field(False, description="Send this channel the periodic digest of open incidents.")
    mode: Literal["incident", "case"] = Field(
        "incident",
        description="`incident`: one message per incident change. `case`: one message when a case opens, escalates "
        "or reappears, instead of one per incident of that case (incidents outside cases, such as policy and probe "
        "health, are still sent one by one).",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _CHANNEL_NAME.match(value):
            raise ValueError("use 1-40 letters, digits, '_', '.' or '-' (it is a metric label)")
        if value == "log":
            raise ValueError("'log' is the built-in channel used when none is configured")
        return value

    @field_validator("domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        return [d.strip().lower().rstrip(".") for d in value]

    @model_validator(mode="after")
    def _url(self) -> AlertChannel:

        problem = url_problem(self.url)
        if problem:
            raise ValueError(f"channel {self.name!r}: url is {problem}")
        return self


class AlertMute(Section):
    """Alerts of a domain (subdomains included) and/or an incident kind are recorded, not sent, until a time."""

    domain: str | None = Field(None, description="Muted domain, subdomains included.")
    kind: str | None = Field(None, description="Muted incident kind.")
    until: datetime = Field(description="End of the mute (ISO-8601; UTC when no offset is given).")
    reason: str = Field("", description="Why (shown by `mute list`).")

    @field_validator("until")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    @model_validator(mode="after")
    def _something(self) -> AlertMute:
        if not self.domain and not self.kind:
            raise ValueError("a mute needs a domain, a kind or both")
        return self


class AlertSettings(Section):
    """Where alerts go and how they are delivered. With no channel, alerts are written to the log only."""

    channels: list[AlertChannel] = Field(default_factory=list, description="Apprise channels.")
    dry_run: bool = Field(False, description="Log alerts instead of sending them (they are marked sent).")
    drain_interval_seconds: float = Field(10.0, ge=0.1, description="How often the sender drains the outbox.")
    send_timeout_seconds: float = Field(30.0, gt=0, description="A send that takes longer counts as failed.")
    max_attempts: int = Field(8, ge=1, description="Failed sends before a delivery becomes a dead letter.")
    retry_base_seconds: float = Field(
        30.0, ge=0, description="First retry delay; doubled per failed attempt, with jitter."
    )
    retry_max_seconds: float = Field(3600.0, ge=0, description="Longest delay between two attempts.")
    group_threshold: int = Field(
        5, ge=1, description="More pending alerts than this for one (channel, domain) go out as one grouped message."
    )
    storm_threshold: int = Field(
        10,
        ge=0,
        description="More incidents than this of one kind opened (or resolved) on one domain by one run become one "
        "summary incident that alerts once; the items are recorded, linked to it, without alerts of their own "
        "(0: off).",
    )
    probe_failures: int = Field(
        3, ge=1, description="Consecutive failed runs of one probe job that open a probe_health incident."
    )
    digest_interval_seconds: int = Field(
        86400, ge=60, description="How often channels with `digest: true` get a digest of open incidents."
    )
    api_base_url: str | None = Field(
        None,
        description="Base URL of the daemon's API used in alert links (default: the address the daemon is "
        "listening on, with the bound port when http.listen says port 0; set it when that address is not reachable "
        "by the people reading alerts).",
    )
    mutes: list[AlertMute] = Field(default_factory=list, description="Configured mutes.")

    @model_validator(mode="after")
    def _unique_names(self) -> AlertSettings:
        seen: set[str] = set()
        for channel in self.channels:
            if channel.name in seen:
                raise ValueError(f"channel name {channel.name!r} is used twice")
            seen.add(channel.name)
        return self


def url_problem(url: str) -> str | None:
    """Why ``url`` is not a usable Apprise URL (the reason names the URL masked), or None when it is."""
    if apprise_plugin(url) is None:
        return f"not a valid Apprise URL: {mask_url(url)} (see https://appriseit.com/services/ for the formats)"
    return None


def apprise_plugin(url: str) -> Any:
    """The Apprise plugin for ``url``, or None when Apprise does not understand it (Apprise is imported here,
    only when channels are configured)."""
    import apprise

    try:
        return apprise.Apprise.instantiate(url, suppress_exceptions=True)
    except Exception:  # a plugin that raises on a malformed URL is still just a bad URL
        return None
