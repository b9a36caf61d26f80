"""Content of the simulated internet: SoundCloud's hosts, bad-weather hosts, and the site registry."""

from __future__ import annotations

import importlib
import itertools
from importlib import resources

from monitor.demo.model import (
    NOT_FOUND,
    STALL,
    Request,
    Response,
    Route,
    Site,
    by_host,
    filler,
    html,
    redirect,
    text,
)

# Content modules build sites from these (see CONTENT_MODULES).
__all__ = [
    "CONTENT_MODULES",
    "NOT_FOUND",
    "STALL",
    "Request",
    "Response",
    "Route",
    "Site",
    "by_host",
    "demo_sites",
    "filler",
    "html",
    "redirect",
    "register",
    "text",
]

# Modules that register more demo sites when imported (downloader sites, mirrors, a blog with a widget…).
# Add a module here and call register() at its top level; demo_sites() imports them on demand.
CONTENT_MODULES: tuple[str, ...] = (
    "monitor.demo.exposure_sites",
    "monitor.demo.embed_sites",
    "monitor.demo.trap_sites",
    "monitor.demo.downloader_sites",
    "monitor.demo.archive_sites",
)

_REGISTRY: dict[str, Site] = {}


def register(site: Site, *, replace: bool = False) -> Site:
    """Add ``site`` to the demo internet under all its names; a name defined twice is a mistake."""
    names = [name.lower() for name in site.names]
    taken = [name for name in names if name in _REGISTRY and _REGISTRY[name] is not site]
    if taken and not replace:
        raise ValueError(f"demo host already registered: {', '.join(taken)}")
    for name in names:
        _REGISTRY[name] = site
    return site


def demo_sites() -> dict[str, Site]:
    """Every registered demo site, keyed by host name (a fresh dict: callers may add or remove hosts)."""
    for module in CONTENT_MODULES:
        importlib.import_module(module)
    return dict(_REGISTRY)


def _file(relative: str) -> bytes:
    return resources.files("monitor.demo").joinpath("sites", relative).read_bytes()


# --- SoundCloud -------------------------------------------------------------------------------------

# Origins behind a CDN answer with these on every response; monitors must not trip over them.
_EDGE = (("Server", "am/2"), ("Cache-Control", "max-age=3600"), ("Vary", "Accept-Encoding"))
_HOME = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>SoundCloud - Hear the world's sounds</title>
<meta name="description" content="Play over 320 million tracks for free on SoundCloud.">
</head><body><noscript>JavaScript is required to use SoundCloud.</noscript></body></html>
"""

_TRACK = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Flickermood by Forss | Listen online for free on SoundCloud</title>
<meta name="tdm-reservation" content="1">
<meta property="twitter:app:url:iphone" content="soundcloud://sounds:293">
</head><body><article><h1>Flickermood</h1><p>{plays} plays</p></article></body></html>
"""
_PLAYS = itertools.count(1_204_332)
# The sampled track page: its AI signals sit in headers, while its body changes on every request (play counts).
# In phase 1 the CDN's noai header is dropped along with GPTBot's robots.txt block.
_TRACK_HEADERS = {
    0: (*_EDGE, ("X-Robots-Tag", "noai, noimageai"), ("tdm-reservation", "1")),
    1: (*_EDGE, ("tdm-reservation", "1")),
}


def _track(request: Request) -> Response:
    return html(_TRACK.format(plays=next(_PLAYS)), headers=_TRACK_HEADERS[min(request.phase, 1)])


register(
    Site(
        host="soundcloud.com",
        aliases=("www.soundcloud.com",),
        routes={
            "/": html(_HOME),
            "/robots.txt": {
                0: text(_file("soundcloud.com/robots.txt"), headers=_EDGE),
                1: text(_file("soundcloud.com/robots.phase1.txt"), headers=_EDGE),
            },
            "/ai.txt": {
                0: text(_file("soundcloud.com/ai.txt"), headers=_EDGE),
                1: text(_file("soundcloud.com/ai.phase1.txt"), headers=_EDGE),
            },
            # TDMRep (W3C CG): text-and-data-mining rights reserved everywhere, with a policy document.
            "/.well-known/tdmrep.json": text(
                _file("soundcloud.com/tdmrep.json"), content_type="application/json", headers=_EDGE
            ),
            # RSL license document, named by robots.txt's License line.
            "/license.xml": text(
                _file("soundcloud.com/license.xml"), content_type="application/rsl+xml", headers=_EDGE
            ),
            "/forss/flickermood": _track,
        },
    )
)

register(
    Site(
        host="m.soundcloud.com",
        routes={
            "/": html(_HOME),
            "/robots.txt": text(_file("m.soundcloud.com/robots.txt"), headers=_EDGE),
            # A broken origin behind the CDN, in every phase: RFC 9309 reads 5xx as "unreachable".
            "/ai.txt": html(
                "<html><body><h1>503 Service Unavailable</h1>No server is available.</body></html>\n",
                status=503,
                headers=(("Retry-After", "120"), ("Cache-Control", "no-cache")),
            ),
        },
    )
)

_API_404 = (
    '{"code":404,"message":"HTTP 404 Not Found","status":"404 - Not Found",'
    '"errors":[{"error_message":"404 - Not Found"}],"error":null}'
)

register(
    Site(
        host="api-v2.soundcloud.com",
        routes={"/robots.txt": text("User-agent: *\nDisallow: /\n")},
        fallback=text(_API_404, 404, content_type="application/json; charset=utf-8"),
    )
)


# --- Bad weather ------------------------------------------------------------------------------------

HUGE_BYTES = 50 * 1024 * 1024
RESET_DECLARED_BYTES = 1024 * 1024
RESET_SENT_BYTES = 16 * 1024


def _to_itself(request: Request) -> Response:
    return redirect(f"{request.scheme}://{request.host}{request.target}", status=302)


_SPA = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Loading…</title><script src="/static/app.js"></script></head>
<body><div id="root"></div></body></html>
"""

register(Site(host="slow.test", fallback=STALL))
register(
    Site(
        host="huge.test",
        fallback=Response(content_type="audio/mpeg", stream=filler(HUGE_BYTES), length=HUGE_BYTES),
    )
)
register(
    Site(
        host="reset.test",
        fallback=Response(
            content_type="audio/mpeg",
            stream=filler(RESET_DECLARED_BYTES),
            length=RESET_DECLARED_BYTES,
            abort_after=RESET_SENT_BYTES,
        ),
    )
)
register(Site(host="redirect-loop.test", fallback=_to_itself))
# A single-page app whose catch-all route answers every path, /robots.txt included, with its shell.
register(Site(host="html-robots.test", fallback=html(_SPA)))
