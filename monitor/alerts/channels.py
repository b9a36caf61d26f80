"""Channels: an Apprise URL (or the built-in log) that takes one rendered message and says whether it was accepted.

Sends are blocking (Apprise uses ``requests`` and ``smtplib``); the sender runs them in a thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import unquote, urlsplit

from monitor.net import mask_url
from monitor.settings.alerts import AlertChannel, apprise_plugin

log = logging.getLogger("scrapewatch.alerts")

Style = Literal["chat", "email", "webhook", "text"]
IDEMPOTENCY_HEADER = "Idempotency-Key"
EMAIL_IDEMPOTENCY_HEADER = "X-Scrapewatch-Idempotency-Key"
_WEBHOOK_SCHEMES = frozenset({"json", "jsons", "form", "forms", "xml", "xmls"})
_MAX_ERROR = 500


@dataclass(frozen=True)
class Message:
    """One message for one channel: a title, a body in the channel's format and the keys it carries."""

    title: str
    body: str
    body_format: Literal["markdown", "html", "text"]
    idempotency_key: str
    data: dict[str, Any] = field(default_factory=dict)  # structured copy for JSON webhooks


@dataclass(frozen=True)
class SendResult:
    ok: bool
    error: str | None = None


class Channel(Protocol):
    name: str
    style: Style
    masked_url: str

    def send(self, message: Message, timeout: float) -> SendResult: ...


def _style(plugin: Any, scheme: str) -> Style:
    from apprise.plugins.email import NotifyEmail

    if isinstance(plugin, NotifyEmail):
        return "email"
    if scheme in _WEBHOOK_SCHEMES:
        return "webhook"
    formats = plugin.notify_format if isinstance(plugin.notify_format, tuple | list) else (plugin.notify_format,)
    return "chat" if any(str(getattr(f, "value", f)) == "markdown" for f in formats) else "text"


def _secrets(url: str) -> list[str]:
    """Pieces of ``url`` that must never appear in a stored error or a log line."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    pieces = [parts.password or "", parts.username or ""]
    if parts.scheme not in {"http", "https"}:
        pieces += [unquote(p) for p in parts.path.split("/")]
        pieces += [parts.hostname or ""] if parts.hostname and "." not in parts.hostname else []
    pieces += [
        v for k, v in _query_pairs(parts.query) if any(s in k.lower() for s in ("token", "key", "pass", "secret"))
    ]
    return sorted({p for p in pieces if len(p) >= 4}, key=len, reverse=True)


def _query_pairs(query: str) -> list[tuple[str, str]]:
    out = []
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        out.append((key, unquote(value)))
    return out


class AppriseChannel:
    """A configured Apprise URL. A fresh plugin is built for every send, so per-message headers never leak."""

    def __init__(self, config: AlertChannel):
        self.config = config
        self.name = config.name
        self.masked_url = mask_url(config.url)
        plugin = apprise_plugin(config.url)
        if plugin is None:  # the settings validator already refused it; kept for channels built by hand
            raise ValueError(f"channel {config.name}: not a valid Apprise URL: {self.masked_url}")
        self._scheme = urlsplit(config.url).scheme.lower()
        self.style: Style = _style(plugin, self._scheme)
        self._secrets = _secrets(config.url)

    def scrub(self, text: str) -> str:
        """``text`` with every secret part of this channel's URL replaced by ***."""
        text = text.replace(self.config.url, self.masked_url)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def send(self, message: Message, timeout: float) -> SendResult:
        import apprise

        plugin = apprise_plugin(self.config.url)
        if plugin is None:
            return SendResult(False, f"not a valid Apprise URL: {self.masked_url}")
        _timeouts(plugin, timeout)
        headers = getattr(plugin, "headers", None)
        if isinstance(headers, dict):
            headers[EMAIL_IDEMPOTENCY_HEADER if self.style == "email" else IDEMPOTENCY_HEADER] = message.idempotency_key
        extras = getattr(plugin, "payload_extras", None)
        if isinstance(extras, dict) and self._scheme in ("json", "jsons", "form", "forms"):
            extras["idempotency_key"] = message.idempotency_key
            if self._scheme in ("json", "jsons"):  # a form field can only carry text
                extras["scrapewatch"] = message.data
        with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
            try:
                ok = plugin.notify(
                    body=message.body,
                    title=message.title,
                    notify_type=_notify_type(message),
                    body_format=message.body_format,
                )
            except Exception as exc:  # a plugin bug must not take the sender down
                return SendResult(False, self.scrub(f"{type(exc).__name__}: {exc}")[:_MAX_ERROR])
            lines = [line.strip() for line in captured.getvalue().splitlines() if line.strip()]
        if ok:
            return SendResult(True)
        reason = "; ".join(lines[-3:]) or "the channel refused the message"
        return SendResult(False, self.scrub(reason)[:_MAX_ERROR])


def _timeouts(plugin: Any, timeout: float) -> None:
    # Apprise's own socket timeouts (4 s unless the URL sets rto= / cto=) stay, bounded by ours.
    for attr in ("socket_connect_timeout", "socket_read_timeout"):
        current = getattr(plugin, attr, None)
        if isinstance(current, int | float):
            setattr(plugin, attr, min(current, timeout))


def _notify_type(message: Message) -> Any:
    from apprise import NotifyType

    severity = message.data.get("severity")
    if message.data.get("transition") == "resolved":
        return NotifyType.SUCCESS
    if severity in ("high", "critical"):
        return NotifyType.FAILURE
    if severity == "medium":
        return NotifyType.WARNING
    return NotifyType.INFO


class LogChannel:
    """The built-in channel when none is configured: every alert is a WARNING line in the daemon's log."""

    name = "log"
    style: Style = "text"
    masked_url = "log://"

    def send(self, message: Message, timeout: float) -> SendResult:
        d = message.data
        if d.get("transition") in (None, "digest", "grouped", "test"):
            log.warning("ALERT %s (%s)", message.title, message.idempotency_key)
        else:
            log.warning(
                "ALERT [%s] %s %s: %s (incident #%s, %s)",
                str(d.get("severity", "")).upper(),
                d.get("transition"),
                d.get("kind"),
                d.get("title"),
                d.get("incident_id"),
                message.idempotency_key,
            )
        return SendResult(True)


def build_channels(channels: list[AlertChannel]) -> dict[str, Channel]:
    """The configured channels by name, or the log channel alone when none is configured."""
    if not channels:
        return {"log": LogChannel()}
    return {c.name: AppriseChannel(c) for c in channels}
