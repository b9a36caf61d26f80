"""The registry of known AI crawlers: load, validate, diff, fetch and atomically write ``ai_agents.csv``."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from monitor.errors import RegistryError, RegistryFetchError

BUNDLED_PATH = Path(__file__).parent / "data" / "ai_agents.csv"
COLUMNS = ("token", "operator", "function", "respects_robots", "respect_source")
REQUIRED_COLUMNS = ("token", "operator", "function", "respects_robots")
# The category labels the upstream list uses in the ``function`` column; other values there are free prose.
CATEGORIES = (
    "AI Agents",
    "AI Assistants",
    "AI Coding Agents",
    "AI Data Providers",
    "AI Data Scrapers",
    "AI Search Crawlers",
    "Undocumented AI Agents",
)
UNCATEGORISED = "Uncategorised"
UNCLEAR = "Unclear at this time."
MAX_REGISTRY_BYTES = 1_048_576  # the real list is ~25 kB; anything near 1 MiB is not a crawler list
FETCH_TIMEOUT_SECONDS = 15.0
_RFC9309_TOKEN = re.compile(r"[A-Za-z_-]+")  # RFC 9309 section 2.2.1: product-token = 1*(ALPHA / "-" / "_")
_BAD_CHARS = re.compile(r"[\x00-\x1f\x7f,;:\"'<>\\]")  # would break robots.txt lines or the CSV round-trip
_MAX_TOKEN_LENGTH = 100


@dataclass(frozen=True)
class Agent:
    """One AI crawler as the registry describes it; text fields are kept as published (whitespace-normalised)."""

    token: str
    operator: str
    function: str
    respects_robots: bool | None
    respects_robots_note: str = UNCLEAR  # the published text, e.g. "At the discretion of Diffbot users."
    respect_source: str = ""

    @property
    def category(self) -> str:
        """The upstream category label if ``function`` is one, else ``Uncategorised``."""
        return self.function if self.function in CATEGORIES else UNCATEGORISED

    @property
    def rfc9309_valid(self) -> bool:
        """Whether the token can be matched by a robots.txt ``user-agent`` line as RFC 9309 defines it."""
        return bool(_RFC9309_TOKEN.fullmatch(self.token))

    def row(self) -> dict[str, str]:
        """The agent as a CSV row with the registry's columns."""
        return {
            "token": self.token,
            "operator": self.operator,
            "function": self.function,
            "respects_robots": self.respects_robots_note,
            "respect_source": self.respect_source,
        }

    def to_json(self) -> dict[str, Any]:
        """The agent with its derived fields, for ``--json`` output."""
        return {**asdict(self), "category": self.category, "rfc9309_valid": self.rfc9309_valid}


@dataclass(frozen=True)
class Registry:
    """An ordered, validated set of agents with case-insensitive token lookup (robots.txt matching ignores case)."""

    agents: tuple[Agent, ...]
    source: str = "<memory>"
    _index: dict[str, Agent] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, Agent] = {}
        for agent in self.agents:
            if agent.token.lower() in index:
                raise RegistryError(f"duplicate token {agent.token!r}", self.source, field="token")
            index[agent.token.lower()] = agent
        object.__setattr__(self, "_index", index)

    def __iter__(self) -> Iterator[Agent]:
        return iter(self.agents)

    def __len__(self) -> int:
        return len(self.agents)

    def __contains__(self, token: object) -> bool:
        return isinstance(token, str) and token.lower() in self._index

    def get(self, token: str) -> Agent | None:
        """The agent whose token equals ``token`` ignoring case, or ``None``."""
        return self._index.get(token.lower())

    def tokens(self) -> list[str]:
        """Every token in registry order."""
        return [agent.token for agent in self.agents]

    def by_category(self) -> dict[str, list[Agent]]:
        """Agents grouped by ``Agent.category``, categories sorted by name."""
        groups: dict[str, list[Agent]] = {}
        for agent in self.agents:
            groups.setdefault(agent.category, []).append(agent)
        return dict(sorted(groups.items()))

    def to_csv(self) -> str:
        """The registry in the bundled file's format (LF line endings, no comment lines)."""
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(agent.row() for agent in self.agents)
        return out.getvalue()


@dataclass(frozen=True)
class RegistryDiff:
    """What changed between two registries, keyed by case-insensitive token."""

    added: list[Agent]
    removed: list[Agent]
    changed: list[tuple[Agent, Agent, dict[str, tuple[str, str]]]]  # (old, new, {column: (old, new)})

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


def _normalise(value: Any) -> str:
    return " ".join(str(value).split())


def _parse_respects(note: str) -> bool | None:
    answer = note.rstrip(".").strip().lower()
    return {"yes": True, "no": False}.get(answer)


def _make_agent(values: dict[str, Any], source: str, line: int | None) -> Agent:
    fields = {name: _normalise(values.get(name) or "") for name in COLUMNS}
    for name in REQUIRED_COLUMNS:
        if name not in values:
            raise RegistryError("missing", source, line, name)
        if not fields[name]:
            raise RegistryError("empty value", source, line, name)
    token = fields["token"]
    if len(token) > _MAX_TOKEN_LENGTH:
        raise RegistryError(f"token longer than {_MAX_TOKEN_LENGTH} characters", source, line, "token")
    if bad := _BAD_CHARS.search(token):
        raise RegistryError(f"token contains {bad.group()!r}", source, line, "token")
    if fields["respect_source"] and urlsplit(fields["respect_source"]).scheme not in ("http", "https"):
        raise RegistryError("expected an http(s) URL or nothing", source, line, "respect_source")
    return Agent(
        token=token,
        operator=fields["operator"],
        function=fields["function"],
        respects_robots=_parse_respects(fields["respects_robots"]),
        respects_robots_note=fields["respects_robots"],
        respect_source=fields["respect_source"],
    )


def _build(agents: list[tuple[Agent, int | None]], source: str, unit: str) -> Registry:
    seen: dict[str, int | None] = {}
    for agent, where in agents:
        key = agent.token.lower()
        if key in seen:
            first = f"{unit} {seen[key]}" if seen[key] else "earlier"
            message = f"duplicate token {agent.token!r} (first at {first})"
            if unit == "item":
                raise RegistryError(message, f"{source}: item {where}", None, "token")
            raise RegistryError(message, source, where, "token")
        seen[key] = where
    return Registry(tuple(agent for agent, _ in agents), source)


def _parse_csv(text: str, source: str) -> Registry:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    agents: list[tuple[Agent, int | None]] = []
    start = 1
    try:
        for row in reader:
            line, start = start, reader.line_num + 1  # a quoted field may span lines; report where the row began
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = [cell.strip().lower() for cell in row]
                for name in REQUIRED_COLUMNS:
                    if name not in header:
                        raise RegistryError(f"missing column {name!r} in the header", source, line, name)
                for name in header:
                    if name not in COLUMNS:
                        raise RegistryError(f"unknown column {name!r}; expected {', '.join(COLUMNS)}", source, line)
                continue
            if len(row) != len(header):
                raise RegistryError(f"expected {len(header)} fields, found {len(row)}", source, line)
            agents.append((_make_agent(dict(zip(header, row, strict=True)), source, line), line))
    except csv.Error as exc:
        raise RegistryError(f"malformed CSV: {exc}", source, reader.line_num) from None
    if header is None:
        raise RegistryError("empty file: expected a header line " + ",".join(COLUMNS), source, 1)
    if not agents:
        raise RegistryError("no agents listed", source, start)
    return _build(agents, source, "line")


def _parse_json(text: str, source: str) -> Registry:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RegistryError(f"invalid JSON: {exc.msg} (column {exc.colno})", source, exc.lineno) from None
    if not isinstance(data, list) or not data:
        raise RegistryError("expected a non-empty JSON list of agent objects", source, 1)
    agents: list[tuple[Agent, int | None]] = []
    for number, item in enumerate(data, 1):
        where = f"{source}: item {number}"
        if not isinstance(item, dict):
            raise RegistryError(f"expected an object, found {type(item).__name__}", where)
        if unknown := sorted(set(item) - set(COLUMNS)):
            raise RegistryError(f"unknown field(s) {', '.join(unknown)}", where, field=unknown[0])
        values = dict(item)
        respects = values.get("respects_robots")
        # JSON may give the parsed form (true/false/null) rather than the published sentence.
        if respects is True or respects is False:
            values["respects_robots"] = "Yes" if respects else "No"
        elif respects is None and "respects_robots" in values:
            values["respects_robots"] = UNCLEAR
        for name, value in values.items():
            if not isinstance(value, str):
                raise RegistryError(f"expected a string, found {type(value).__name__}", where, field=name)
        agents.append((_make_agent(values, where, None), number))
    return _build(agents, source, "item")


def parse_registry(text: str, source: str = "<text>") -> Registry:
    """Validate a registry given as CSV (the bundled format) or as a JSON list of objects with the same fields."""
    for number, line in enumerate(text.splitlines(), 1):
        if "\x00" in line:
            raise RegistryError("binary data (NUL byte)", source, number)
    text = text.removeprefix("\ufeff")  # spreadsheets save CSV with a BOM
    if text.lstrip().startswith("["):
        return _parse_json(text, source)
    return _parse_csv(text, source)


def decode_registry(data: bytes, source: str = "<bytes>") -> Registry:
    """Decode UTF-8 bytes and parse them; undecodable bytes are reported with their line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RegistryError(f"not UTF-8 text (byte 0x{data[exc.start]:02x})", source, line) from None
    return parse_registry(text, source)


def load_registry(path: Path | None = None) -> Registry:
    """Load the registry at ``path``, or the one bundled with scrapewatch when ``path`` is ``None``."""
    path = path or BUNDLED_PATH
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RegistryError(f"cannot read: {exc.strerror or exc}", str(path)) from None
    return decode_registry(data, str(path))


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    # urllib would follow a redirect to ftp://; a registry must only ever come over http(s).
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        if urlsplit(newurl).scheme not in ("http", "https"):
            raise RegistryError(f"refusing redirect to non-http(s) URL {newurl}", req.full_url)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def fetch_registry(
    url: str,
    *,
    timeout: float = FETCH_TIMEOUT_SECONDS,
    max_bytes: int = MAX_REGISTRY_BYTES,
    proxy: str | None = None,
    user_agent: str = "scrapewatch",
) -> Registry:
    """Download and validate a registry over http(s), reading at most ``max_bytes``.

    Proxies come only from ``proxy`` (the caller passes the configured one): urllib's default would read
    the environment behind the settings module's back.
    """
    if urlsplit(url).scheme not in ("http", "https"):
        raise RegistryError("only http:// and https:// URLs are accepted", url)
    proxies = {"http": proxy, "https": proxy} if proxy else {}
    opener = urllib.request.build_opener(urllib.request.ProxyHandler(proxies), _HttpOnlyRedirects())
    request = urllib.request.Request(url, headers={"User-Agent": user_agent, "Accept": "text/csv, application/json"})
    try:
        with opener.open(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise RegistryError(f"response is {length} bytes; the limit is {max_bytes}", url)
            data = response.read(max_bytes + 1)
    except urllib.error.HTTPError as exc:
        raise RegistryFetchError(f"HTTP {exc.code} {exc.reason}", url) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RegistryFetchError(f"cannot fetch: {reason}", url) from None
    if len(data) > max_bytes:
        raise RegistryError(f"response is larger than the limit of {max_bytes} bytes", url)
    return decode_registry(data, url)


def read_registry_source(location: str, **fetch_options: Any) -> Registry:
    """Load a registry from a local path or an http(s) URL; any other URL scheme is refused."""
    if "://" in location or location.lower().startswith(("file:", "data:", "ftp:")):
        return fetch_registry(location, **fetch_options)
    return load_registry(Path(location))


def diff_registries(old: Registry, new: Registry) -> RegistryDiff:
    """Agents added, removed and changed (column by column) going from ``old`` to ``new``."""
    added = [agent for agent in new if agent.token not in old]
    removed = [agent for agent in old if agent.token not in new]
    changed = []
    for agent in new:
        before = old.get(agent.token)
        if before is None:
            continue
        old_row, new_row = before.row(), agent.row()
        columns = {name: (old_row[name], new_row[name]) for name in COLUMNS if old_row[name] != new_row[name]}
        if columns:
            changed.append((before, agent, columns))
    return RegistryDiff(added, removed, changed)


def write_registry(registry: Registry, path: Path) -> None:
    """Write ``registry`` as CSV to ``path`` atomically: readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(registry.to_csv())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
