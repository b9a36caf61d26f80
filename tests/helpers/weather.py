"""Bad weather on demand for the simulated internet: every site answers normally until a failure mode is switched on
(503, a stalled answer, a reset, an unresolvable name, a body cut short)."""

from __future__ import annotations

from dataclasses import dataclass, field

from monitor.demo.model import Request, Response, Site

FAILURES: dict[str, Response] = {
    "503": Response(status=503, body=b"503 Service Unavailable\n", headers=(("Retry-After", "60"),)),
    "timeout": Response(stall=True),
    "reset": Response(body=b"x" * 4096, abort_after=0),
    # What a forward proxy answers when the name does not resolve (the probes reach the internet through one).
    "dns": Response(
        status=502, body=b"502 Bad Gateway: cannot resolve\n", headers=(("X-Fake-Internet", "unknown-host"),)
    ),
    "truncated": Response(body=b"User-agent: *\nDisallow: /\n" * 400, abort_after=300),
}


@dataclass
class Weather:
    """The failure mode in force (None: fair weather), shared by every wrapped site."""

    mode: str | None = None
    served: list[str] = field(default_factory=list)  # hosts that were answered with a failure


@dataclass(frozen=True)
class FlakySite(Site):
    """A site that answers with the weather's failure while one is switched on."""

    weather: Weather = field(default_factory=Weather)

    async def respond(self, request: Request) -> Response:
        if self.weather.mode is not None:
            self.weather.served.append(request.host)
            return FAILURES[self.weather.mode]
        return await super().respond(request)


def flaky(sites: dict[str, Site], weather: Weather) -> dict[str, Site]:
    """``sites`` (host -> site) with every site switched by ``weather``."""
    wrapped: dict[int, Site] = {}
    out = {}
    for host, site in sites.items():
        if id(site) not in wrapped:
            wrapped[id(site)] = FlakySite(site.host, site.routes, site.aliases, site.fallback, weather)
        out[host] = wrapped[id(site)]
    return out
