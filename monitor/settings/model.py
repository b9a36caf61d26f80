"""The root settings model and how it is loaded: YAML file, then ``SCRAPEWATCH_*`` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.sources.utils import parse_env_vars

from monitor.errors import ConfigError
from monitor.net import mask_url
from monitor.settings.alerts import AlertSettings
from monitor.settings.audio import AudioSettings
from monitor.settings.cases import CaseSettings
from monitor.settings.core import HttpSettings, SchedulerSettings, StorageSettings
from monitor.settings.distributed import DistributedSettings
from monitor.settings.domains import ProtectedDomain, default_domains
from monitor.settings.intel import IntelSettings
from monitor.settings.notices import NoticeSettings
from monitor.settings.policy import CatalogueSettings, PolicySettings
from monitor.settings.scraping import ScrapingSettings
from monitor.settings.watch import WatchSettings

CONFIG_ENV = "SCRAPEWATCH_CONFIG"
# The environment a load reads: load_settings() sets it for the duration of one Settings() call, so that a
# caller-given mapping is read without rewriting os.environ (Apprise sends run in threads meanwhile).
_ENV: ContextVar[Mapping[str, str]] = ContextVar("scrapewatch_settings_env", default=os.environ)


ENV_PREFIX = "SCRAPEWATCH_"


class _MappingEnvSource(EnvSettingsSource):
    """pydantic-settings' environment source, reading a given mapping instead of ``os.environ``."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]):
        self._mapping = env
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._mapping, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


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
        default_factory=default_domains, description="Domains whose AI-usage signals are audited."
    )
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings, description="Scheduling.")
    watch: WatchSettings = Field(default_factory=WatchSettings, description="Third-party watchlist.")
    policy: PolicySettings = Field(default_factory=PolicySettings, description="The AI-policy audit.")
    catalogue: CatalogueSettings = Field(default_factory=CatalogueSettings, description="Protected tracks.")
    alerts: AlertSettings = Field(default_factory=AlertSettings, description="Alert channels.")
    audio: AudioSettings = Field(default_factory=AudioSettings, description="Audio matching (ffmpeg, fpcalc).")
    scraping: ScrapingSettings = Field(
        default_factory=ScrapingSettings, description="Downloader canaries, archive and dataset probes."
    )
    intel: IntelSettings = Field(default_factory=IntelSettings, description="Host intel: DNS, RDAP, TLS.")
    notices: NoticeSettings = Field(default_factory=NoticeSettings, description="Takedown notices and bundles.")
    cases: CaseSettings = Field(default_factory=CaseSettings, description="Cases per offender and takedowns.")
    distributed: DistributedSettings = Field(
        default_factory=DistributedSettings, description="Crawl workers on Redis (off without redis_url)."
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
        return (_MappingEnvSource(settings_cls, _ENV.get()), init_settings)

    def domain(self, name: str) -> ProtectedDomain:
        for d in self.protected_domains:
            if d.domain == name:
                return d
        raise KeyError(name)


# A configuration file is a few kilobytes; these bound what a damaged or hostile one can make the loader do.
MAX_CONFIG_BYTES = 1024 * 1024
MAX_NESTING = 50


MAX_ALIASES = 100  # a configuration may reuse blocks with anchors; thousands of aliases is an attack


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with a nesting limit (its composer recurses: 5,000 levels is a RecursionError) and
    integers too long for Python's int() (more than 4,300 digits) reported as YAML errors at their line."""

    _depth = 0
    _aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.events.AliasEvent):
            # Each alias is a reference, cheap for the loader but walked again by validation: anchors nested
            # into each other ("billion laughs") would make a small file cost exponential time downstream.
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(None, None, f"more than {MAX_ALIASES} aliases (*name)", mark)
        self._depth += 1
        try:
            if self._depth > MAX_NESTING:
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(None, None, f"nested more than {MAX_NESTING} levels deep", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_yaml_int(self, node: Any) -> int:
        try:
            return super().construct_yaml_int(node)
        except ValueError:
            digits = len(str(node.value))
            raise yaml.constructor.ConstructorError(
                None, None, f"an integer of {digits} characters is too long", node.start_mark
            ) from None


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError([("(file)", f"cannot read {path}: {exc.strerror or exc}")], str(path)) from exc
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(
            [("(file)", f"larger than {MAX_CONFIG_BYTES // 1024} KiB: not a configuration file")], str(path)
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        problem = f"not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line}): not a configuration file?"
        raise ConfigError([("(file)", problem)], str(path)) from None
    try:
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader: plain data only
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([("(yaml)", f"{where}{problem}")], str(path)) from None
    except RecursionError:  # a last guard: _Loader limits nesting well before Python's stack ends
        raise ConfigError([("(yaml)", "nested too deeply")], str(path)) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([("(root)", "the file must hold a mapping of sections")], str(path))
    keys = [key for key in data if not isinstance(key, str)]
    if keys:
        raise ConfigError([(str(keys[0]), "a section name must be text")], str(path))
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
        token = _ENV.set(env)
        try:
            settings = Settings(**data)
        finally:
            _ENV.reset(token)
    except ValidationError as exc:
        errors = [(_error_key(e["loc"]), e["msg"]) for e in exc.errors()]
        raise ConfigError(errors, source) from None
    except ValueError as exc:  # pydantic-settings raises SettingsError for unparsable env JSON
        raise ConfigError([("(environment)", str(exc))], source) from None
    except RecursionError:  # a value nested within the limit can still be deep for validation (env JSON)
        raise ConfigError([("(root)", "a value is nested too deeply")], source) from None
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
