"""Pure routing: which channel wants an alert (severity, kinds, domains, resolutions) and whether a mute holds it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from monitor.incidents import SEVERITY_RANK
from monitor.settings import AlertChannel, AlertMute

PROBE_HEALTH = "probe_health"
CASE_PREFIX = "case_"


@dataclass(frozen=True)
class Facts:
    """What routing needs to know about one alert."""

    kind: str
    severity: str
    domain: str
    transition: str
    in_case: bool = False  # an incident that belongs to a case (case-mode channels hear of its case instead)

    @property
    def about_case(self) -> bool:
        """A case alert (opened, escalated, reappeared): for case-mode channels only."""
        return self.transition.startswith(CASE_PREFIX)


@dataclass(frozen=True)
class Mute:
    """An active or expired mute, from the settings (``id`` None) or from ``scrapewatch mute add``."""

    domain: str | None
    kind: str | None
    until: datetime
    reason: str = ""
    id: int | None = None

    @classmethod
    def from_config(cls, mute: AlertMute) -> Mute:
        return cls(mute.domain.lower() if mute.domain else None, mute.kind, mute.until, mute.reason)

    @property
    def label(self) -> str:
        what = " ".join(
            p for p in (f"domain={self.domain}" if self.domain else "", f"kind={self.kind}" if self.kind else "") if p
        )
        source = f"mute #{self.id}" if self.id is not None else "configured mute"
        return f"{source} ({what}) until {self.until.isoformat(timespec='seconds')}" + (
            f": {self.reason}" if self.reason else ""
        )

    def holds(self, facts: Facts, now: datetime) -> bool:
        """True while the mute runs and its domain and kind (those given) match the alert."""
        if now >= self.until:
            return False
        if self.domain and not domain_matches(self.domain, facts.domain):
            return False
        return not (self.kind and self.kind != facts.kind)


def domain_matches(pattern: str, domain: str) -> bool:
    """``soundcloud.com`` matches itself and its subdomains (``m.soundcloud.com``), nothing else."""
    pattern, domain = pattern.lower().rstrip("."), domain.lower().rstrip(".")
    return domain == pattern or domain.endswith("." + pattern)


def channel_filter(channel: AlertChannel | None, facts: Facts) -> str | None:
    """Why ``channel`` does not want this alert, or None when it does (``None`` channel: the log takes all)."""
    if facts.transition in ("digest", "test"):
        return None
    mode = channel.mode if channel is not None else "incident"
    if facts.about_case and mode != "case":
        return "the channel alerts per incident"
    if facts.in_case and not facts.about_case and mode == "case":
        return "the channel alerts per case"
    if channel is None:
        return None
    if SEVERITY_RANK.get(facts.severity, 0) < SEVERITY_RANK[channel.min_severity]:
        return f"severity {facts.severity} below {channel.min_severity}"
    if channel.kinds and facts.kind not in channel.kinds:
        return f"kind {facts.kind} not in the channel's kinds"
    if channel.domains and not any(domain_matches(d, facts.domain) for d in channel.domains):
        return f"domain {facts.domain} not in the channel's domains"
    # A recovery answers an earlier failure alert, so probe health always reports it.
    if facts.transition == "resolved" and not channel.send_resolved and facts.kind != PROBE_HEALTH:
        return "resolutions are not sent to this channel"
    return None


def active_mute(mutes: list[Mute], facts: Facts, now: datetime) -> Mute | None:
    """The first mute that holds this alert now, if any."""
    for mute in mutes:
        if mute.holds(facts, now):
            return mute
    return None


def decide(channel: AlertChannel | None, facts: Facts, mutes: list[Mute], now: datetime) -> tuple[str, str | None]:
    """(status, detail) of a new delivery: ``filtered`` (the channel does not want it), ``muted`` or ``pending``."""
    reason = channel_filter(channel, facts)
    if reason is not None:
        return "filtered", reason
    if facts.transition != "digest":
        mute = active_mute(mutes, facts, now)
        if mute is not None:
            return "muted", mute.label
    return "pending", None
