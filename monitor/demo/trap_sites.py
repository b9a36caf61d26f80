"""trap.example: bad weather for crawlers (link loops, endless depth, huge / slow / garbage pages, a redirect loop)."""

from __future__ import annotations

import random

from monitor.demo.sites import STALL, Request, Response, Site, filler, html, redirect, register, text

TRAP_HUGE_BYTES = 16 * 1024 * 1024
TRAP_MANY_LINKS = 500
_TRAP_GARBAGE = random.Random(0x5C).randbytes(64 * 1024)


def _trap_page(title: str, *links: str, status: int = 200) -> Response:
    items = "".join(f'<li><a href="{link}">{link}</a></li>' for link in links)
    page = f"<!doctype html><html><head><title>{title}</title></head><body><ul>{items}</ul></body></html>\n"
    return html(page, status=status)


def _trap(request: Request) -> Response:
    path = request.path
    if path.startswith("/deep/"):
        # Infinitely deep: every level links one further.
        level = path.removeprefix("/deep/")
        if level.isdigit():
            return _trap_page(f"level {level}", f"/deep/{int(level) + 1}")
    if path.startswith("/many/") and path.removeprefix("/many/").isdigit():
        return _trap_page(path, "/many")
    return _trap_page("not found", "/", status=404)


# A page trying to make the crawler's browser probe the network it runs in (cloud metadata, loopback).
_SSRF = """<!doctype html><html><head><title>ssrf</title></head><body>
<img src="http://169.254.169.254/latest/meta-data/iam/security-credentials/">
<script>fetch("http://localhost:9/admin", {mode: "no-cors"}).catch(function () {});</script>
</body></html>
"""
_HUGE_CHUNK = b"<p>" + b"all work and no play " * 3000 + b"</p>\n"

register(
    Site(
        host="trap.example",
        routes={
            "/": _trap_page("trap", "/loop/a", "/deep/1", "/many"),
            # Link loops: a <-> b, and each page linking itself.
            "/loop/a": _trap_page("a", "/loop/b", "/loop/a", "/loop/a#again"),
            "/loop/b": _trap_page("b", "/loop/a", "/loop/b"),
            "/many": _trap_page("many", *(f"/many/{i}" for i in range(TRAP_MANY_LINKS))),
            "/hostile": _trap_page("hostile", "/huge", "/slow", "/redirect-loop", "/garbage"),
            "/huge": Response(
                content_type="text/html; charset=utf-8",
                stream=filler(TRAP_HUGE_BYTES, _HUGE_CHUNK),
                length=TRAP_HUGE_BYTES,
            ),
            "/slow": STALL,
            "/redirect-loop": redirect("/redirect-loop", status=302),
            "/garbage": Response(body=_TRAP_GARBAGE, content_type="text/html"),
            "/ssrf": html(_SSRF),
            "/robots.txt": text("User-agent: *\nDisallow:\n"),
        },
        fallback=_trap,
    )
)
