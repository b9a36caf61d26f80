"""The network ground floor: the egress host checks, SoundCloud's own host names and URL masking.

Spiders, the browser handler, settings validation and alert channels all read these; nothing here does I/O.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "METADATA_ADDRESSES",
    "SOUNDCLOUD_DOMAINS",
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


def is_forbidden_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for private, loopback, link-local, reserved, multicast and cloud metadata addresses."""
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    return str(ip) in METADATA_ADDRESSES or not ip.is_global or ip.is_multicast


def is_private_host(host: str) -> bool:
    """True when ``host`` is an IP literal in a private, loopback, link-local, reserved or metadata range."""
    host = host.strip("[]")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host.lower() in {"localhost", "localhost.localdomain"} or host.lower().endswith(".localhost")
    return not ip.is_global or ip.is_multicast


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
