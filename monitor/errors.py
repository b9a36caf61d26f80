"""The one exceptions module: the project's error hierarchy and the bounded set of probe error kinds."""

from __future__ import annotations

from enum import StrEnum


class ScrapewatchError(Exception):
    """Base class of every error scrapewatch raises on purpose."""


class ConfigError(ScrapewatchError):
    """The configuration file or environment is invalid; ``errors`` lists (key, reason) pairs."""

    def __init__(self, errors: list[tuple[str, str]], source: str | None = None):
        self.errors = errors
        self.source = source
        where = f" in {source}" if source else ""
        lines = "\n".join(f"  {key}: {reason}" for key, reason in errors)
        super().__init__(f"invalid configuration{where}:\n{lines}")


class StorageError(ScrapewatchError):
    """The database cannot be opened, migrated or written."""


class DatabaseDamaged(StorageError):
    """SQLite's integrity check found damage in the database file; nothing is written to it."""


class DatabaseTooNew(StorageError):
    """The database holds migrations (or a schema version) newer than this build knows."""


class StartupError(ScrapewatchError):
    """The daemon cannot start (port in use, unwritable data directory, ...)."""


class NotFound(ScrapewatchError):
    """The requested record does not exist."""


class InvalidTransition(ScrapewatchError):
    """An incident status change that the incident lifecycle does not allow."""


class EgressRefused(ScrapewatchError):
    """A probe target points at a private, loopback, link-local or metadata address."""


class HeadersTooLarge(ScrapewatchError):
    """A response's head (status line and headers) went past the crawl's header limits."""


class PageTooLarge(ScrapewatchError):
    """A page rendered in Chromium received more bytes than the crawl's cap for one page."""


class CrawlBudgetExceeded(ScrapewatchError):
    """The rendered pages of one crawl received more bytes together than the crawl's cap."""


class BrowserMemoryExceeded(ScrapewatchError):
    """Chromium's processes went over the crawl's memory budget; the page was closed (or the browser restarted)."""


class RenderTimeout(ScrapewatchError, TimeoutError):
    """A page rendered in Chromium did not finish (load and DOM read) before its deadline."""


class CrawlError(ScrapewatchError):
    """A crawl could not run, or ended without one item per requested file (a bug or a shutdown)."""


class RemoteJobFailed(CrawlError):
    """A crawl queued for workers ended without items: past its deadline, dead-lettered, or failed on the worker."""

    def __init__(self, message: str, error_kind: str):
        super().__init__(message)
        self.error_kind = error_kind


class AudioUnusable(ScrapewatchError):
    """A file could not be decoded or fingerprinted; ``reason`` is one of a small set (not_audio, timeout, ...)."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail


class RegistryError(ScrapewatchError):
    """An agent registry file is unreadable or invalid; the message names the line and field."""

    def __init__(self, message: str, source: str | None = None, line: int | None = None, field: str | None = None):
        self.source, self.line, self.field = source, line, field
        where = [source, f"line {line}" if line else None, f"column {field!r}" if field else None]
        super().__init__(": ".join([part for part in where if part] + [message]))


class RegistryFetchError(RegistryError):
    """A registry URL could not be downloaded (network failure or HTTP error), as opposed to being invalid."""


class NoticeTemplateError(ScrapewatchError):
    """A notice template is missing, malformed or uses a field the case facts do not have; nothing is written."""


class HttpError(ScrapewatchError):
    """A request to the daemon's HTTP server that gets an error answer with this status (and extra headers)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


class BadRequest(HttpError):
    """A query parameter or body field of a request to the daemon is invalid."""

    def __init__(self, message: str):
        super().__init__(400, message)


class ErrorKind(StrEnum):
    """Why a probe failed. Used as a metric label, so the set is closed."""

    TIMEOUT = "timeout"
    DNS = "dns"
    REFUSED = "refused"
    TLS = "tls"
    CONNECTION = "connection"
    PROXY = "proxy"
    HTTP_4XX = "http_4xx"
    HTTP_5XX = "http_5xx"
    TOO_LARGE = "too_large"
    EGRESS_REFUSED = "egress_refused"
    REDIRECT_LOOP = "redirect_loop"
    # A rendered crawl's byte cap (all its pages together) was reached: this page was cut or never rendered.
    CRAWL_BUDGET = "crawl_budget"
    # Chromium's processes went over the memory budget while this page was open: it was closed.
    BROWSER_MEMORY = "browser_memory"
    # Not a failure of the site: the crawl chose not to fetch a URL its robots.txt disallows.
    ROBOTS_DISALLOWED = "robots_disallowed"
    # Not a failure of the site either: the probe itself raised (a bug, a full disk); the run records the exception.
    CRASH = "crash"
    # Nor this: the daemon stopped the run at shutdown because it outlasted scheduler.shutdown_grace_seconds.
    SHUTDOWN = "shutdown"
    # Crawls run by workers (distributed.redis_url): no result before the job's deadline, or the job failed
    # distributed.max_attempts times and went to the dead letters.
    DEADLINE = "deadline"
    DEAD_LETTER = "dead_letter"
    OTHER = "other"


def kind_for_status(status: int) -> ErrorKind | None:
    """Map an HTTP status to an error kind; ``None`` for success (1xx-3xx)."""
    if 400 <= status < 500:
        return ErrorKind.HTTP_4XX
    if status >= 500:
        return ErrorKind.HTTP_5XX
    return None


def classify_exception(exc: BaseException) -> ErrorKind:
    """Map a download exception (Twisted, Scrapy, OpenSSL, OS) to one bounded error kind.

    Names are compared rather than classes imported so that this module stays importable without
    Twisted and so that wrapped errors (``ResponseNeverReceived`` holding a TLS failure, Scrapy's
    ``DownloadFailedError`` caused by a Twisted ``ResponseFailed``) are unwrapped.
    """
    if isinstance(exc, EgressRefused):
        return ErrorKind.EGRESS_REFUSED
    if isinstance(exc, HeadersTooLarge | PageTooLarge):
        return ErrorKind.TOO_LARGE
    if isinstance(exc, CrawlBudgetExceeded):
        return ErrorKind.CRAWL_BUDGET
    if isinstance(exc, BrowserMemoryExceeded):
        return ErrorKind.BROWSER_MEMORY
    inner = getattr(exc, "reasons", None)
    if inner:
        first = inner[0]
        return classify_exception(getattr(first, "value", first))
    name = type(exc).__name__
    module = type(exc).__module__ or ""
    text = str(exc).lower()
    # Scrapy >= 2.14 wraps Twisted's errors in its own; the original is the cause.
    if name == "DownloadFailedError" and exc.__cause__ is not None:
        return classify_exception(exc.__cause__)
    if name == "IgnoreRequest" and "max redirections" in text:
        return ErrorKind.REDIRECT_LOOP
    if name == "IgnoreRequest" and "robots.txt" in text:
        return ErrorKind.ROBOTS_DISALLOWED
    # Before the timeout test: a DNS lookup that timed out is still a DNS failure.
    if name in {"DNSLookupError", "gaierror", "CannotResolveHostError"} or "dns" in name.lower():
        return ErrorKind.DNS
    if name in {"TimeoutError", "TCPTimedOutError", "UserTimeoutError", "ServerTimeoutError"} or (
        "timeout" in name.lower() or "timed out" in text
    ):
        return ErrorKind.TIMEOUT
    if name in {"ConnectionRefusedError", "DownloadConnectionRefusedError"}:
        return ErrorKind.REFUSED
    if "ssl" in module.lower() or "openssl" in module.lower() or "tls" in name.lower() or "ssl" in text:
        return ErrorKind.TLS
    if "tunnel" in name.lower() or "proxy" in text:
        return ErrorKind.PROXY
    if name in {
        "ConnectionLost",
        "ConnectionDone",
        "ConnectionClosed",
        "ResponseFailed",
        "ResponseNeverReceived",
        "ConnectError",
        "ConnectionResetError",
        "NoRouteError",
        "PotentialDataLoss",
        "ResponseDataLossError",
        "DownloadFailedError",
        "ParseError",
        "BadHeaders",
        "BadResponse",
        "InvalidHeaderName",
        "InvalidHeaderValue",
    }:
        return ErrorKind.CONNECTION
    return ErrorKind.OTHER
