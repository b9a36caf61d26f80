"""Loopback fixture servers for fetch tests: a routed HTTP site (also a forward proxy), raw TCP, fake DNS."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """A canned HTTP reply."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def redirect(location: str, status: int = 302) -> Reply:
    return Reply(status, b"", {"Location": location})


@dataclass
class SeenRequest:
    requestline: str
    path: str
    headers: dict[str, str]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        site = self.server.site
        site.requests.append(SeenRequest(self.requestline, self.path, dict(self.headers.items())))
        reply = site.routes.get(self.path)
        if callable(reply):
            reply = reply(self)
        if reply is None:
            reply = Reply(404, b"not found\n", {"Content-Type": "text/plain"})
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if not any(name.lower() == "content-length" for name in reply.headers):
            self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    site: FakeSite


class FakeSite:
    """A routed HTTP server on 127.0.0.1; routes are keyed by request target.

    A route keyed by an absolute URL (``http://soundcloud.com/robots.txt``) answers the
    absolute-URI requests that clients send to a forward HTTP proxy, so the same class stands in
    for "the internet behind an egress proxy" without any DNS.
    """

    def __init__(self, routes: dict[str, Reply | Callable[[BaseHTTPRequestHandler], Reply]] | None = None):
        self.routes = dict(routes or {})
        self.requests: list[SeenRequest] = []
        _Handler.disable_nagle_algorithm = True  # one write per reply, no 40 ms Nagle stall
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.site = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> FakeSite:
        self._thread.daemon = True
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


class RawServer:
    """A TCP server on 127.0.0.1 that sends fixed bytes: for hostile, silent and non-TLS peers.

    ``send_first`` replies as soon as a client connects (a TLS client speaks first, and never sends
    an HTTP header block); otherwise the request head is read first. ``hold`` keeps the connection
    open afterwards instead of closing it.
    """

    def __init__(self, reply: bytes = b"", *, send_first: bool = False, hold: bool = False):
        self.reply = reply
        self.send_first = send_first
        self.hold = hold
        self.connections = 0
        self.received = b""
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.05)
        self._stop = threading.Event()
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def port(self) -> int:
        return self._sock.getsockname()[1]

    def url(self, path: str = "/", scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            if not self.send_first:
                while b"\r\n\r\n" not in self.received:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    self.received += chunk
            if self.reply:
                conn.sendall(self.reply)
        except OSError:
            pass
        if self.hold:
            self._held.append(conn)
        else:
            conn.close()

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()
        for conn in self._held:
            conn.close()


def closed_port() -> int:
    """A loopback port with nothing listening on it (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeDns:
    """Replaces the resolver for a test: no query ever leaves the machine, and every name is recorded.

    IP literals resolve as usual; names in ``table`` resolve to the given address; every other
    name fails like a non-existent domain.
    """

    def __init__(self, table: dict[str, str] | None = None):
        self.table = dict(table or {})
        self.lookups: list[str] = []
        self._getaddrinfo = socket.getaddrinfo
        self._gethostbyname = socket.gethostbyname

    def _address(self, host: Any) -> str:
        name = host.decode() if isinstance(host, bytes) else str(host)
        try:
            socket.inet_pton(socket.AF_INET6 if ":" in name else socket.AF_INET, name)
            return name
        except OSError:
            pass
        self.lookups.append(name)
        if name in self.table:
            return self.table[name]
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    def getaddrinfo(self, host: Any, *args: Any, **kwargs: Any) -> Any:
        return self._getaddrinfo(self._address(host), *args, **kwargs)

    def gethostbyname(self, host: str) -> str:
        return self._gethostbyname(self._address(host))

    def install(self, monkeypatch: Any) -> FakeDns:
        # Every entry point: asyncio's loop.getaddrinfo and Twisted's resolvers, whose GAIResolver
        # bound socket.getaddrinfo when it was created.
        from monitor.runtime import reactor

        monkeypatch.setattr(socket, "getaddrinfo", self.getaddrinfo)
        monkeypatch.setattr(socket, "gethostbyname", self.gethostbyname)
        twisted_reactor = reactor._ensure()
        resolver = twisted_reactor.nameResolver
        if hasattr(resolver, "_getaddrinfo"):
            monkeypatch.setattr(resolver, "_getaddrinfo", self.getaddrinfo)
        return self
