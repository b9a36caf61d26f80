"""The network ground floor: the egress host checks, SoundCloud's own host names and URL masking.

Spiders, the browser handler, settings validation and alert channels all read these; nothing here does I/O.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = [
    "LOCAL_NAMES",
    "METADATA_ADDRESSES",
    "SOUNDCLOUD_DOMAINS",
    "check_address",
    "check_host",
    "host_of",
    "is_forbidden_address",
    "is_private_host",
    "is_soundcloud_host",
    "literal_ip",
    "mask_url",
]

# SoundCloud's own names: what the watchlist looks for on other sites, never what it crawls.
# soundcloud.app.goo.gl is SoundCloud's legacy short-link space on Google's domain.
SOUNDCLOUD_DOMAINS = ("soundcloud.com", "sndcdn.com", "soundcloud.cloud", "soundcloud.app.goo.gl")
METADATA_ADDRESSES = frozenset({"169.254.169.254", "fd00:ec2::254"})
# Names every resolver (or Debian's /etc/hosts) maps to the machine itself; "*.localhost" too (RFC 6761).
LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
# IPv6 prefixes that carry an IPv4 address in their low 32 bits, which a gateway or the kernel turns into
# an IPv4 connection: NAT64 well-known (RFC 6052) and IPv4-compatible (deprecated, still routed by some stacks).
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215 local-use translators: never a public target
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_DOTTED_NUMERIC = re.compile(r"^[0-9a-fx.]+$", re.IGNORECASE)
_SECRET_QUERY = re.compile(r"(?i)(token|key|secret|password|pass|auth|sig|signature)=([^&]+)")
MAX_URL_CHARS = 8192


def host_of(url: str) -> str:
    """The URL's host name, lower-cased, without port or trailing dot ("" when it has none or cannot be parsed)."""
    try:
        return (urlsplit(url.strip()[:MAX_URL_CHARS]).hostname or "").lower().rstrip(".")
    except ValueError:
        return ""


def _within(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def is_soundcloud_host(host: str) -> bool:
    """True for soundcloud.com, *.sndcdn.com, *.soundcloud.cloud, SoundCloud's short links and their subdomains."""
    host = host.lower().rstrip(".")
    return any(_within(host, domain) for domain in SOUNDCLOUD_DOMAINS)


def literal_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address ``host`` spells, including inet_aton forms (``2130706433``, ``0x7f.1``), else None."""
    host = host.strip("[]").rstrip(".")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _DOTTED_NUMERIC.match(host):
        # Resolvers (and many proxies) accept these legacy IPv4 spellings as addresses.
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for on the wire (mapped, compatible, NAT64, 6to4, Teredo)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]  # the client's address, which the relay reaches
    return None


def check_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why a connection to ``ip`` is refused (private, loopback, metadata, an IPv6 wrapper of one), else None."""
    if str(ip) in METADATA_ADDRESSES:
        return f"{ip} is a private (cloud metadata) address"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL:
            return f"{ip} is a private (local-use NAT64) address"
        inner = _embedded_ipv4(ip)
        if inner is not None:
            reason = check_address(inner)
            # The wrapper itself may be public (NAT64, 6to4): the address it carries decides.
            return f"{ip} carries {inner}: {reason}" if reason else None
    if ip.is_loopback:
        return f"{ip} is a private (loopback) address"
    if not ip.is_global or ip.is_multicast:
        return f"{ip} is a private, link-local, reserved or multicast address"
    return None


def is_forbidden_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for private, loopback, link-local, reserved, multicast and cloud metadata addresses (IPv6 wrappers too)."""
    return check_address(ip) is not None


def _decode_host(host: str) -> str | None:
    """``host`` as a resolver or browser would read it: percent-decoded, lower case, no brackets, zone or final dots."""
    for _ in range(3):  # "%2531" decodes to "%31", then to "1": browsers decode once, proxies may again
        decoded = unquote(host, errors="strict") if "%" in host else host
        if decoded == host:
            break
        host = decoded
    else:
        return None
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1].split("%", 1)[0]  # an IPv6 zone id ("fe80::1%eth0") names an interface, not a host
    host = host.rstrip(".")
    if not host or any(c in host for c in "%/\\@ \t\r\n\x00"):
        return None
    return host


def check_host(host: str) -> str | None:
    """Why a URL host is refused as an egress target, else None: the one check of the spiders and the browser.

    Refuses addresses :func:`check_address` refuses (in any spelling: decimal, hex, percent-encoded, IPv6 wrappers)
    and names of the local machine (``localhost``, ``x.localhost.``). Other names pass: whoever resolves them
    (the proxy, or the caller for direct connections) checks the addresses.
    """
    try:
        decoded = _decode_host(host)
    except UnicodeDecodeError:
        decoded = None
    if decoded is None:
        return f"{host!r} is not a valid host name"
    ip = literal_ip(decoded)
    if ip is not None:
        reason = check_address(ip)
        return f"{host}: {reason}" if reason and decoded != str(ip) else reason
    if decoded in LOCAL_NAMES or decoded.endswith(".localhost"):
        return f"{host} names the local machine"
    return None


def is_private_host(host: str) -> bool:
    """True when :func:`check_host` refuses ``host`` (a local name or a private, loopback or metadata address)."""
    return check_host(host) is not None


def mask_url(url: str) -> str:
    """Hide credentials in a URL: userinfo, path secrets of Apprise URLs and secret query values."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    path = parts.path
    if parts.scheme not in {"http", "https"} and path.strip("/"):
        # Apprise puts tokens in the path (slack://T/B/C, pagerduty://KEY@...): keep only the shape.
        path = "/" + "/".join("***" for seg in path.strip("/").split("/"))
    if parts.scheme not in {"http", "https"} and netloc and "@" not in parts.netloc:
        netloc = "***"
    query = _SECRET_QUERY.sub(lambda m: f"{m.group(1)}=***", parts.query)
    return urlunsplit((parts.scheme, netloc, path, query, ""))
