"""The fake internet: one loopback server acting as an HTTP forward proxy that serves virtual sites."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

from monitor.demo.model import Request, Response, Site, Via, html
from monitor.demo.tls import CertificateAuthority
from monitor.demo.wire import (
    MAX_HEAD_BYTES,
    HttpError,
    RequestHead,
    close_connection,
    error_response,
    hold_unanswered,
    parse_head,
    read_body,
    send_response,
    split_authority,
)

log = logging.getLogger(__name__)

LOG_SIZE = 10_000
# A stalled request is held until the client gives up, but not forever: the demo runs for days.
STALL_LIMIT_SECONDS = 300.0
_TUNNEL_OK = b"HTTP/1.1 200 Connection established\r\n\r\n"
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One request the fake internet answered (``status`` 0: held without an answer)."""

    method: str
    host: str
    path: str
    via: Via
    status: int
    timestamp: float


class FakeInternet:
    """A forward proxy (absolute-form and CONNECT) and origin server for a dict of virtual sites."""

    def __init__(
        self,
        sites: dict[str, Site] | None = None,
        *,
        header_timeout: float = 10.0,
        idle_timeout: float = 120.0,
    ) -> None:
        if sites is None:
            from monitor.demo.sites import demo_sites

            sites = demo_sites()
        self.sites: dict[str, Site] = {host.lower(): site for host, site in sites.items()}
        self.header_timeout = header_timeout
        self.idle_timeout = idle_timeout
        self._ca = CertificateAuthority()
        self.ca_pem: bytes = self._ca.pem
        # Every host's certificate shares one key: this pin lets a browser trust them all without the CA.
        self.leaf_spki_sha256: str = self._ca.leaf_spki_sha256
        self._phase = 0
        self._log: deque[LoggedRequest] = deque(maxlen=LOG_SIZE)
        # Read from test threads while the server loop appends (BackgroundInternet).
        self._log_lock = threading.Lock()
        self._server: asyncio.Server | None = None
        self._address: tuple[str, int] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # --- public API ---------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on ``host:port`` (0 picks a free port); see ``url``."""
        if self._server is not None:
            raise RuntimeError("the fake internet is already running")
        self._server = await asyncio.start_server(self._on_connection, host, port, limit=MAX_HEAD_BYTES, backlog=1024)
        self._address = self._server.sockets[0].getsockname()[:2]

    async def stop(self) -> None:
        """Stop listening and drop every open connection, including stalled ones."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()

    @property
    def url(self) -> str:
        """The proxy URL, e.g. for ``HTTP_PROXY``/``HTTPS_PROXY``."""
        if self._address is None:
            raise RuntimeError("the fake internet is not started")
        host, port = self._address
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    @property
    def port(self) -> int:
        """The listening port."""
        if self._address is None:
            raise RuntimeError("the fake internet is not started")
        return self._address[1]

    def write_ca(self, path: str | Path) -> Path:
        """Write the CA certificate (PEM) so that clients and browsers can trust the fake sites."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(self.ca_pem)
        return target

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client TLS context that trusts this fake internet's CA only, hostname checks on."""
        return self._ca.client_context()

    @property
    def requests(self) -> list[LoggedRequest]:
        """The latest requests answered, oldest first (a copy, at most ``LOG_SIZE``)."""
        with self._log_lock:
            return list(self._log)

    def clear_requests(self) -> None:
        """Forget the request log."""
        with self._log_lock:
            self._log.clear()

    @property
    def phase(self) -> int:
        """The scenario phase that sites answer for."""
        return self._phase

    def set_phase(self, phase: int) -> None:
        """Switch every site to ``phase``; requests already being answered keep their phase."""
        if phase < 0:
            raise ValueError("phase must be >= 0")
        self._phase = phase

    # --- connections --------------------------------------------------------------------------------

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        sock = writer.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        clean = False
        try:
            clean = await self._serve(reader, writer, tunnel=None, scheme="http")
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError, ssl.SSLError, OSError):
            pass
        except asyncio.CancelledError:
            # Only stop() cancels these tasks. Ending normally matters: 3.11's start_server callback
            # calls task.exception() on a cancelled connection task and logs a spurious traceback.
            if self._server is not None:
                raise
        except Exception:
            # Never let one connection take the server down; a bug here shows in the log and the test.
            log.exception("fake internet: connection handler failed")
        finally:
            self._tasks.discard(task)
            await close_connection(writer, clean)

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, tunnel: str | None, scheme: str
    ) -> bool:
        """Answer requests until the connection should close; True when it may close gracefully."""
        first = True
        while True:
            try:
                head = await self._read_head(reader, first)
            except asyncio.IncompleteReadError as exc:
                return not exc.partial
            except TimeoutError:
                if not first:
                    return True
                writer.write(error_response(408, "request header not received in time"))
                return True
            except asyncio.LimitOverrunError:
                self._record("", "", "", "connect" if tunnel else "direct", 431)
                writer.write(error_response(431, "request header too large"))
                return True
            first = False
            try:
                request = parse_head(head)
                if request.method == "CONNECT":
                    return await self._connect(reader, writer, request, tunnel)
                keep_alive = await self._exchange(reader, writer, request, tunnel, scheme)
            except HttpError as exc:
                self._record("", "", "", "connect" if tunnel else "direct", exc.status)
                writer.write(error_response(exc.status, exc.message))
                return True
            except asyncio.LimitOverrunError:
                writer.write(error_response(400, "malformed chunked body"))
                return True
            if not keep_alive:
                return True

    async def _read_head(self, reader: asyncio.StreamReader, first: bool) -> bytes:
        # Idle keep-alive connections may wait long; once a request starts it must arrive promptly.
        async with asyncio.timeout(self.header_timeout if first else self.idle_timeout) as deadline:
            start = await reader.readexactly(1)
            deadline.reschedule(asyncio.get_running_loop().time() + self.header_timeout)
            return start + await reader.readuntil(b"\r\n\r\n")

    async def _connect(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        request: RequestHead,
        tunnel: str | None,
    ) -> bool:
        if tunnel is not None:
            raise HttpError(400, "CONNECT inside a tunnel")
        host, port = split_authority(request.target)
        if port is None:
            raise HttpError(400, "CONNECT needs host:port")
        if host not in self.sites:
            self._record("CONNECT", host, request.target, "connect", 502)
            writer.write(error_response(502, f"cannot resolve {host}"))
            return True
        self._record("CONNECT", host, request.target, "connect", 200)
        writer.write(_TUNNEL_OK)
        await writer.drain()
        if port == 80:
            return await self._serve(reader, writer, tunnel=host, scheme="http")
        await writer.start_tls(self._ca.server_context(host), ssl_handshake_timeout=self.header_timeout)
        return await self._serve(reader, writer, tunnel=host, scheme="https")

    async def _exchange(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        head: RequestHead,
        tunnel: str | None,
        scheme: str,
    ) -> bool:
        """Answer one request; return whether the connection stays open."""
        target = head.target
        via: Via
        if target.startswith("/"):
            via = "connect" if tunnel else "direct"
            host = tunnel or split_authority(head.headers.get("host", ""))[0]
        elif target[:7].lower() == "http://" or target[:8].lower() == "https://":
            try:
                parts = urlsplit(target)
                named = (parts.hostname or "").rstrip(".")
            except ValueError:
                raise HttpError(400, "malformed absolute URL") from None
            via, scheme = ("connect" if tunnel else "proxy"), parts.scheme.lower()
            host = tunnel or named
            target = parts.path or "/"
            target += f"?{parts.query}" if parts.query else ""
        else:
            raise HttpError(400, "unsupported request target")
        if not host:
            raise HttpError(400, "no Host header")
        if head.headers.get("expect", "").lower() == "100-continue":
            writer.write(_CONTINUE)
        body = b""
        if "content-length" in head.headers or "transfer-encoding" in head.headers:
            async with asyncio.timeout(self.header_timeout):
                body = await read_body(reader, head)
        path, _, query = target.partition("#")[0].partition("?")
        keep_alive = head.keep_alive
        site = self.sites.get(host)
        if site is None:
            own = via == "direct" and host in ("127.0.0.1", "localhost", "::1")
            response = self._index() if own else _unknown_host(host)
        else:
            request = Request(head.method, scheme, host, path, query, head.headers, via, self._phase, body)
            try:
                response = await site.respond(request)
            except Exception:
                log.exception("fake internet: site handler for %s%s failed", host, path)
                response = _HANDLER_FAILED
        self._record(head.method, host, target, via, response.status)
        if response.stall:
            await hold_unanswered(reader, STALL_LIMIT_SECONDS)
            return False
        return await send_response(writer, response, head, keep_alive)

    def _index(self) -> Response:
        hosts = "".join(f"<li>{name}</li>" for name in sorted(self.sites))
        return html(f"<html><body><h1>fake internet, phase {self._phase}</h1><ul>{hosts}</ul></body></html>\n")

    def _record(self, method: str, host: str, path: str, via: Via, status: int) -> None:
        entry = LoggedRequest(method, host, path, via, status, time.time())
        with self._log_lock:
            self._log.append(entry)


def _unknown_host(host: str) -> Response:
    # What a real proxy says when the name does not resolve.
    body = f"502 Bad Gateway: cannot resolve {host}\n".encode()
    return Response(status=502, body=body, headers=(("X-Fake-Internet", "unknown-host"),))


_HANDLER_FAILED = Response(status=500, body=b"500 Internal Server Error: site handler failed\n")


class BackgroundInternet:
    """Runs a FakeInternet on its own event loop in a daemon thread, for synchronous callers.

    The daemon's asyncio loop belongs to Twisted, so the fake internet gets a loop of its own.
    """

    def __init__(
        self,
        sites: dict[str, Site] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        header_timeout: float = 10.0,
        idle_timeout: float = 120.0,
    ) -> None:
        self.internet = FakeInternet(sites, header_timeout=header_timeout, idle_timeout=idle_timeout)
        self._bind = (host, port)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> BackgroundInternet:
        """Start serving; returns once the port is bound (or raises what binding raised)."""
        if self._thread is not None:
            raise RuntimeError("the background internet is already running")
        loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.internet.start(*self._bind))
            except BaseException as exc:
                failure.append(exc)
            started.set()
            if not failure:
                loop.run_forever()
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        thread = threading.Thread(target=run, name="fake-internet", daemon=True)
        thread.start()
        started.wait()
        if failure:
            thread.join()
            raise failure[0]
        self._loop, self._thread = loop, thread
        return self

    def stop(self) -> None:
        """Stop the server and its thread; safe to call twice."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._loop = self._thread = None
        asyncio.run_coroutine_threadsafe(self.internet.stop(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)

    @property
    def url(self) -> str:
        """The proxy URL (``http://127.0.0.1:PORT``)."""
        return self.internet.url

    def __enter__(self) -> BackgroundInternet:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


async def _main() -> None:
    internet = FakeInternet()
    await internet.start()
    print(f"fake internet (forward proxy) at {internet.url}; {len(internet.sites)} hosts", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    # `python -m monitor.demo.internet`: poke it by hand, e.g. curl -x http://127.0.0.1:PORT http://soundcloud.com/robots.txt
    asyncio.run(_main())
