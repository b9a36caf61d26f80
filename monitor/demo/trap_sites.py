"""trap.example: bad weather for crawlers (link loops, endless depth, huge / slow / garbage pages, a redirect loop)
and bad input for the exposure hunt (malformed HTML, a 50 MB page, a calendar trap, redirect chains into private
addresses, scripts that never let the page settle, audio files that are not audio, decompression bombs)."""

from __future__ import annotations

import functools
import random
import re
import struct
import zlib

from monitor.demo.exposure_media import signed_progressive_url
from monitor.demo.sites import STALL, Request, Response, Site, filler, html, redirect, register, text

TRAP_HUGE_BYTES = 16 * 1024 * 1024
TRAP_FIFTY_MB = 50 * 1024 * 1024
TRAP_MANY_LINKS = 500
TRAP_NESTING = 20_000
# Where the redirect chains of /to-private/{name}/{hops} end: addresses a crawler must never be walked into.
PRIVATE_TARGETS = {
    "metadata": "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "loopback": "http://127.0.0.1:9410/metrics",
    "decimal-loopback": "http://2130706433/admin",
    "rfc1918": "http://10.0.0.7/admin",
    "ipv6-loopback": "http://[::1]/admin",
    "localhost": "http://localhost:8080/admin",
}
# Decompression bombs: whitespace deflated block by block, so a ~1 KiB block repeats for every MiB out.
BOMB_INFLATED_BYTES = 1900 * 1024 * 1024  # the body stays under the default 2 MiB size cap: all of it arrives
_TRAP_GARBAGE = random.Random(0x5C).randbytes(64 * 1024)


def _trap_page(title: str, *links: str, status: int = 200) -> Response:
    items = "".join(f'<li><a href="{link}">{link}</a></li>' for link in links)
    page = f"<!doctype html><html><head><title>{title}</title></head><body><ul>{items}</ul></body></html>\n"
    return html(page, status=status)


def _trap(request: Request) -> Response:
    path = request.path
    if path.startswith("/to-private/"):
        return _to_private(path)
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
# A page reaching for the crawler's own machine past request routing: sockets (page, iframe, worker), a name that
# resolves to loopback, a trailing-dot localhost. ?port= names the loopback port a test listens on.
_SOCKETS = """<!doctype html><html><head><title>sockets</title></head><body><p>sockets</p>
<script>
const port = new URLSearchParams(location.search).get("port") || "9";
const tried = [];
const attempt = (what, fn) => {
  try { fn(); tried.push(what + ": opened"); } catch (e) { tried.push(what + ": " + e.name); }
};
for (const host of ["127.0.0.1", "[::1]", "localhost."]) {
  attempt("ws " + host, () => new WebSocket("ws://" + host + ":" + port + "/"));
}
attempt("rtc", () => new RTCPeerConnection({iceServers: [{urls: "stun:127.0.0.1:" + port}]}));
const frame = document.body.appendChild(document.createElement("iframe"));
attempt("iframe ws", () => new frame.contentWindow.WebSocket("ws://127.0.0.1:" + port + "/"));
const code = "try { new WebSocket('ws://127.0.0.1:" + port + "/'); postMessage('opened'); } " +
  "catch (e) { postMessage(e.name); }";
const worker = new Worker(URL.createObjectURL(new Blob([code], {type: "text/javascript"})));
worker.onmessage = (e) => { document.title = "worker ws: " + e.data; };
fetch("http://intranet.example:" + port + "/fetch", {mode: "no-cors"}).catch(() => {});
const img = document.body.appendChild(document.createElement("img"));
img.src = "http://x.localhost.:" + port + "/img";
document.body.appendChild(document.createElement("pre")).textContent = tried.join("\\n");
</script></body></html>
"""
_HUGE_CHUNK = b"<p>" + b"all work and no play " * 3000 + b"</p>\n"


def _to_private(path: str) -> Response:
    """/to-private/{name}/{hops}: ``hops`` same-site redirects, then one to a private address."""
    _, _, name, hops = [*path.split("/"), ""][:4]
    if name not in PRIVATE_TARGETS or not hops.isdigit():
        return _trap_page("not found", "/", status=404)
    if int(hops) == 0:
        return redirect(PRIVATE_TARGETS[name], status=302)
    return redirect(f"/to-private/{name}/{int(hops) - 1}", status=302)


_MONTH = re.compile(r"(?:^|&)month=(\d{4})-(\d{2})(?:&|$)")


def _calendar(request: Request) -> Response:
    """An infinite link space: every month links the previous and next month and each of its days."""
    found = _MONTH.search(request.query)
    year, month = (int(found.group(1)), int(found.group(2))) if found else (2026, 5)
    if not 1 <= month <= 12:
        return _trap_page("no such month", "/calendar", status=404)
    prev_y, prev_m = (year, month - 1) if month > 1 else (year - 1, 12)
    next_y, next_m = (year, month + 1) if month < 12 else (year + 1, 1)
    here = f"{year:04d}-{month:02d}"
    months = (f"/calendar?month={prev_y:04d}-{prev_m:02d}", f"/calendar?month={next_y:04d}-{next_m:02d}")
    days = [f"/calendar?month={here}&amp;day={d}" for d in range(1, 29)]
    return _trap_page(f"events {here}", *months, *days)


# Unclosed tags, attributes without values or quotes, duplicate and junk attributes, stray quotes and angle brackets,
# TRAP_NESTING levels of nesting that never close, and a script, a comment and a CDATA section that never end.
# One download link sits deep inside; a few same-site links follow the nesting.
_MALFORMED = (
    "<!doctype html><html><head><title>malformed</title><meta charset=utf-8 charset=latin1><head><html>"
    '<body class=x"y ="" ==broken><p><p><p><table><tr><td><a href=/loop/a =x "y z" ===>loop</a>'
    "<div "
    + "a" * 5000
    + "="
    + "b" * 5000
    + " data-x=<<>>>"
    + "<div><span><b><i>" * (TRAP_NESTING // 4)
    + f'<a download href="{signed_progressive_url().replace("&", "&amp;")}">get the mp3</a>'
    + "</i></b></span></div>" * (TRAP_NESTING // 8)
    + "<a href='/deep/1'>deeper<a href=\"/loop/b\">loop b</p></td></table>"
    + "<script>var s = '</scr' + 'ipt>'; document.write('<a href=/many>')</script>"
    + "<img src=x alt='never closed> <!-- nor this <![CDATA[ nor this"
)


def _gzip_bomb(inflated: int, head: bytes = b"") -> bytes:
    """A gzip member inflating to ``head`` + ``inflated`` spaces (rounded to MiB), a thousand times smaller."""
    mib = 1024 * 1024
    block = b" " * mib
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    first = deflate.compress(head) + deflate.flush(zlib.Z_FULL_FLUSH) if head else b""
    # After a full flush the compressor starts afresh: every MiB of spaces deflates to the same bytes.
    repeat = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    last = deflate.flush(zlib.Z_FINISH)
    count = inflated // mib
    crc = zlib.crc32(head)
    for _ in range(count):
        crc = zlib.crc32(block, crc)
    size = (len(head) + count * mib) & 0xFFFFFFFF
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + first + repeat * count + last + struct.pack("<II", crc, size)


@functools.cache
def bomb_body(audio: bool = False) -> bytes:
    """The bytes /bomb (an HTML page) and /bomb.mp3 send, built on first use (~1 s of CRC)."""
    return _gzip_bomb(BOMB_INFLATED_BYTES, b"" if audio else b"<!doctype html><html><body><p>")


def _bomb(request: Request, audio: bool = False) -> Response:
    return Response(
        body=bomb_body(audio),
        content_type="audio/mpeg" if audio else "text/html; charset=utf-8",
        # Sent whatever the request's Accept-Encoding says (the crawler asks for identity).
        headers=(("Content-Encoding", "gzip"),),
    )


# Scripts that never let the page settle: a busy loop before DOMContentLoaded, and one started right after load.
_SPIN = """<!doctype html><html><head><title>spin</title></head><body><p>loading…</p>
<script>for (;;) {}</script></body></html>
"""
_SPIN_AFTER_LOAD = f"""<!doctype html><html><head><title>spin after load</title></head><body>
<p><a download href="{signed_progressive_url().replace("&", "&amp;")}">mp3</a></p>
<script>window.addEventListener("load", function () {{ setTimeout(function () {{ for (;;) {{}} }}, 0); }});</script>
</body></html>
"""
# Loads, keeps its network busy, then stops yielding after 3 s: the DOM read after settling is what times out.
_SPIN_LATER = """<!doctype html><html><head><title>spin later</title></head><body><p>buffering…</p>
<script>
  var chatter = setInterval(function () { fetch("/loop/a").catch(function () {}); }, 100);
  setTimeout(function () { clearInterval(chatter); for (;;) {} }, 3000);
</script></body></html>
"""
# Files that are named and typed as MP3 but are not audio.
_SHELF = _trap_page("downloads", "/not-audio.mp3", "/bomb.mp3", "/zip-as.mp3")
_NOT_AUDIO = b"<!doctype html><html><body><h1>403 Forbidden</h1><p>hotlinking is not allowed</p></body></html>\n"
_ZIP = b"PK\x03\x04" + random.Random(0x21).randbytes(32 * 1024)

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
            "/sockets": html(_SOCKETS),
            "/fifty-mb": Response(
                content_type="text/html; charset=utf-8",
                stream=filler(TRAP_FIFTY_MB, _HUGE_CHUNK),
                length=TRAP_FIFTY_MB,
            ),
            "/calendar": _calendar,
            "/malformed": html(_MALFORMED),
            "/bomb": _bomb,
            "/bomb.mp3": functools.partial(_bomb, audio=True),
            "/spin": html(_SPIN),
            "/spin-after-load": html(_SPIN_AFTER_LOAD),
            "/spin-later": html(_SPIN_LATER),
            "/audio-shelf": _SHELF,
            "/not-audio.mp3": Response(body=_NOT_AUDIO, content_type="audio/mpeg"),
            "/zip-as.mp3": Response(body=_ZIP, content_type="audio/mpeg"),
            "/robots.txt": text("User-agent: *\nDisallow:\n"),
        },
        fallback=_trap,
    )
)
