"""Settings of storage, the HTTP server and outbound probes, and the scheduler."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, field_validator

from monitor import __version__
from monitor.settings.base import (
    Section,
)

DEFAULT_USER_AGENT = (
    f"scrapewatch/{__version__} (SoundCloud trust & safety policy and exposure monitor; "
    "+https://soundcloud.com/pages/contact)"
)


class StorageSettings(Section):
    """Where scrapewatch keeps its database and evidence files."""

    data_dir: Path = Field(Path("data"), description="Directory for the database and evidence files.")
    database: Path | None = Field(None, description="SQLite database file; defaults to DATA_DIR/scrapewatch.db.")
    busy_timeout_ms: int = Field(5000, ge=0, description="How long a writer waits for a lock (ms).")
    min_free_bytes: int = Field(
        16 * 1024 * 1024,
        ge=0,
        description="/readyz is unready when the database's filesystem has less free space than this (0: no check).",
    )

    @property
    def database_path(self) -> Path:
        return self.database if self.database is not None else self.data_dir / "scrapewatch.db"


class HttpSettings(Section):
    """The daemon's own HTTP server and every outbound probe."""

    listen: str = Field(
        "127.0.0.1:9410", description="host:port for /metrics, /healthz, /readyz and /api (port 0 = any)."
    )
    user_agent: str = Field(DEFAULT_USER_AGENT, description="User-Agent sent by every probe.")
    timeout_seconds: float = Field(30.0, gt=0, description="Per-request download timeout.")
    max_response_bytes: int = Field(
        2_097_152, ge=1024, description="Bodies are cut at this many bytes and marked truncated."
    )
    allow_private_networks: bool = Field(
        False, description="Allow probes to private, loopback, link-local and metadata addresses."
    )
    proxy: str | None = Field(None, description="Proxy URL for every probe; default from HTTPS_PROXY / HTTP_PROXY.")
    no_proxy: list[str] = Field(
        default_factory=list, description="Hosts (and their subdomains) reached directly; default NO_PROXY."
    )
    concurrent_requests_per_domain: int = Field(2, ge=1, le=64, description="Politeness per domain.")
    retries: int = Field(1, ge=0, le=10, description="Retries of a failed request before it counts.")
    api_token: SecretStr | None = Field(
        None,
        description="Secret that allows incident actions on /triage and POST /api (Bearer header or the form's "
        "token field; at least 16 characters); unset: read-only.",
    )

    request_timeout_seconds: float = Field(
        10.0,
        gt=0,
        le=300,
        description="A request to the daemon must arrive whole (line, headers, body) this many "
        "seconds after its first byte, else 408 and the connection is closed.",
    )
    idle_timeout_seconds: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="A connection to the daemon with no request in progress is closed after "
        "this many seconds of silence.",
    )
    max_request_bytes: int = Field(
        65_536,
        ge=1024,
        le=16_777_216,
        description="Largest request body the daemon accepts; a larger one is refused with 413 before it is read.",
    )

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError("expected host:port, e.g. 127.0.0.1:9410")
        return value

    @field_validator("api_token")
    @classmethod
    def _api_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        token = value.get_secret_value()
        if len(token) < 16 or token != token.strip() or not token.isprintable() or not token.isascii():
            raise ValueError(
                "expected at least 16 printable ASCII characters without surrounding spaces, e.g. the output of "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return value

    @field_validator("proxy")
    @classmethod
    def _proxy(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        parts = urlsplit(value if "://" in value else f"http://{value}")
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("expected an http:// or https:// proxy URL")
        return urlunsplit(parts)

    @property
    def listen_host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def listen_port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    def proxy_for(self, url: str) -> str | None:
        """The proxy that a probe of ``url`` goes through, or ``None`` for a direct connection."""
        if not self.proxy:
            return None
        host = (urlsplit(url).hostname or "").lower()
        for entry in self.no_proxy:
            entry = entry.strip().lower().lstrip(".")
            if entry == "*" or host == entry or host.endswith("." + entry):
                return None
        return self.proxy


class SchedulerSettings(Section):
    """How jobs are scheduled and how the daemon stops."""

    misfire_grace_seconds: int = Field(300, ge=1, description="A job that starts this late still runs.")
    shutdown_grace_seconds: float = Field(
        30.0, ge=0, description="On SIGTERM, how long running crawls may take to finish."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
