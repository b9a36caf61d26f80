"""One bounded JSON GET for RDAP and its bootstrap: proxy per URL, the egress guard on every hop, a deadline for the
whole exchange, a redirect limit and a byte cap on a streamed body (a 10 MB answer is never held whole)."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from monitor.errors import ErrorKind, classify_exception
from monitor.net import check_address, check_host, literal_ip, mask_url

__all__ = ["FetchError", "Fetcher"]

_JSON_TYPES = ("application/rdap+json", "application/json")


class FetchError(Exception):
    """A request that produced no usable JSON; ``kind`` is an ErrorKind value, ``detail`` says why."""

    def __init__(self, kind: str, detail: str, url: str = ""):
        super().__init__(f"{kind}: {detail}")
        self.kind, self.detail, self.url = kind, detail, url


@dataclass(frozen=True)
class Fetcher:
    """How RDAP requests go out: ``proxy_for(url)`` (the settings' ``http.proxy`` / ``no_proxy``), the egress
    allowance, and the bounds. ``get_json`` raises FetchError, never anything else for a failed request."""

    proxy_for: Callable[[str], str | None]
    user_agent: str
    timeout: float = 15.0
    max_bytes: int = 1_048_576
    max_redirects: int = 3
    allow_private: bool = False

    async def get_json(self, url: str) -> tuple[str, Any]:
        """The JSON document at ``url`` (after redirects) and the URL it came from."""
        try:
            async with asyncio.timeout(self.timeout):
                return await self._follow(url)
        except FetchError:
            raise
        except TimeoutError:
            raise FetchError(ErrorKind.TIMEOUT.value, f"no complete answer within {self.timeout:g} s", url) from None
        except httpx.HTTPError as exc:
            kind = ErrorKind.PROXY if isinstance(exc, httpx.ProxyError) else classify_exception(exc)
            raise FetchError(kind.value, f"{type(exc).__name__}: {exc}"[:300], url) from None
        except OSError as exc:
            raise FetchError(classify_exception(exc).value, f"{type(exc).__name__}: {exc}"[:300], url) from None

    async def _follow(self, url: str) -> tuple[str, Any]:
        seen: set[str] = set()
        while True:
            seen.add(url)
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise FetchError(ErrorKind.OTHER.value, f"not an http(s) URL: {mask_url(url)}", url)
            proxy = self.proxy_for(url)
            await self._guard(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80), proxy, url)
            headers = {
                "User-Agent": self.user_agent,
                "Accept": "application/rdap+json, application/json",
                "Accept-Encoding": "identity",  # the byte cap counts what arrives; no decompression bomb
            }
            async with (
                httpx.AsyncClient(proxy=proxy, trust_env=False, timeout=self.timeout, follow_redirects=False) as client,
                client.stream("GET", url, headers=headers) as response,
            ):
                if response.is_redirect:
                    target = urljoin(url, response.headers.get("location", ""))
                    if target in seen:
                        raise FetchError(
                            ErrorKind.REDIRECT_LOOP.value, f"redirect loop back to {mask_url(target)}", url
                        )
                    if len(seen) > self.max_redirects:
                        raise FetchError(
                            ErrorKind.REDIRECT_LOOP.value, f"more than {self.max_redirects} redirects", url
                        )
                    url = target
                    continue
                return url, await self._body(url, response)

    async def _body(self, url: str, response: httpx.Response) -> Any:
        status = response.status_code
        if status != 200:
            kind = (
                ErrorKind.HTTP_4XX if 400 <= status < 500 else ErrorKind.HTTP_5XX if status >= 500 else ErrorKind.OTHER
            )
            raise FetchError(kind.value, f"HTTP {status} from {mask_url(url)}", url)
        ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in _JSON_TYPES and not ctype.endswith("+json"):
            raise FetchError(ErrorKind.OTHER.value, f"answered {ctype or 'no content type'}, not RDAP JSON", url)
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise FetchError(ErrorKind.OTHER.value, f"sent content-encoding {encoding} though asked for identity", url)
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError(ErrorKind.TOO_LARGE.value, f"declares {declared} bytes (cap {self.max_bytes})", url)
        body = bytearray()
        async for chunk in response.aiter_raw():
            body += chunk
            if len(body) > self.max_bytes:
                raise FetchError(ErrorKind.TOO_LARGE.value, f"more than {self.max_bytes} bytes", url)
        try:
            return json.loads(bytes(body))
        except (ValueError, RecursionError) as exc:
            raise FetchError(ErrorKind.OTHER.value, f"not JSON: {str(exc)[:200]}", url) from None

    async def _guard(self, host: str, port: int, proxy: str | None, url: str) -> None:
        """The spiders' egress rule: local names and private addresses are refused; names are resolved here only
        for direct connections (behind a proxy, resolving is the proxy's job)."""
        if self.allow_private:
            return
        reason = check_host(host)
        if reason:
            raise FetchError(ErrorKind.EGRESS_REFUSED.value, reason, url)
        if proxy or literal_ip(host) is not None:
            return
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise FetchError(ErrorKind.DNS.value, f"cannot resolve {host}: {exc}", url) from None
        for *_, sockaddr in infos:
            reason = check_address(ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0]))
            if reason:
                raise FetchError(ErrorKind.EGRESS_REFUSED.value, f"{host} resolves to {reason}", url)
