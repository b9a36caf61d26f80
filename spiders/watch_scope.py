"""Where a watch crawl may go: same-site scope, SoundCloud's own hosts (never crawled) and the guard enforcing it."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import unquote, urljoin, urlsplit

from monitor.errors import EgressRefused
from monitor.net import host_of, is_soundcloud_host

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.http import Response

# A query value carrying one of these makes the URL a proxied SoundCloud media request (§3.1 #10).
_SC_MEDIA_IN_QUERY = re.compile(
    r"https?://(?:[a-z0-9-]+\.)*(?:sndcdn\.com|media-streaming\.soundcloud\.cloud)/|api-v2\.soundcloud\.com/media/",
    re.IGNORECASE,
)


def site_of(host: str) -> str:
    """The site a start host stands for: the host without a leading ``www.``.

    tldextract (and the public suffix list) is not available, so a site is a host and its subdomains.
    """
    host = host.lower().rstrip(".")
    return host[4:] if host.startswith("www.") and host.count(".") >= 2 else host


def in_scope(host: str, sites: frozenset[str]) -> bool:
    """True when ``host`` is one of ``sites`` or a subdomain of one (and not a SoundCloud host)."""
    host = host.lower().rstrip(".")
    return (
        bool(host) and not is_soundcloud_host(host) and any(host == site or host.endswith("." + site) for site in sites)
    )


def embeds_soundcloud_media(url: str) -> bool:
    """True when a query value (percent-decoded up to twice) is a SoundCloud media or stream-resolver URL."""
    query = urlsplit(url).query
    for _ in range(3):
        if _SC_MEDIA_IN_QUERY.search(query):
            return True
        decoded = unquote(query)
        if decoded == query:
            return False
        query = decoded
    return False


class SoundCloudGuardMiddleware:
    """Keeps a watch crawl off SoundCloud's own hosts, whatever the sites it crawls link or redirect to.

    A request to such a host is refused (an ``egress_refused`` item), robots.txt fetches included. A
    redirect towards one is not followed: the 3xx response itself reaches the spider, its Location the
    evidence. Placed after RedirectMiddleware (600) so that it sees responses first.
    """

    def process_request(self, request: Request) -> None:
        host = host_of(request.url)
        if is_soundcloud_host(host):
            raise EgressRefused(f"{host} is SoundCloud's own host: watch crawls never request it")

    def process_response(self, request: Request, response: Response) -> Response:
        location = response.headers.get(b"Location")
        if 300 <= response.status < 400 and location:
            target = urljoin(response.url, location.decode("latin-1"))
            if is_soundcloud_host(host_of(target)):
                request.meta["dont_redirect"] = True
        return response
