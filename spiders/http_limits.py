"""Scrapy's HTTP/1.1 download handler with limits on the response head (header lines and bytes), enforced while
the head arrives."""

from __future__ import annotations

import functools
from typing import Any

from scrapy.core.downloader.handlers.http11 import (
    HTTP11DownloadHandler,
    _LenientHTTP11ClientFactory,
    _LenientHTTP11ClientProtocol,
    _LenientHTTPClientParser,
)
from twisted.web._newclient import BODY

from monitor.errors import HeadersTooLarge

MAX_HEADER_BYTES_SETTING = "SCRAPEWATCH_MAX_HEADER_BYTES"
MAX_HEADERS_SETTING = "SCRAPEWATCH_MAX_HEADERS"
# Browsers stop near 256 KiB of headers, servers (nginx, Apache) at 8-64 KiB; real responses send a few KiB and a
# few dozen lines. A header line longer than 16 KiB already ends the connection (LineReceiver.MAX_LENGTH).
DEFAULT_MAX_HEADER_BYTES = 64 * 1024
DEFAULT_MAX_HEADERS = 200


class _BoundedHTTPClientParser(_LenientHTTPClientParser):
    """Scrapy's lenient response parser, refusing a head of more than ``limits`` (bytes, lines).

    Twisted keeps every header line of a response until the blank line that ends the head: a server that never
    sends it would grow the crawler's memory until the download timeout (4.2 GB measured), and the body size cap
    only starts counting after the head.
    """

    _limits: tuple[int, int] = (DEFAULT_MAX_HEADER_BYTES, DEFAULT_MAX_HEADERS)
    _head_bytes = 0
    _head_lines = 0

    def lineReceived(self, line: bytes) -> None:
        if self.state != BODY:
            max_bytes, max_lines = self._limits
            self._head_bytes += len(line) + 1
            self._head_lines += 1
            if self._head_bytes > max_bytes or self._head_lines > max_lines:
                # Raised into HTTP11ClientProtocol.dataReceived, which drops the connection and fails the response.
                raise HeadersTooLarge(
                    f"response headers exceed the limit of {max_bytes} bytes or {max_lines} lines "
                    f"({self._head_bytes} bytes in {self._head_lines} lines so far)"
                )
        super().lineReceived(line)


class _BoundedHTTP11ClientProtocol(_LenientHTTP11ClientProtocol):
    def __init__(self, quiescentCallback: Any, limits: tuple[int, int]) -> None:
        super().__init__(quiescentCallback)
        self._limits = limits

    def request(self, request: Any) -> Any:
        d = super().request(request)
        # Scrapy swaps the parser's class the same way (request() hardcodes it); the new class only adds counters.
        parser = self._parser
        parser.__class__ = _BoundedHTTPClientParser
        parser._limits = self._limits
        return d


class _BoundedHTTP11ClientFactory(_LenientHTTP11ClientFactory):
    def __init__(self, quiescentCallback: Any, metadata: Any, *, limits: tuple[int, int]) -> None:
        super().__init__(quiescentCallback, metadata)
        self._limits = limits

    def buildProtocol(self, addr: Any) -> _BoundedHTTP11ClientProtocol:
        return _BoundedHTTP11ClientProtocol(self._quiescentCallback, self._limits)


def header_limits(settings: Any) -> tuple[int, int]:
    """(``SCRAPEWATCH_MAX_HEADER_BYTES``, ``SCRAPEWATCH_MAX_HEADERS``) of a crawl's settings, defaults when unset."""
    return (
        settings.getint(MAX_HEADER_BYTES_SETTING, DEFAULT_MAX_HEADER_BYTES) or DEFAULT_MAX_HEADER_BYTES,
        settings.getint(MAX_HEADERS_SETTING, DEFAULT_MAX_HEADERS) or DEFAULT_MAX_HEADERS,
    )


def bound_headers(handler: HTTP11DownloadHandler, settings: Any) -> None:
    """Make ``handler``'s connections refuse response heads beyond the crawl's header limits."""
    handler._pool._factory = functools.partial(_BoundedHTTP11ClientFactory, limits=header_limits(settings))


class BoundedHTTP11DownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP/1.1 handler whose responses fail with HeadersTooLarge past the header limits."""

    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        bound_headers(self, crawler.settings)
