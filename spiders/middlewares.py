"""Downloader middlewares every probe passes through: explicit proxy choice, egress guard, size cap."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.exceptions import CannotResolveHostError, NotConfigured, StopDownload

from monitor.errors import EgressRefused
from monitor.net import check_address, check_host, literal_ip
from monitor.settings import HttpSettings

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler

STARTED_META = "scrapewatch_started"
RECEIVED_META = "scrapewatch_received"
# A request may ask for a smaller cap than the crawl's (the watch spider's audio heads).
MAX_BYTES_META = "scrapewatch_max_bytes"


class ProxyMiddleware:
    """Sets ``meta["proxy"]`` on every request from ``SCRAPEWATCH_PROXY`` / ``SCRAPEWATCH_NO_PROXY``.

    Always explicit (``None`` = direct) so that Scrapy's HttpProxyMiddleware, which would otherwise
    read ``*_proxy`` environment variables on its own, only adds credentials to our choice.
    """

    def __init__(self, proxy: str | None, no_proxy: list[str]):
        # HttpSettings owns the one no_proxy matching rule, shared with Playwright probes.
        self._http = HttpSettings(proxy=proxy, no_proxy=no_proxy)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(
            crawler.settings.get("SCRAPEWATCH_PROXY") or None,
            crawler.settings.getlist("SCRAPEWATCH_NO_PROXY"),
        )

    def process_request(self, request: Request) -> None:
        # Duration covers retries and redirects: replacements of a request copy its meta.
        request.meta.setdefault(STARTED_META, time.monotonic())
        # Re-decided for every request, redirects included: a redirect may leave no_proxy.
        request.meta["proxy"] = self._http.proxy_for(request.url)


class EgressGuardMiddleware:
    """Refuses requests to private, loopback, link-local, reserved and metadata addresses.

    IP literals and ``localhost`` names are refused whatever the route. Host names are resolved
    (without blocking) only for direct connections: behind a proxy, resolution is the proxy's job.
    ``SCRAPEWATCH_ALLOW_PRIVATE_NETWORKS`` turns the guard off (tests, on-premises targets).
    Residual risk: Twisted resolves the name again when it connects (DNS rebinding window).
    """

    def __init__(self, allow_private: bool, resolve_timeout: float):
        self._allow_private = allow_private
        self._resolve_timeout = resolve_timeout

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(
            crawler.settings.getbool("SCRAPEWATCH_ALLOW_PRIVATE_NETWORKS"),
            crawler.settings.getfloat("DOWNLOAD_TIMEOUT") or 30.0,
        )

    async def process_request(self, request: Request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme not in {"http", "https"}:
            raise EgressRefused(f"scheme {parts.scheme!r} is not a network probe")
        if self._allow_private:
            return
        host = (parts.hostname or "").lower()
        reason = check_host(host)
        if reason:
            raise EgressRefused(reason)
        if request.meta.get("proxy") or literal_ip(host) is not None:
            return
        port = parts.port or (443 if parts.scheme == "https" else 80)
        for address in await resolve(host, port, self._resolve_timeout):
            reason = check_address(address)
            if reason:
                raise EgressRefused(f"{host} resolves to {reason}")


async def resolve(host: str, port: int, timeout: float) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Every address ``host`` resolves to, without blocking the reactor; CannotResolveHostError when it does not."""
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout)
    except TimeoutError as exc:
        raise CannotResolveHostError(f"DNS lookup of {host} took longer than {timeout} s") from exc
    except (OSError, UnicodeError) as exc:
        raise CannotResolveHostError(f"DNS lookup of {host} failed: {exc}") from exc
    addresses = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        # IPv6 sockaddrs may carry a scope id ("fe80::1%eth0"), which ip_address() rejects.
        addresses.append(ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0]))
    return addresses


class SizeCapMiddleware:
    """Stops a download once ``SCRAPEWATCH_MAX_RESPONSE_BYTES`` body bytes have arrived.

    ``request.meta[MAX_BYTES_META]`` lowers the cap for one request (it never raises it).

    The callback still gets the partial response (``StopDownload(fail=False)``), flagged
    ``download_stopped``; the spider cuts the body to the cap and records the bytes received.
    """

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        max_bytes = crawler.settings.getint("SCRAPEWATCH_MAX_RESPONSE_BYTES")
        if max_bytes <= 0:
            raise NotConfigured("SCRAPEWATCH_MAX_RESPONSE_BYTES is not positive: bodies are not capped")
        mw = cls(max_bytes)
        crawler.signals.connect(mw.headers_received, signal=signals.headers_received)
        crawler.signals.connect(mw.bytes_received, signal=signals.bytes_received)
        return mw

    def headers_received(self, request: Request, **_: Any) -> None:
        # Retries and redirects copy meta, so the count restarts with each response.
        request.meta[RECEIVED_META] = 0

    def bytes_received(self, data: bytes, request: Request, spider: Spider | None = None) -> None:
        received = request.meta.get(RECEIVED_META, 0) + len(data)
        request.meta[RECEIVED_META] = received
        if received > min(self.max_bytes, request.meta.get(MAX_BYTES_META) or self.max_bytes):
            raise StopDownload(fail=False)
