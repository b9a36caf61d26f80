"""Declarative description of a virtual site: host names, routes, and a response per scenario phase."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from http import HTTPStatus
from typing import Literal

Via = Literal["proxy", "connect", "direct"]
BodyStream = Callable[[], AsyncIterator[bytes]]


@dataclass(frozen=True)
class Request:
    """What a route handler sees of one request."""

    method: str
    scheme: str
    host: str
    path: str
    query: str
    headers: Mapping[str, str]
    via: Via
    phase: int
    body: bytes = b""

    @property
    def target(self) -> str:
        """The path with its query string, as written in an origin-form request line."""
        return f"{self.path}?{self.query}" if self.query else self.path


@dataclass(frozen=True)
class Response:
    """One canned answer. Plain ones are pre-encoded once; the special fields make bad weather.

    ``stream`` produces the body lazily and requires ``length`` (the declared Content-Length);
    ``abort_after`` sends that many body bytes and then resets the connection;
    ``stall`` accepts the request and never answers until the client gives up.
    """

    status: int = 200
    body: bytes = b""
    content_type: str | None = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()
    stream: BodyStream | None = None
    length: int | None = None
    abort_after: int | None = None
    stall: bool = False

    def __post_init__(self) -> None:
        if self.stream is not None and self.length is None:
            raise ValueError("a streamed response must declare its length")

    @property
    def content_length(self) -> int:
        """The Content-Length announced in the head."""
        return self.length if self.length is not None else len(self.body)

    @cached_property
    def head_fields(self) -> bytes:
        """Header lines that never change between requests, encoded once."""
        lines = [f"{name}: {value}\r\n" for name, value in self.headers]
        if self.content_type is not None:
            lines.append(f"Content-Type: {self.content_type}\r\n")
        lines.append(f"Content-Length: {self.content_length}\r\n")
        return "".join(lines).encode("latin-1")

    @property
    def reason(self) -> str:
        """The reason phrase for the status line."""
        try:
            return HTTPStatus(self.status).phrase
        except ValueError:
            return "Unknown"


Handler = Callable[[Request], "Response | Awaitable[Response]"]
# A route is the same answer in every phase, a {first phase: answer} table, or a function of the request.
Route = Response | Mapping[int, Response] | Handler


@dataclass(frozen=True)
class Site:
    """A virtual host: its names, exact-path routes and what every other path answers."""

    host: str
    routes: Mapping[str, Route] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    fallback: Route | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """Every host name the site answers to, canonical one first."""
        return (self.host, *self.aliases)

    async def respond(self, request: Request) -> Response:
        """Resolve the route for ``request`` in its phase; unknown paths get a 404."""
        route = self.routes.get(request.path, self.fallback)
        if route is None:
            return NOT_FOUND
        if isinstance(route, Response):
            return route
        if isinstance(route, Mapping):
            return for_phase(route, request.phase)
        answer = route(request)
        if inspect.isawaitable(answer):
            answer = await answer
        return answer


def for_phase(table: Mapping[int, Response], phase: int) -> Response:
    """Pick the entry for the latest phase not after ``phase``, so content persists until changed."""
    started = [p for p in table if p <= phase]
    return table[max(started)] if started else NOT_FOUND


def by_host(sites: Iterable[Site]) -> dict[str, Site]:
    """Index sites by every name they answer to, as ``FakeInternet`` expects."""
    index: dict[str, Site] = {}
    for site in sites:
        for name in site.names:
            name = name.lower()
            if name in index:
                raise ValueError(f"host {name!r} is defined twice")
            index[name] = site
    return index


def text(
    body: str | bytes,
    status: int = 200,
    *,
    content_type: str = "text/plain; charset=utf-8",
    headers: tuple[tuple[str, str], ...] = (),
) -> Response:
    """A plain response with a body held in memory."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    return Response(status=status, body=data, content_type=content_type, headers=headers)


def html(body: str, status: int = 200, *, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    """An HTML page."""
    return text(body, status, content_type="text/html; charset=utf-8", headers=headers)


def redirect(location: str, status: int = 301) -> Response:
    """A redirect with a tiny HTML body, as most origins send."""
    page = f'<html><body>Moved to <a href="{location}">{location}</a></body></html>\n'
    return html(page, status=status, headers=(("Location", location),))


def filler(length: int, chunk: bytes = b"\xff\xfb\x90\x64" * 16384) -> BodyStream:
    """A lazily produced body of ``length`` bytes repeating ``chunk`` (MP3-frame-like by default)."""

    async def produce() -> AsyncIterator[bytes]:
        left = length
        view = memoryview(chunk)
        while left > 0:
            piece = view[: min(left, len(view))]
            left -= len(piece)
            yield bytes(piece) if len(piece) < len(view) else chunk

    return produce


NOT_FOUND = html("<html><body><h1>404 Not Found</h1></body></html>\n", status=404)
STALL = Response(status=0, content_type=None, stall=True)
