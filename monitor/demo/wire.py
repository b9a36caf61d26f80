"""HTTP/1.1 on the wire for the fake internet: bounded request parsing and response framing as bytes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import ssl
import struct
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus

from monitor.demo.model import Response

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 16 * 1024
MAX_HEADERS = 100
MAX_BODY_BYTES = 1024 * 1024

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VERSION = re.compile(r"HTTP/(\d)\.(\d)")
_CONTENT_LENGTH = re.compile(r"\d{1,12}")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,8})(?:;[^\r\n]*)?\r\n")
_CLOSE_GRACE_SECONDS = 2.0


class HttpError(Exception):
    """A request the server refuses; the connection is answered with ``status`` and closed."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class RequestHead:
    """A parsed request line and header block (header names lower-cased, repeats joined by commas)."""

    method: str
    target: str
    version: str
    headers: dict[str, str]

    @property
    def keep_alive(self) -> bool:
        """Whether the client wants the connection kept open after this exchange."""
        tokens = {t.strip().lower() for t in self.headers.get("connection", "").split(",")}
        # Some old proxy clients still speak the non-standard Proxy-Connection header.
        tokens |= {t.strip().lower() for t in self.headers.get("proxy-connection", "").split(",")}
        if "close" in tokens:
            return False
        return self.version == "HTTP/1.1" or "keep-alive" in tokens


def parse_head(data: bytes) -> RequestHead:
    """Parse a request head ending in CRLF CRLF; raise ``HttpError`` for anything malformed."""
    # RFC 9112 §2.2: a server should ignore empty lines received before the request line.
    lines = data.decode("latin-1").lstrip("\r\n").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise HttpError(400, "malformed request line")
    method, target, version = parts
    if not _TOKEN.fullmatch(method):
        raise HttpError(400, "malformed method")
    if not target or not target.isascii() or not target.isprintable():
        raise HttpError(400, "malformed request target")
    match = _VERSION.fullmatch(version)
    if not match:
        raise HttpError(400, "malformed HTTP version")
    if match.group(1) != "1":
        raise HttpError(505, "only HTTP/1.x is spoken here")
    fields = [line for line in lines[1:] if line]
    if len(fields) > MAX_HEADERS:
        raise HttpError(431, "too many header fields")
    headers: dict[str, str] = {}
    for line in fields:
        name, sep, value = line.partition(":")
        # Obsolete line folding and whitespace before the colon are request-smuggling vectors (RFC 9112).
        if not sep or not _TOKEN.fullmatch(name):
            raise HttpError(400, "malformed header field")
        value = value.strip(" \t")
        if any(c in value for c in "\r\n\x00"):
            raise HttpError(400, "malformed header value")
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return RequestHead(method, target, version, headers)


async def read_body(reader: asyncio.StreamReader, head: RequestHead) -> bytes:
    """Read a request body framed by Content-Length or chunked coding, at most ``MAX_BODY_BYTES``."""
    coding = head.headers.get("transfer-encoding")
    if coding is not None:
        if coding.strip().lower() != "chunked":
            raise HttpError(501, "unsupported transfer coding")
        return await _read_chunked(reader)
    declared = head.headers.get("content-length")
    if declared is None:
        return b""
    if not _CONTENT_LENGTH.fullmatch(declared.strip()):
        raise HttpError(400, "malformed Content-Length")
    size = int(declared)
    if size > MAX_BODY_BYTES:
        raise HttpError(413, "request body too large")
    return await reader.readexactly(size)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        match = _CHUNK_SIZE.fullmatch(await reader.readuntil(b"\r\n"))
        if not match:
            raise HttpError(400, "malformed chunk header")
        size = int(match.group(1), 16)
        if len(body) + size > MAX_BODY_BYTES:
            raise HttpError(413, "request body too large")
        if size == 0:
            break
        body += await reader.readexactly(size)
        if await reader.readexactly(2) != b"\r\n":
            raise HttpError(400, "malformed chunk")
    # Trailer fields are read and dropped.
    while (await reader.readuntil(b"\r\n")) != b"\r\n":
        pass
    return bytes(body)


def split_authority(authority: str) -> tuple[str, int | None]:
    """Split ``host[:port]`` (IPv6 in brackets) into a normalised host name and an optional port."""
    authority = authority.strip()
    if authority.startswith("["):
        host, _, rest = authority[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = authority.rpartition(":") if ":" in authority else (authority, "", "")
    number = int(port) if port.isdigit() and len(port) <= 5 else None
    return host.lower().rstrip("."), number


_date_cache: tuple[int, bytes] = (0, b"")


def http_date() -> bytes:
    """The Date header line, formatted at most once a second."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, f"Date: {formatdate(now, usegmt=True)}\r\n".encode("ascii"))
    return _date_cache[1]


def response_head(status: int, reason: str, fields: bytes, *, keep_alive: bool, version: str) -> bytes:
    """Status line, Date, the response's own fields and the connection token, ready to write."""
    if not keep_alive:
        connection = b"Connection: close\r\n"
    elif version == "HTTP/1.0":
        connection = b"Connection: keep-alive\r\n"
    else:
        connection = b""
    return b"HTTP/1.1 %d %s\r\n%s%s%s\r\n" % (status, reason.encode("latin-1"), http_date(), fields, connection)


def error_response(status: int, message: str, *, keep_alive: bool = False, head_only: bool = False) -> bytes:
    """A complete short plain-text error response."""
    body = f"{status} {HTTPStatus(status).phrase}: {message}\n".encode()
    fields = b"Content-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n" % len(body)
    head = response_head(status, HTTPStatus(status).phrase, fields, keep_alive=keep_alive, version="HTTP/1.1")
    return head if head_only else head + body


async def send_response(writer: asyncio.StreamWriter, response: Response, head: RequestHead, keep_alive: bool) -> bool:
    """Write ``response`` (streamed, aborted or plain) and return whether the connection stays open."""
    prefix = response_head(
        response.status, response.reason, response.head_fields, keep_alive=keep_alive, version=head.version
    )
    if head.method == "HEAD":
        writer.write(prefix)
        await writer.drain()
        return keep_alive
    if response.stream is None and response.abort_after is None:
        # Head and body in one write: two small writes are what stall http.server-style servers.
        writer.write(prefix + response.body)
        await writer.drain()
        return keep_alive
    writer.write(prefix)
    sent = 0
    limit = response.abort_after
    chunks = _once(response.body) if response.stream is None else response.stream()
    async with contextlib.aclosing(chunks):
        async for chunk in chunks:
            if limit is not None and sent + len(chunk) >= limit:
                writer.write(chunk[: limit - sent])
                await _reset(writer)
                return False
            writer.write(chunk)
            sent += len(chunk)
            # Backpressure keeps a streamed body out of memory: only the transport buffer is held.
            await writer.drain()
    if sent != response.content_length:
        log.error("fake internet: streamed %d bytes, declared %d", sent, response.content_length)
        return False
    return keep_alive


async def _once(body: bytes) -> AsyncIterator[bytes]:
    yield body


async def _reset(writer: asyncio.StreamWriter) -> None:
    """Flush what was written, then abort with an RST, as a crashing origin would."""
    transport = writer.transport
    transport.set_write_buffer_limits(high=0)
    # Inside a TLS tunnel drain() can wait on the peer's reads forever; the reset must happen regardless.
    with contextlib.suppress(TimeoutError, ConnectionError):
        await asyncio.wait_for(writer.drain(), 0.2)
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        if writer.get_extra_info("ssl_object") is not None:
            # Aborting the TLS layer does not reach the TCP socket: shut the socket itself down.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
    transport.abort()


async def hold_unanswered(reader: asyncio.StreamReader, limit_seconds: float) -> None:
    """Hold a request unanswered until the client hangs up (or ``limit_seconds`` pass)."""
    with contextlib.suppress(TimeoutError, ConnectionError):
        async with asyncio.timeout(limit_seconds):
            while await reader.read(4096):
                pass


async def close_connection(writer: asyncio.StreamWriter, clean: bool) -> None:
    """Close gracefully (flushing what is buffered) when ``clean``, else abort at once."""
    if writer.transport.is_closing():
        return
    if not clean:
        writer.transport.abort()
        return
    writer.close()
    # A TLS close waits for the peer's close_notify, which many clients never send.
    try:
        async with asyncio.timeout(_CLOSE_GRACE_SECONDS):
            await writer.wait_closed()
    except (TimeoutError, ConnectionError, ssl.SSLError, OSError):
        writer.transport.abort()
