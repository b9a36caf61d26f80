"""The only place that reads configuration files and the environment: validated settings models.

Precedence, highest first: ``SCRAPEWATCH_*`` environment variables (``__`` separates nesting, e.g.
``SCRAPEWATCH_HTTP__TIMEOUT_SECONDS=10``), the YAML file (``--config FILE`` or ``SCRAPEWATCH_CONFIG``),
then the built-in defaults, which protect the four SoundCloud hosts and alert only to the log.
The standard ``HTTP_PROXY`` / ``HTTPS_PROXY`` / ``NO_PROXY`` variables fill ``http.proxy`` settings
that the file leaves unset.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import yaml
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from monitor import __version__
from monitor.config_sections import (
    AlertSettings,
    CatalogueSettings,
    PolicySettings,
    ScrapingSettings,
    WatchSettings,
    _Section,
)
from monitor.errors import ConfigError
from monitor.net import mask_url

CONFIG_ENV = "SCRAPEWATCH_CONFIG"
ENV_PREFIX = "SCRAPEWATCH_"
DEFAULT_USER_AGENT = (
    f"scrapewatch/{__version__} (SoundCloud trust & safety policy and exposure monitor; "
    "+https://soundcloud.com/pages/contact)"
)
POLICY_FILES = ("robots.txt", "ai.txt", ".well-known/tdmrep.json")
_HOST_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


class StorageSettings(_Section):
    """Where scrapewatch keeps its database and evidence files."""

    data_dir: Path = Field(Path("data"), description="Directory for the database and evidence files.")
    database: Path | None = Field(None, description="SQLite database file; defaults to DATA_DIR/scrapewatch.db.")
    busy_timeout_ms: int = Field(5000, ge=0, description="How long a writer waits for a lock (ms).")

    @property
    def database_path(self) -> Path:
        return self.database if self.database is not None else self.data_dir / "scrapewatch.db"


class HttpSettings(_Section):
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


class ProtectedDomain(_Section):
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


def _default_domains() -> list[ProtectedDomain]:
    return [
        ProtectedDomain(domain=d)
        for d in ("soundcloud.com", "www.soundcloud.com", "m.soundcloud.com", "api-v2.soundcloud.com")
    ]


class SchedulerSettings(_Section):
    """How jobs are scheduled and how the daemon stops."""

    misfire_grace_seconds: int = Field(300, ge=1, description="A job that starts this late still runs.")
    shutdown_grace_seconds: float = Field(
        30.0, ge=0, description="On SIGTERM, how long running crawls may take to finish."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")


class Settings(BaseSettings):
    """The whole resolved configuration."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        validate_assignment=True,
    )

    storage: StorageSettings = Field(default_factory=StorageSettings, description="Database and files.")
    http: HttpSettings = Field(default_factory=HttpSettings, description="HTTP server and probes.")
    protected_domains: list[ProtectedDomain] = Field(
        default_factory=_default_domains, description="Domains whose AI-usage signals are audited."
    )
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings, description="Scheduling.")
    watch: WatchSettings = Field(default_factory=WatchSettings, description="Third-party watchlist.")
    policy: PolicySettings = Field(default_factory=PolicySettings, description="The AI-policy audit.")
    catalogue: CatalogueSettings = Field(default_factory=CatalogueSettings, description="Protected tracks.")
    alerts: AlertSettings = Field(default_factory=AlertSettings, description="Alert channels.")
    scraping: ScrapingSettings = Field(
        default_factory=ScrapingSettings, description="Downloader canaries, archive and dataset probes."
    )

    @model_validator(mode="after")
    def _unique_domains(self) -> Settings:
        seen: set[str] = set()
        for d in self.protected_domains:
            if d.domain in seen:
                raise ValueError(f"protected domain {d.domain} is listed twice")
            seen.add(d.domain)
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The YAML file arrives as init kwargs (see load_settings) and the environment overrides it.
        return (env_settings, init_settings)

    def domain(self, name: str) -> ProtectedDomain:
        for d in self.protected_domains:
            if d.domain == name:
                return d
        raise KeyError(name)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([("(file)", f"cannot read {path}: {exc.strerror or exc}")], str(path)) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([("(yaml)", f"{where}{problem}")], str(path)) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([("(root)", "the file must hold a mapping of sections")], str(path))
    return data


def _error_key(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(root)"


def _proxy_env(env: dict[str, str]) -> tuple[str | None, list[str]]:
    def get(name: str) -> str | None:
        return env.get(name.lower()) or env.get(name.upper()) or None

    proxy = get("https_proxy") or get("http_proxy") or get("all_proxy")
    no_proxy = [p for p in (get("no_proxy") or "").split(",") if p.strip()]
    return proxy, no_proxy


def load_settings(path: str | Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Read the YAML file (argument, else ``SCRAPEWATCH_CONFIG``, else none) plus the environment.

    Raises :class:`ConfigError` listing every invalid key with its reason.
    """
    env = dict(os.environ if env is None else env)
    file = Path(path) if path else (Path(env[CONFIG_ENV]) if env.get(CONFIG_ENV) else None)
    data = _read_yaml(file) if file else {}
    source = str(file) if file else None
    try:
        settings = _with_env(env, lambda: Settings(**data))
    except ValidationError as exc:
        errors = [(_error_key(e["loc"]), e["msg"]) for e in exc.errors()]
        raise ConfigError(errors, source) from None
    except ValueError as exc:  # pydantic-settings raises SettingsError for unparsable env JSON
        raise ConfigError([("(environment)", str(exc))], source) from None
    proxy, no_proxy = _proxy_env(env)
    http_data = data.get("http") or {}
    try:
        if "proxy" not in http_data and not env.get(f"{ENV_PREFIX}HTTP__PROXY") and proxy:
            settings.http.proxy = proxy
        if "no_proxy" not in http_data and not env.get(f"{ENV_PREFIX}HTTP__NO_PROXY") and no_proxy:
            settings.http.no_proxy = no_proxy
    except ValidationError as exc:
        raise ConfigError([("HTTPS_PROXY/HTTP_PROXY", e["msg"]) for e in exc.errors()], source) from None
    return settings


def _with_env(env: dict[str, str], build):
    """pydantic-settings reads ``os.environ``; swap in ``env`` for the duration of ``build``."""
    saved = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(env)
        return build()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def masked_dump(settings: Settings) -> dict[str, Any]:
    """The resolved settings as plain data, with every secret masked (for `config check` and logs)."""
    data = settings.model_dump(mode="json")
    if data["http"].get("proxy"):
        data["http"]["proxy"] = mask_url(data["http"]["proxy"])
    for channel in data["alerts"]["channels"]:
        channel["url"] = mask_url(channel["url"])
    return data


def settings_reference() -> list[tuple[str, str, str]]:
    """(dotted key, default, help) for every setting: the source of the README's configuration table."""
    rows: list[tuple[str, str, str]] = []

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            key = f"{prefix}{name}"
            ann = field.annotation
            inner = getattr(ann, "__args__", (None,))[0] if getattr(ann, "__origin__", None) is list else None
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                walk(ann, key + ".")
            elif isinstance(inner, type) and issubclass(inner, BaseModel):
                rows.append((key, "see below", field.description or ""))
                walk(inner, key + "[].")
            else:
                if field.is_required():
                    shown = "required"
                else:
                    default = field.get_default(call_default_factory=True)
                    shown = "unset" if default is None else str(default) if isinstance(default, Path) else repr(default)
                rows.append((key, shown, field.description or ""))

    walk(Settings, "")
    return rows
