"""Shared builders for the signature tests: a fixed clock, CloudFront policies, one-resource scans."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

from monitor.signatures import NetworkRequest, Resource, scan_page

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2026, 6, 1, tzinfo=UTC)
LIVE = int(NOW.timestamp()) + 300  # five minutes left, like a fresh HLS URL
EXPIRED = int(NOW.timestamp()) - 86400
PAGE = "https://blog.example/posts/night-drive"
TOKEN = "Ab3dEf6hIj9K"
UUID = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"


def cf_policy(resource: str, epoch: int) -> str:
    """A CloudFront custom policy in CloudFront's URL-safe base64 (+ -> -, = -> _, / -> ~)."""
    doc = {"Statement": [{"Resource": resource, "Condition": {"DateLessThan": {"AWS:EpochTime": epoch}}}]}
    raw = base64.b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode()
    return raw.replace("+", "-").replace("=", "_").replace("/", "~")


def signed(url: str, epoch: int, resource: str | None = None) -> str:
    """``url`` signed for ``resource`` (default: the URL's own path) until ``epoch``."""
    res = resource or "*://" + url.split("://", 1)[1].split("?", 1)[0] + "*"
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}Policy={cf_policy(res, epoch)}&Signature=FAKEsig~abc-def__&Key-Pair-Id=APKAEXAMPLE000000000"


def html_page(body: str, url: str = PAGE, **kw) -> Resource:
    return Resource(url, "page", 200, "text/html; charset=utf-8", body.encode(), **kw)


def scan_html(body: str, url: str = PAGE, extra: tuple = (), requests: tuple = (), **kw):
    return scan_page(url, [html_page(body, url), *extra], list(requests), now=NOW, **kw)


def scan_script(js: str, url: str = "https://blog.example/static/app.js"):
    return scan_page(
        PAGE,
        [html_page("<html><body></body></html>"), Resource(url, "script", 200, "text/javascript", js.encode())],
        now=NOW,
    )


def scan_requests(*requests: NetworkRequest, page: str = PAGE):
    return scan_page(page, [html_page("<html></html>", page)], list(requests), now=NOW)


def ids(matches, above_info: bool = False) -> set[str]:
    return {m.signature for m in matches if not above_info or m.severity != "info"}


def by_id(matches, sig: str):
    found = [m for m in matches if m.signature == sig]
    assert found, f"{sig} not in {sorted(ids(matches))}"
    return found[0]
