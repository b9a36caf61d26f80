"""The certificate a domain serves on port 443, read without trusting it: issuer, subject, SANs, validity, SHA-256."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ssl
from typing import Any
from urllib.parse import unquote, urlsplit

from cryptography import x509

from monitor.errors import classify_exception

__all__ = ["TlsError", "describe_certificate", "peer_certificate"]

MAX_PROXY_HEAD = 16 * 1024


class TlsError(Exception):
    """The certificate could not be read; the message starts with an error kind (``timeout: ...``)."""


def describe_certificate(der: bytes) -> dict[str, Any]:
    """The ``certificate`` section of a domain's facts from a DER certificate."""
    cert = x509.load_der_x509_certificate(der)
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = sorted({*sans.get_values_for_type(x509.DNSName), *map(str, sans.get_values_for_type(x509.IPAddress))})
    except x509.ExtensionNotFound:
        names = []
    return {
        "issuer": cert.issuer.rfc4514_string(),
        "subject": cert.subject.rfc4514_string(),
        "sans": names,
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "sha256": hashlib.sha256(der).hexdigest(),
    }


class _Handshake(asyncio.Protocol):
    """The TLS connection's protocol: nothing is sent or read after the handshake."""


def _untrusting_context() -> ssl.SSLContext:
    # We describe what the offender serves (self-signed, expired, someone else's): nothing is trusted or sent.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


async def _through_proxy(proxy: str, host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    parts = urlsplit(proxy)
    if parts.scheme != "http":
        raise TlsError(f"proxy: reading a certificate through a {parts.scheme}:// proxy is not supported")
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80, limit=MAX_PROXY_HEAD)
    auth = ""
    if parts.username:
        token = base64.b64encode(f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()).decode()
        auth = f"Proxy-Authorization: Basic {token}\r\n"
    writer.write(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n{auth}\r\n".encode("ascii"))
    await writer.drain()
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.LimitOverrunError, asyncio.IncompleteReadError):
        writer.close()
        raise TlsError("proxy: no valid answer to CONNECT") from None
    status = head.split(b"\r\n", 1)[0].split(b" ")
    if len(status) < 2 or status[1] != b"200":
        writer.close()
        raise TlsError(f"proxy: CONNECT {host}:{port} answered {b' '.join(status[1:]).decode('latin-1')[:80]}")
    return reader, writer


async def peer_certificate(
    host: str, *, address: str | None = None, proxy: str | None = None, port: int = 443, timeout: float = 10.0
) -> dict[str, Any]:
    """Connect (through ``proxy`` with CONNECT, else to ``address`` — an address already egress-checked — so the
    name is not resolved again), complete a TLS handshake with SNI ``host`` and describe the peer's certificate.
    Raises TlsError."""
    writer: asyncio.StreamWriter | None = None
    tls: asyncio.BaseTransport | None = None
    try:
        async with asyncio.timeout(timeout):
            if proxy:
                _, writer = await _through_proxy(proxy, host, port)
            elif address:
                _, writer = await asyncio.open_connection(address, port)
            else:
                raise TlsError("other: no address to connect to")
            # A plain protocol rather than the stream's: we only read the handshake, and the stream protocol's
            # "keep open on EOF" makes asyncio warn when the server closes a TLS connection.
            tls = await asyncio.get_running_loop().start_tls(
                writer.transport, _Handshake(), _untrusting_context(), server_hostname=host
            )
            ssl_object = tls.get_extra_info("ssl_object") if tls else None
            der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
            if not der:
                raise TlsError(f"tls: {host} sent no certificate")
            return describe_certificate(der)
    except TlsError:
        raise
    except TimeoutError:
        raise TlsError(f"timeout: no TLS handshake with {host} within {timeout:g} s") from None
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise TlsError(f"{classify_exception(exc).value}: {type(exc).__name__}: {exc}"[:300]) from None
    finally:
        if tls is not None:
            tls.close()
        elif writer is not None:
            writer.close()
