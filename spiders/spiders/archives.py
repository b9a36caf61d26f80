"""Archive and dataset-hub queries: Wayback CDX, the Common Crawl index, a dataset hub's search and viewer rows.

One endpoint per crawl, one request at a time, ``rate_limit`` seconds apart: every query is a chain of pages (a
resume key, a page number, a row offset) and the next chain starts when the previous one ends. 429 and 503 answers
are retried after their Retry-After (capped, with exponential backoff); a request still refused after its retries
halts the run.
A run makes at most ``max_pages`` requests, and a chain that repeats a resume key or a page stops. Queries are
taken round-robin from the ``resume`` point the last run reported (spiders.archive_cursor); the run's last item
carries the point the next run starts from.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from scrapy import Request, Spider
from scrapy.http import Response
from twisted.python.failure import Failure

from monitor.errors import ErrorKind, classify_exception, kind_for_status
from spiders.archive_cursor import Rotation, parse_resume
from spiders.archive_formats import (
    MAX_ROWS_PER_PAGE,
    decoded_body,
    parse_ndjson,
    parse_wayback,
    read_json,
    retry_after_seconds,
)
from spiders.facts import duration_of, short_error, utc_now
from spiders.scraping_items import ArchivePage

META = "scrapewatch_archive"
WAYBACK_FIELDS = "urlkey,timestamp,original,mimetype,statuscode,digest,length"
KINDS = ("wayback", "common_crawl", "dataset_hub")
RETRY_STATUSES = (429, 503)
PAUSE_SLICE = 0.2  # a long Retry-After wait is slept in slices so that a stopping crawl is not held up
# Above the command line: an endpoint's rate limit belongs to the endpoint, not to crawl-wide overrides.
POLITENESS_PRIORITY = 45
_DEFAULTS: dict[str, Any] = {
    "viewer_url": None,
    "rate_limit": 2.0,
    "page_size": 500,
    "crawls": 2,
    "max_pages": 25,
    "max_retries": 3,
    "max_retry_wait": 60.0,
    "backoff_base": 1.0,
    "max_datasets": 10,
    "rows_page_size": 100,
    "datasets": [],
}


def parse_endpoint(endpoint: Any) -> dict[str, Any]:
    """Validate the spider's ``endpoint`` argument (a dict, or its JSON text)."""
    if isinstance(endpoint, str | bytes):
        endpoint = json.loads(endpoint)
    if not isinstance(endpoint, dict):
        raise ValueError("endpoint must be a mapping with kind, source and base_url")
    if endpoint.get("kind") not in KINDS:
        raise ValueError(f"endpoint kind must be one of {KINDS}")
    for key in ("source", "base_url"):
        if not isinstance(endpoint.get(key), str) or not endpoint[key]:
            raise ValueError(f"endpoint needs a string {key!r}")
    unknown = sorted(set(endpoint) - set(_DEFAULTS) - {"kind", "source", "base_url"})
    if unknown:
        raise ValueError(f"unknown endpoint keys: {unknown}")
    out = {**_DEFAULTS, **endpoint}
    if out["kind"] == "dataset_hub" and not out["viewer_url"]:
        raise ValueError("a dataset_hub endpoint needs viewer_url")
    return out


def query_key(q: dict[str, Any]) -> str:
    """A URL pattern's chain key in resume points: its URL, match type and filters."""
    return " ".join([q["url"], q.get("match_type", "prefix"), *q.get("filters", [])])


def _headers(response: Response) -> dict[str, list[str]]:
    return {k.decode("latin-1").lower(): [v.decode("latin-1") for v in vs] for k, vs in response.headers.items()}


# --- the spider ---------------------------------------------------------------------------------------------------


class ArchivesSpider(Spider):
    """Queries one archive or dataset endpoint, yielding one ArchivePage per page requested (retries folded in)."""

    name = "archives"
    custom_settings = {
        # A 404 ("No Captures found"), a 429 or a 503 is an answer to read, not noise to drop.
        "HTTPERROR_ALLOW_ALL": True,
        # 429 and 503 are retried here, after their Retry-After; Scrapy's retry would hammer at once.
        "RETRY_HTTP_CODES": [500, 502, 504, 522, 524, 408],
    }

    def __init__(self, endpoint: Any = None, queries: Any = None, resume: Any = None, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.endpoint = parse_endpoint(endpoint)
        if isinstance(queries, str | bytes):
            queries = json.loads(queries)
        if not isinstance(queries, list):
            raise ValueError("queries must be a list")
        self.queries = queries
        self.source = self.endpoint["source"]
        self.pages = 0
        self.expected_items = 0
        self.halted: str | None = None
        self.rotation = Rotation(parse_resume(resume))
        # (chain key, first request): a key for the queries taken round-robin, None for collinfo and searches
        self._chains: deque[tuple[str | None, Callable[[], Request | None]]] = deque()
        self._seen: dict[str, set[str]] = {}
        self._datasets: list[str] = list(dict.fromkeys(self.endpoint["datasets"]))

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> ArchivesSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        politeness = {
            "DOWNLOAD_DELAY": float(spider.endpoint["rate_limit"]),
            "DOWNLOAD_DELAY_JITTER": 0.0,
            "AUTOTHROTTLE_ENABLED": False,
            "CONCURRENT_REQUESTS": 1,
            "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
        }
        for name, value in politeness.items():
            crawler.settings.set(name, value, priority=POLITENESS_PRIORITY)
        return spider

    # --- chains ---------------------------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Request]:
        kind, base = self.endpoint["kind"], self.endpoint["base_url"]
        if kind == "wayback":
            by_key = {query_key(q): q for q in self.queries}
            keys, position = self.rotation.order(list(by_key))
            for key in keys:
                at = position if key == keys[0] else {}
                resume_key, page = at.get("resume_key"), int(at.get("page", 0))
                self._chains.append((key, lambda q=by_key[key], r=resume_key, p=page: self._wayback(q, r, p)))
        elif kind == "common_crawl":
            self._chains.append((None, lambda: self._request(f"{base}/collinfo.json", "collinfo", "collinfo.json")))
        else:
            for term in self.queries:
                url = f"{base}/api/datasets?{urlencode({'search': term, 'limit': self.endpoint['max_datasets']})}"
                self._chains.append((None, lambda url=url, term=term: self._request(url, "hub_search", term)))
            self._chains.append((None, self._dataset_chains))
        request = self._next_chain()
        if request is not None:
            yield request

    def _next_chain(self) -> Request | None:
        """The first request of the next query that can still run (None: the run is over or out of pages)."""
        while self._chains and not self.halted and self.pages < self.endpoint["max_pages"]:
            request = self._chains.popleft()[1]()
            if request is not None:
                return request
        return None

    def _request(
        self, url: str, kind: str, query: str, page: int = 0, position: dict[str, Any] | None = None, **ctx: Any
    ) -> Request | None:
        refused = bool(self.halted) or self.pages >= self.endpoint["max_pages"]
        if ctx.get("chain"):  # a step of a query taken round-robin: where the next run resumes if the cap refuses
            self.rotation.asked(ctx["chain"], position or {}, not refused)
        if refused:
            return None
        self.pages += 1
        self.expected_items += 1
        meta = {META: {"kind": kind, "query": query, "page": page, "attempts": 1, "waits": [], **ctx}}
        # One download slot for the whole endpoint (a hub and its viewer included): one rate limit.
        meta["download_slot"] = f"scrapewatch-{self.source}"
        return Request(url, callback=self.parse, errback=self.on_error, meta=meta, dont_filter=True)

    def _wayback(self, q: dict[str, Any], resume: str | None, page: int) -> Request | None:
        params: list[tuple[str, str]] = [("url", q["url"]), ("matchType", q.get("match_type", "prefix"))]
        params += [("filter", f) for f in q.get("filters", [])]
        params += [("output", "json"), ("fl", WAYBACK_FIELDS), ("limit", str(self.endpoint["page_size"]))]
        params += [("showResumeKey", "true"), ("gzip", "false")]
        if resume:
            params.append(("resumeKey", resume))
        url = f"{self.endpoint['base_url']}/cdx/search/cdx?{urlencode(params)}"
        position = {"resume_key": resume, "page": page} if resume else {}
        return self._request(url, "cdx", q["url"], page, position, q=q, chain=query_key(q))

    def _cc(self, api: str, crawl: str, q: dict[str, Any], page: int | None, pages: int = 0) -> Request | None:
        params: list[tuple[str, str]] = [("url", q["url"]), ("matchType", q.get("match_type", "prefix"))]
        params += [("filter", f) for f in q.get("filters", [])] + [("output", "json")]
        params += [("showNumPages", "true")] if page is None else [("page", str(page))]
        kind = "num_pages" if page is None else "cc_index"
        url = f"{api}?{urlencode(params)}"
        position = {} if page is None else {"page": page, "num_pages": pages}
        chain = f"{crawl} {query_key(q)}"
        return self._request(
            url, kind, q["url"], page or 0, position, q=q, crawl=crawl, api=api, num_pages=pages, chain=chain
        )

    def _dataset_chains(self) -> Request | None:
        # A dataset is resumed from its card: its listing count is judged over all its rows, never a slice.
        keys, _ = self.rotation.order(self._datasets[: self.endpoint["max_datasets"]])
        for dataset in keys:
            self._chains.append((dataset, lambda d=dataset: self._card(d)))
        return None

    def _card(self, dataset: str) -> Request | None:
        url = f"{self.endpoint['base_url']}/datasets/{quote(dataset)}/raw/main/README.md"
        return self._request(url, "dataset_card", dataset, dataset=dataset, chain=dataset)

    def _rows(self, dataset: str, config: str, split: str, offset: int, page: int) -> Request | None:
        length = self.endpoint["rows_page_size"]
        params = {"dataset": dataset, "config": config, "split": split, "offset": offset, "length": length}
        url = f"{self.endpoint['viewer_url']}/rows?{urlencode(params)}"
        return self._request(
            url, "rows", dataset, page, dataset=dataset, config=config, split=split, offset=offset, chain=dataset
        )

    def _first_time(self, chain: str, key: str) -> bool:
        seen = self._seen.setdefault(chain, set())
        if key in seen:
            return False
        seen.add(key)
        return True

    # --- responses ------------------------------------------------------------------------------------------

    async def parse(self, response: Response) -> AsyncIterator[ArchivePage | Request]:
        ctx = response.meta[META]
        if response.status in RETRY_STATUSES and ctx["attempts"] <= self.endpoint["max_retries"]:
            wait = self._wait(response, ctx["attempts"])
            if await self._pause(wait):
                retry = response.request.replace(dont_filter=True)
                retry.meta[META] = {**ctx, "attempts": ctx["attempts"] + 1, "waits": [*ctx["waits"], wait]}
                yield retry
                return
        item = self._item(response, ctx)
        follow: Request | None = None
        if response.status in RETRY_STATUSES:
            item.stop = self.halted = "rate_limited"
        elif not self._running():
            item.stop = self.halted = "stopping"
        elif item.stop != "error" or item.kind == "dataset_card":  # a dataset without a card still has rows
            follow = self._read(item, ctx)
        for out in self._then(item, follow):
            yield out

    def _then(self, item: ArchivePage, follow: Request | None) -> list[ArchivePage | Request]:
        """The item, then the next page of its chain or the first page of the next chain."""
        follow = follow or self._next_chain()
        if follow is None and self._chains and not self.halted and item.stop in (None, "complete"):
            item.stop = "page_cap"  # queries were left for lack of pages
        if follow is None:  # one request at a time: nothing follows, so this is the run's last item
            waiting = next((key for key, _ in self._chains if key is not None), None)
            item.resume = self.rotation.resume_point(bool(self.halted), waiting)
        return [item] if follow is None else [item, follow]

    def _read(self, item: ArchivePage, ctx: dict[str, Any]) -> Request | None:
        """Fill ``item`` from its body; the next page of the same chain, if any (``item.stop`` says why not)."""
        kind = item.kind
        cap = self.settings.getint("SCRAPEWATCH_MAX_RESPONSE_BYTES")
        text, problem = decoded_body(item.body, item.headers, cap)
        if problem:
            item.parse_error, item.stop = problem, "error"
            return None
        follow: Request | None = None
        if kind == "cdx":
            item.rows, item.resume_key, item.parse_error = parse_wayback(text)
            if item.resume_key and item.rows:
                if not self._first_time(f"cdx:{item.query}", item.resume_key):
                    item.stop = "loop"
                    return None
                follow = self._wayback(ctx["q"], item.resume_key, item.page + 1)
        elif kind == "collinfo":
            data, item.parse_error = read_json(text)
            crawls = (
                [c for c in data if isinstance(c, dict) and isinstance(c.get("id"), str)]
                if isinstance(data, list)
                else None
            )
            if crawls is None:
                item.parse_error = item.parse_error or "collinfo.json is not a list of crawls"
            else:
                item.rows = crawls[: self.endpoint["crawls"]]
                self._crawl_chains(item.rows)
        elif kind == "num_pages":
            if item.status == 404:  # pywb: "No Captures found for: …"
                item.num_pages = 0
            else:
                data, item.parse_error = read_json(text)
                pages = data.get("pages") if isinstance(data, dict) else None
                if isinstance(pages, int) and not isinstance(pages, bool) and pages >= 0:
                    item.num_pages = pages
                else:
                    item.parse_error = item.parse_error or "showNumPages answer has no page count"
            if item.num_pages:
                follow = self._cc(ctx["api"], ctx["crawl"], ctx["q"], 0, item.num_pages)
        elif kind == "cc_index":
            if item.status != 404:
                item.rows, item.bad_lines = parse_ndjson(text)
            digest = hashlib.sha256(text).hexdigest()
            if item.rows and not self._first_time(f"cc:{ctx['crawl']}:{item.query}", digest):
                item.stop = "loop"
                return None
            if item.rows and item.page + 1 < ctx["num_pages"]:
                follow = self._cc(ctx["api"], ctx["crawl"], ctx["q"], item.page + 1, ctx["num_pages"])
        elif kind == "hub_search":
            data, item.parse_error = read_json(text)
            if isinstance(data, list):
                item.rows = [d for d in data if isinstance(d, dict) and isinstance(d.get("id"), str)]
                for d in item.rows:
                    if d["id"] not in self._datasets:
                        self._datasets.append(d["id"])
            else:
                item.parse_error = item.parse_error or "dataset search answer is not a list"
        elif kind == "dataset_card":
            follow = self._request(
                f"{self.endpoint['viewer_url']}/splits?{urlencode({'dataset': item.dataset})}",
                "splits",
                item.query,
                dataset=item.dataset,
                chain=item.dataset,
            )
            if follow is not None:
                item.stop = None  # a missing card does not end the dataset: its rows come next
        elif kind == "splits":
            data, item.parse_error = read_json(text)
            splits = data.get("splits") if isinstance(data, dict) else None
            first = next((s for s in splits or [] if isinstance(s, dict) and s.get("config") and s.get("split")), None)
            if first is None:
                item.parse_error = item.parse_error or "no config/split in the viewer's answer"
            else:
                item.rows = [first]
                follow = self._rows(item.query, str(first["config"]), str(first["split"]), 0, 0)
        elif kind == "rows":
            data, item.parse_error = read_json(text)
            rows = data.get("rows") if isinstance(data, dict) else None
            if not isinstance(rows, list):
                item.parse_error = item.parse_error or "the viewer's answer has no rows list"
            else:
                item.rows = [
                    r["row"] for r in rows[:MAX_ROWS_PER_PAGE] if isinstance(r, dict) and isinstance(r.get("row"), dict)
                ]
                total = data.get("num_rows_total")
                item.total = total if isinstance(total, int) and not isinstance(total, bool) else None
                offset = ctx["offset"] + len(rows)
                digest = hashlib.sha256(json.dumps(item.rows, sort_keys=True, default=str).encode()).hexdigest()
                if item.rows and not self._first_time(f"rows:{item.dataset}", digest):
                    item.stop = "loop"
                    return None
                if item.rows and item.total is not None and offset < item.total:
                    follow = self._rows(item.query, ctx["config"], ctx["split"], offset, item.page + 1)
        if item.parse_error:
            item.stop = "error"
            return None
        if follow is None and not item.stop:
            item.stop = "page_cap" if self._capped(item) else "complete"
        return follow

    def _capped(self, item: ArchivePage) -> bool:
        """True when the chain had more to fetch but the run's page cap refused it."""
        if self.pages < self.endpoint["max_pages"]:
            return False
        more = {
            "cdx": bool(item.resume_key and item.rows),
            "num_pages": bool(item.num_pages),
            "cc_index": bool(item.rows),
            "dataset_card": True,
            "splits": bool(item.rows),
            "rows": bool(item.rows and item.total is not None),
        }
        return more.get(item.kind, bool(self._chains))

    def _crawl_chains(self, crawls: list[dict[str, Any]]) -> None:
        """One chain per (crawl, query), crawl by crawl, taken round-robin from the resume point."""
        steps = {f"{c['id']} {query_key(q)}": (self._cdx_api(c), c["id"], q) for c in crawls for q in self.queries}
        keys, position = self.rotation.order(list(steps))
        for key in keys:
            at = position if key == keys[0] else {}
            pages = at.get("num_pages")
            page = at.get("page") if isinstance(pages, int) else None
            self._chains.append((key, lambda s=steps[key], p=page, n=pages or 0: self._cc(s[0], s[1], s[2], p, n)))

    def _cdx_api(self, crawl: dict[str, Any]) -> str:
        """The crawl's index URL: collinfo's ``cdx-api`` when it is on the configured server, else built from it."""
        base = self.endpoint["base_url"]
        api = crawl.get("cdx-api")
        if isinstance(api, str) and urlsplit(api).netloc == urlsplit(base).netloc:
            return api
        return f"{base}/{quote(crawl['id'])}-index"

    async def on_error(self, failure: Failure) -> AsyncIterator[ArchivePage | Request]:
        request: Request | None = getattr(failure, "request", None)
        meta = request.meta if request is not None else {}
        ctx = meta.get(META) or {"kind": "cdx", "query": "", "page": 0, "attempts": 1, "waits": []}
        item = self._item(None, ctx, url=request.url if request else "")
        item.error_kind = classify_exception(failure.value).value
        item.error_detail = short_error(failure.value)
        item.duration_seconds = duration_of(meta)
        item.stop = "error"
        for out in self._then(item, None):
            yield out

    def _item(self, response: Response | None, ctx: dict[str, Any], url: str = "") -> ArchivePage:
        item = ArchivePage(
            source=self.source,
            kind=ctx["kind"],
            query=ctx["query"],
            url=response.url if response is not None else url,
            page=ctx["page"],
            crawl=ctx.get("crawl"),
            dataset=ctx.get("dataset"),
            attempts=ctx["attempts"],
            retry_waits=list(ctx["waits"]),
            fetched_at=utc_now(),
        )
        if ctx["kind"] == "cc_index":
            item.num_pages = ctx.get("num_pages")
        if response is None:
            return item
        cap = self.settings.getint("SCRAPEWATCH_MAX_RESPONSE_BYTES")
        body = response.body
        item.status = response.status
        item.headers = _headers(response)
        item.content_type = (item.headers.get("content-type") or [None])[0]
        item.truncated = cap > 0 and len(body) > cap
        item.body = body[:cap] if item.truncated else body
        item.size = len(body)
        item.duration_seconds = duration_of(response.meta)
        status_kind = kind_for_status(response.status)
        if status_kind and not (response.status == 404 and ctx["kind"] in ("num_pages", "cc_index")):
            item.error_kind, item.error_detail = status_kind.value, f"HTTP {response.status}"
            item.stop = "error"
        if item.truncated and not item.error_kind:
            item.error_kind, item.error_detail = ErrorKind.TOO_LARGE.value, f"answer cut at {cap} bytes"
        return item

    # --- politeness -----------------------------------------------------------------------------------------

    def _wait(self, response: Response, attempt: int) -> float:
        """Seconds before retrying a 429/503: its Retry-After, at least the exponential backoff, at most the cap."""
        header = response.headers.get(b"Retry-After")
        told = retry_after_seconds(header.decode("latin-1") if header else None)
        backoff = self.endpoint["backoff_base"] * 2 ** (attempt - 1)
        return round(min(max(told or 0.0, backoff), self.endpoint["max_retry_wait"]), 3)

    async def _pause(self, seconds: float) -> bool:
        """Sleep ``seconds`` (in slices); False when the crawl began stopping meanwhile."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if not self._running():
                return False
            await asyncio.sleep(min(PAUSE_SLICE, left))
        return self._running()

    def _running(self) -> bool:
        with contextlib.suppress(AttributeError):
            return bool(self.crawler.engine.running)
        return True
