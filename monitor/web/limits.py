"""Connection limits of the daemon's HTTP server: a deadline per request, a body cap checked before reading, and
styled error responses for what Twisted would otherwise answer itself."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from twisted.web import http, server

from monitor.errors import HttpError
from monitor.web import triage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HttpLimits:
    """What one client may cost the server (see http.* in docs/configuration.md)."""

    request_timeout_seconds: float = 10.0  # first byte of a request -> its last byte (line, headers, body)
    idle_timeout_seconds: float = 60.0  # no request in progress and nothing received
    max_request_bytes: int = 65_536  # request body, announced or chunked
    max_headers: int = 100
    max_header_bytes: int = 16_384  # request line plus every header line


REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    408: "Request Timeout",
    413: "Content Too Large",
}

# Judges a request by its method, target and headers (the request object holds them) before its body is read;
# raises HttpError to refuse it.
HeaderGate = Callable[[bytes, bytes, Any], None]


def error_response(status: int, message: str, path: bytes = b"", extra: dict[str, str] | None = None) -> bytes:
    """A complete ``Connection: close`` response in the server's error style (JSON under /api/, else the page)."""
    if path.startswith(b"/api/"):
        body, content_type = json.dumps({"error": message}).encode(), "application/json"
    else:
        body, content_type = triage.render_error(status, message), "text/html; charset=utf-8"
    headers = {
        "Content-Type": content_type,
        "Content-Length": str(len(body)),
        "Cache-Control": "no-store",
        "Connection": "close",
        **triage.PAGE_HEADERS,
        **(extra or {}),
    }
    head = f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return head.encode("latin-1") + b"\r\n" + body


class LimitedChannel(http.HTTPChannel):
    """An HTTPChannel that refuses slow requests (408) and large bodies (413) without buffering them.

    Twisted's own idle timeout is reset by every byte, so a client sending one header byte at a time keeps a
    connection forever (slowloris); here a deadline starts at a request's first byte and only its complete
    arrival cancels it. Twisted also buffers any announced body (to a temporary file past 100 kB) before a
    resource sees it; here Content-Length is checked when the headers end, and chunked bodies as they arrive, and
    ``gate`` (the API's token check) judges the request before a byte of its body is read.
    """

    limits = HttpLimits()
    gate: HeaderGate | None = None
    _deadline = None
    _refused = False

    def connectionMade(self) -> None:
        self.maxHeaders = self.limits.max_headers
        self.totalHeadersSize = self.limits.max_header_bytes
        super().connectionMade()

    def dataReceived(self, data: bytes) -> None:
        if self._refused:
            return
        if self._deadline is None and not self._handlingRequest:
            self._deadline = self.callLater(self.limits.request_timeout_seconds, self._too_slow)
        super().dataReceived(data)

    def allHeadersReceived(self) -> None:
        if self.length is not None and self.length > self.limits.max_request_bytes:
            self.refuse(413, f"the request body is limited to {self.limits.max_request_bytes} bytes")
            return
        if self.gate is not None:
            try:
                self.gate(self._command, self._path, self.requests[-1])
            except HttpError as exc:
                self.refuse(exc.status, str(exc), exc.headers)
                return
        super().allHeadersReceived()

    def rawDataReceived(self, data: bytes) -> None:
        if not self._refused:
            super().rawDataReceived(data)

    def allContentReceived(self) -> None:
        if self._refused:
            return
        self._cancel_deadline()
        super().allContentReceived()

    def connectionLost(self, reason) -> None:
        self._cancel_deadline()
        super().connectionLost(reason)

    def _respondToBadRequestAndDisconnect(self) -> None:
        # Twisted's bare "400 Bad Request" for a malformed line, a bad header or too many headers.
        self.refuse(400, "malformed request, or more headers than the server accepts")

    def _too_slow(self) -> None:
        self._deadline = None
        self.refuse(408, f"the request did not arrive within {self.limits.request_timeout_seconds:g} s")

    def refuse(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        """Answer ``status`` and close, ignoring whatever else the client sends (it is never read into memory)."""
        if self._refused:
            return
        self._refused = True
        self._cancel_deadline()
        path = getattr(self, "_path", b"") or b""
        log.info("HTTP %d to %s: %s", status, self.transport.getPeer().host, message)
        self.transport.write(error_response(status, message, path, headers))
        self.loseConnection()
        # A client that never reads keeps a closing connection; drop it after Twisted's abort timeout.
        self._abortingCall = self.callLater(self.abortTimeout, self.forceAbortClient)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = None


class LimitedRequest(server.Request):
    """Counts a chunked body as it is decoded, so that one without a Content-Length is capped too."""

    _received = 0

    def handleContentChunk(self, data: bytes) -> None:
        channel = self.channel
        if channel is None or getattr(channel, "_refused", False):
            return
        self._received += len(data)
        if self._received > channel.limits.max_request_bytes:
            channel.refuse(413, f"the request body is limited to {channel.limits.max_request_bytes} bytes")
            return
        super().handleContentChunk(data)


def limited_site(root, limits: HttpLimits, gate: HeaderGate | None = None) -> server.Site:
    """A Site whose connections obey ``limits``, and whose requests pass ``gate`` before their bodies are read."""
    site = server.Site(root, requestFactory=LimitedRequest, timeout=limits.idle_timeout_seconds)
    site.protocol = type("Channel", (LimitedChannel,), {"limits": limits, "gate": staticmethod(gate) if gate else None})
    site.displayTracebacks = False
    site.noisy = False
    return site
