"""The policy snapshot probe: fetch a protected domain's policy files and sampled pages, one item per file."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from scrapy import Request, Spider
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from monitor.errors import ErrorKind, classify_exception, kind_for_status
from spiders.facts import duration_of as _duration
from spiders.facts import short_error as _short
from spiders.facts import utc_now as _now
from spiders.items import PolicyFileItem

TARGET_META = "scrapewatch_target"


def parse_targets(targets: Any) -> list[dict[str, Any]]:
    """Validate ``targets`` (a list, or its JSON text): ``[{"domain": str, "files": {name: url}}]``."""
    if isinstance(targets, str | bytes):
        try:
            targets = json.loads(targets)
        except ValueError as exc:
            raise ValueError(f"targets is not valid JSON: {exc}") from None
    if not isinstance(targets, list):
        raise ValueError('targets must be a list of {"domain": ..., "files": {name: url}}')
    for target in targets:
        if not isinstance(target, dict) or not isinstance(target.get("domain"), str):
            raise ValueError(f"each target needs a string 'domain': {target!r}")
        files = target.get("files")
        if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
            raise ValueError(f"target {target['domain']!r} needs 'files' mapping names to URLs")
    return targets


class PolicyFilesSpider(Spider):
    """Fetches each target's policy files and yields exactly one PolicyFileItem per file.

    Any HTTP status reaches the callback (4xx/5xx carry an error kind); a download failure reaches
    the errback and becomes an item without status. The spider judges nothing.
    """

    name = "policy_files"
    custom_settings = {
        # A 404 robots.txt or a 503 is a fact about the domain's policy, not noise to drop.
        "HTTPERROR_ALLOW_ALL": True,
    }

    def __init__(self, targets: Any = None, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.targets = parse_targets(targets if targets is not None else [])

    async def start(self) -> AsyncIterator[Request | PolicyFileItem]:
        for target in self.targets:
            for file, url in target["files"].items():
                meta = {TARGET_META: (target["domain"], file, url)}
                try:
                    # dont_filter: a redirect back to a URL seen before must count as a hop, not vanish.
                    request = Request(url, callback=self.parse, errback=self.on_error, meta=meta, dont_filter=True)
                except ValueError as exc:  # no scheme, unparsable: still one item for the file
                    yield PolicyFileItem(
                        domain=target["domain"],
                        file=file,
                        url=url,
                        error_kind=ErrorKind.OTHER.value,
                        error_detail=_short(exc),
                        fetched_at=_now(),
                    )
                    continue
                yield request

    async def parse(self, response: Response) -> AsyncIterator[PolicyFileItem]:
        yield self._response_item(response, response.meta)

    async def on_error(self, failure: Failure) -> AsyncIterator[PolicyFileItem]:
        exc = failure.value
        request: Request | None = getattr(failure, "request", None)
        meta = request.meta if request is not None else {}
        if isinstance(exc, HttpError) and exc.response is not None:
            # Only when HTTPERROR_ALLOW_ALL is overridden: the response is still a response.
            yield self._response_item(exc.response, meta)
            return
        domain, file, url = meta.get(TARGET_META) or ("", "", request.url if request else "")
        kind = classify_exception(exc)
        redirects = list(meta.get("redirect_urls", []))
        if kind is ErrorKind.REDIRECT_LOOP and request is not None:
            redirects.append(request.url)
        yield PolicyFileItem(
            domain=domain,
            file=file,
            url=url,
            redirects=redirects,
            error_kind=kind.value,
            error_detail=_short(exc),
            duration_seconds=_duration(meta),
            fetched_at=_now(),
        )

    def _response_item(self, response: Response, meta: dict[str, Any]) -> PolicyFileItem:
        domain, file, url = meta.get(TARGET_META) or ("", "", response.url)
        cap = self.settings.getint("SCRAPEWATCH_MAX_RESPONSE_BYTES")
        body = response.body
        truncated = cap > 0 and len(body) > cap
        kind = kind_for_status(response.status)
        header_values = {
            name.decode("latin-1").lower(): [v.decode("latin-1") for v in values]
            for name, values in response.headers.items()
            if values
        }
        return PolicyFileItem(
            domain=domain,
            file=file,
            url=url,
            final_url=response.url,
            status=response.status,
            headers={name: values[0] for name, values in header_values.items()},
            header_values=header_values,
            body=body[:cap] if truncated else body,
            size=len(body),
            truncated=truncated,
            redirects=list(meta.get("redirect_urls", [])),
            error_kind=kind.value if kind else None,
            error_detail=f"HTTP {response.status}" if kind else None,
            duration_seconds=_duration(meta),
            fetched_at=_now(),
        )
