"""Everything one page offers to the rules: URL sightings (with frame, wrapper, signature and legit context),
texts, playlists, audio files, HTML facts and served responses; plus the §4 legitimate-context predicates."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from monitor.signatures.htmlfacts import HtmlFacts, read_html
from monitor.signatures.jseval import MAX_SCRIPT_BYTES, resolve_script
from monitor.signatures.model import Match, NetworkRequest, Resource
from monitor.signatures.normalise import (
    MAX_URLS,
    Signed,
    absolutise,
    canonical_url,
    decode_body,
    disposition_filename,
    header_urls,
    header_values,
    host_of,
    is_soundcloud_host,
    looks_binary,
    m3u8_urls,
    signed_info,
    unescape_js,
    unwrap,
    urls_in_text,
)
from monitor.signatures.tags import FileTags, read_tags

MAX_RESOURCES = 500
MAX_REQUESTS = 5000
MAX_SIGHTINGS = 20000
MAX_HEAD_CHARS = 64 * 1024
MAX_EVAL_BYTES = 2 * MAX_SCRIPT_BYTES  # JavaScript parsed per page, inline and fetched scripts together
WIDGET_HOSTS = frozenset({"w.soundcloud.com", "player.soundcloud.com", "p.soundcloud.com"})
# Pages on these hosts show code (downloader sources, fixtures); their hits go to the "tooling" queue as info.
CODE_HOSTS = frozenset(
    {"github.com", "gist.github.com", "raw.githubusercontent.com", "gist.githubusercontent.com", "gitlab.com"}
    | {"bitbucket.org", "npmjs.com", "www.npmjs.com", "unpkg.com", "codeberg.org", "sourcegraph.com", "gitee.com"}
    | {"git.sr.ht", "sr.ht", "pypi.org"}
)
CODE_SITE_NAMES = frozenset({"github", "gitlab", "bitbucket", "npm", "codeberg", "gitea", "forgejo", "sourcegraph"})
_SOURCE_EXT = re.compile(r"(?i)\.(?:py|js|mjs|cjs|ts|tsx|jsx|php|go|rb|java|kt|rs|sh|pl|lua|cs|c|cc|cpp|swift)$")
_SOURCE_TYPES = re.compile(r"(?i)^(?:text/(?:plain|x-[\w-]+)|application/(?:x-)?(?:python|php|sh|typescript))\b")


@dataclass
class Sighting:
    """A URL seen for this page: as found or unwrapped from a wrapper, with where and how it was found."""

    url: str
    found_in: str
    where: str
    download: bool = False
    legit: str | None = None
    signed: Signed | None = None
    wrapper: str | None = None
    frame: str | None = None


@dataclass
class Text:
    """A third-party HTML or JS/JSON text (JS escapes undone) for the text-scope signatures."""

    found_in: str
    scope: str
    text: str


@dataclass
class Served:
    """A response the page's load produced (fetched resource or captured request)."""

    url: str
    content_type: str
    status: int | None
    kind: str


@dataclass
class Document:
    """The page itself as a reader sees it, for the dataset-listing check (#29 on any page)."""

    url: str
    text: str
    prose: str
    headings: str
    html: bool


@dataclass
class PageContext:
    """What the rules see for one third-party page."""

    page_url: str
    site_host: str
    now: float
    tooling: bool = False
    sightings: list[Sighting] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)
    playlists: list[tuple[str, str]] = field(default_factory=list)
    audio: list[tuple[str, FileTags]] = field(default_factory=list)
    html: list[tuple[str, HtmlFacts]] = field(default_factory=list)
    download_names: list[tuple[str, str]] = field(default_factory=list)
    attachments: list[tuple[str, str]] = field(default_factory=list)
    served: list[Served] = field(default_factory=list)
    track_ids: set[str] = field(default_factory=set)
    matches: list[Match] = field(default_factory=list)
    eval_bytes: int = 0
    documents: list[Document] = field(default_factory=list)
    _seen: dict[tuple[str, str], Sighting] = field(default_factory=dict)

    def add(self, url: str, found_in: str, where: str, *, download: bool = False, frame: str | None = None) -> None:
        """Record ``url`` and every URL wrapped inside it (legit context and signature inherited from the wrapper)."""
        if not url or url.lower().startswith(("javascript:", "data:", "mailto:", "about:", "blob:")):
            return
        chain: dict[str, Sighting] = {}
        top = self._put(Sighting(url, found_in, where, download, legit_context(url), signed_info(url), None, frame))
        chain[url] = top
        for inner, wrapper in unwrap(url):
            parent = chain.get(wrapper, top)
            chain[inner] = self._put(
                Sighting(
                    inner, found_in, where + "<unwrapped", download, legit_context(inner) or parent.legit,
                    signed_info(inner) or parent.signed, wrapper, frame,
                )
            )  # fmt: skip

    def _put(self, s: Sighting) -> Sighting:
        key = (s.url, s.found_in)
        old = self._seen.get(key)
        if old is not None:
            old.download = old.download or s.download
            if s.legit is None:  # legitimate only while every sighting of it is
                old.legit = None
            return old
        if len(self.sightings) < MAX_SIGHTINGS:
            self._seen[key] = s
            self.sightings.append(s)
        return s


def legit_context(url: str) -> str | None:
    """The §4 legitimate context a URL itself establishes: widget, oEmbed, podcast feed or official SDK."""
    host = host_of(url)
    if host in WIDGET_HOSTS:
        return "widget"
    if host == "connect.soundcloud.com":
        return "sdk"
    if host == "feeds.soundcloud.com":
        return "podcast"
    if host in ("soundcloud.com", "www.soundcloud.com", "m.soundcloud.com") and "/oembed" in url[:64].lower():
        return "oembed"
    return None


def from_sc_frame(frame_url: str | None) -> bool:
    """Requests made from (or documents held by) a SoundCloud frame, e.g. the w.soundcloud.com widget."""
    return bool(frame_url) and is_soundcloud_host(host_of(frame_url or ""))


def is_code_host(host: str) -> bool:
    """A source-code hosting site (GitHub, GitLab, npm, Bitbucket, Codeberg…)."""
    return host in CODE_HOSTS or host.endswith((".githubusercontent.com", ".gitlab.com", ".bitbucket.org"))


def _kind(res: Resource, head: str) -> str:
    """How to read a resource: the crawler's kind first, then content type, path and the body's first bytes."""
    ctype = (res.content_type or "").lower()
    path = res.url.split("?", 1)[0].lower()
    if res.kind == "playlist" or "mpegurl" in ctype or head.startswith("#EXTM3U"):
        return "playlist"
    if res.kind == "audio" or ctype.startswith("audio/"):
        return "audio"
    if res.kind == "page":
        return "script" if ctype.startswith("text/plain") else "html"
    if res.kind == "script" or "javascript" in ctype or "json" in ctype:
        return "script"
    if "html" in ctype or "xml" in ctype:
        return "html"
    if path.endswith(".m3u8"):
        return "playlist"
    return "html" if head.lstrip().startswith("<") else "script"


def _read_resource(ctx: PageContext, res: Resource) -> None:
    url = absolutise(str(res.url or ""), ctx.page_url)
    frame = res.frame_url or None
    ctx.add(url, url, f"resource:{res.kind}", frame=frame)
    for inner, where in header_urls(res.headers, url):
        ctx.add(inner, url, where, frame=frame)
    _attachments(ctx, url, res.headers)
    body = res.body if isinstance(res.body, bytes | bytearray) else b""
    head = decode_body(body[:64], 64).lstrip("\ufeff")
    kind = _kind(res, head)
    ctx.served.append(Served(url, res.content_type or "", res.status, kind))
    if is_soundcloud_host(host_of(url)):
        return  # SoundCloud's own bytes (widget api.js, SDK, bundles) are not third-party content
    if kind == "audio" or (looks_binary(body) and kind != "playlist"):
        if kind == "audio" or res.tags is not None:
            tags = res.tags or read_tags(bytes(body), filename=url.split("?", 1)[0], content_type=res.content_type)
            ctx.audio.append((url, tags))
        return
    text = decode_body(body)
    if kind == "playlist":
        ctx.playlists.append((url, text))
        for inner, where in m3u8_urls(text, url):
            ctx.add(inner, url, where, frame=frame)
        return
    if kind == "html":
        facts = read_html(text, url)
        ctx.html.append((url, facts))
        ctx.track_ids.update(facts.track_ids)
        ctx.download_names.extend((url, name) for name in facts.download_names)
        for item in facts.urls:
            ctx.add(item.url, url, item.where, download=item.download, frame=frame)
        if facts.parse_error:
            for inner in urls_in_text(text, url):
                ctx.add(inner, url, "text", frame=frame)
        for script in facts.scripts:
            _evaluate_script(ctx, url, script, frame)
        if res.kind == "page":
            _document(ctx, url, text, facts, res.content_type or "", head)
    else:
        for inner in urls_in_text(text, url, limit=MAX_URLS):
            ctx.add(inner, url, "script", frame=frame)
        if "json" not in (res.content_type or "").lower():
            _evaluate_script(ctx, url, text, frame)
        if res.kind == "page":
            _document(ctx, url, text, None, res.content_type or "", head)
    ctx.texts.append(Text(url, kind, unescape_js(text)))


def _document(ctx: PageContext, url: str, text: str, facts: HtmlFacts | None, ctype: str, head: str) -> None:
    if facts is not None and ("html" in ctype.lower() or head.lstrip().startswith("<")):
        heads = "\n".join([facts.title, *facts.headings])
        ctx.documents.append(Document(url, text, heads + "\n" + facts.text, heads, True))
        return
    # a CSV, JSONL or Markdown page (the crawler calls every top-level document a page): '#' lines are headings
    heads = "\n".join(line for line in text[:MAX_HEAD_CHARS].splitlines() if line.startswith("#"))
    ctx.documents.append(Document(url, text, text, heads, False))


def _evaluate_script(ctx: PageContext, url: str, script: str, frame: str | None) -> None:
    """What a script builds from constants (``jseval``) joins the page as a text and URL sightings of its own,
    so a client_id or media URL hidden behind concatenation, atob… meets the same signatures as a literal."""
    if not script.strip() or ctx.eval_bytes + len(script) > MAX_EVAL_BYTES:
        return
    ctx.eval_bytes += len(script)
    derived = resolve_script(script)
    if derived:
        for inner in urls_in_text(derived, url, limit=MAX_URLS):
            ctx.add(inner, url, "script-eval", frame=frame)
        ctx.texts.append(Text(url, "script", derived))


def _attachments(ctx: PageContext, url: str, headers) -> None:
    for value in header_values(headers, "content-disposition"):
        name = disposition_filename(value)
        if value.strip().lower().startswith("attachment") or name:
            ctx.attachments.append((url, name or "(attachment)"))


def _read_request(ctx: PageContext, req: NetworkRequest) -> None:
    url = absolutise(str(req.url or ""), ctx.page_url)
    frame = None if req.is_main_frame else (req.frame_url or "(subframe)")
    ctx.add(url, url, "request", frame=frame)
    for inner, where in header_urls(req.headers, url):
        ctx.add(inner, url, where, frame=frame)
    _attachments(ctx, url, req.headers)
    ctype = (req.content_type or "").lower()
    kind = "audio" if ctype.startswith("audio/") else "playlist" if "mpegurl" in ctype else req.resource_type or ""
    ctx.served.append(Served(url, req.content_type or "", req.status, kind))


def _looks_like_code_view(ctx: PageContext, resources: Sequence[Resource]) -> bool:
    for url, facts in ctx.html:
        if url == ctx.page_url and (facts.code_markers >= 5 or facts.site_name.strip().lower() in CODE_SITE_NAMES):
            return True
    for res in resources:
        if canonical_url(str(res.url or "")) == ctx.page_url and res.kind == "page":
            ctype = (res.content_type or "").split(";", 1)[0].strip()
            if _SOURCE_TYPES.match(ctype) and _SOURCE_EXT.search(ctx.page_url.split("?", 1)[0]):
                return True
    return False


def build_context(
    page_url: str, resources: Sequence[Resource], requests: Sequence[NetworkRequest], now: float, site_host: str | None
) -> PageContext | None:
    """Gather one page's evidence; None when the page is SoundCloud's own (not a third party)."""
    page_url = canonical_url(str(page_url or ""))
    host = (site_host or host_of(page_url) or "").lower()
    if is_soundcloud_host(host) or is_soundcloud_host(host_of(page_url)):
        return None
    ctx = PageContext(page_url, host, now)
    ctx.add(page_url, page_url, "page-url")
    for res in list(resources)[:MAX_RESOURCES]:
        if not isinstance(res, Resource) or from_sc_frame(res.frame_url):
            continue  # held by the SoundCloud widget frame: SoundCloud's traffic, not the page's
        _read_resource(ctx, res)
    for req in list(requests)[:MAX_REQUESTS]:
        if not isinstance(req, NetworkRequest) or from_sc_frame(req.frame_url):
            continue
        _read_request(ctx, req)
    ctx.tooling = is_code_host(host_of(page_url)) or is_code_host(host) or _looks_like_code_view(ctx, resources)
    return ctx
