"""What a watched page refers to: links, scripts, media and sitemap entries, each with the kind to fetch it as."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import lxml.html
from scrapy.http import Response, TextResponse
from scrapy.utils.sitemap import Sitemap

from spiders.watch_scope import embeds_soundcloud_media

AUDIO_EXTENSIONS = (".mp3", ".m4a", ".opus", ".ogg", ".oga", ".flac", ".wav", ".aac")
PLAYLIST_EXTENSIONS = (".m3u8",)
# A hostile page may carry millions of links; the crawl only ever needs its first few.
MAX_REFERENCES_PER_PAGE = 2000
MAX_SITEMAP_ENTRIES = 10_000


@dataclass(frozen=True)
class Reference:
    """A URL found in a page and the kind of resource it is fetched as."""

    url: str
    kind: str  # 'page' | 'script' | 'playlist' | 'audio' | 'sitemap'


def _path(url: str) -> str:
    try:
        return urlsplit(url).path.lower()
    except ValueError:
        return ""


def kind_of_link(url: str, *, download: bool = False) -> str:
    """The kind an ``<a href>`` is fetched as: audio files (or ``<a download>``), playlists, else pages.

    A link that hands a SoundCloud media URL to the site (``/dl.php?u=https://cf-media.sndcdn.com/…``)
    is a proxied download: only its head is fetched, like any audio file.
    """
    path = _path(url)
    if path.endswith(PLAYLIST_EXTENSIONS):
        return "playlist"
    if download or path.endswith(AUDIO_EXTENSIONS) or embeds_soundcloud_media(url):
        return "audio"
    return "page"


def kind_of_media(url: str) -> str:
    """The kind an ``<audio>``/``<video>``/``<source>`` src is fetched as."""
    return "playlist" if _path(url).endswith(PLAYLIST_EXTENSIONS) else "audio"


def is_html(response: Response) -> bool:
    """True for a text response whose type (or sniffed body) is HTML or XHTML."""
    if not isinstance(response, TextResponse):
        return False
    content_type = response.headers.get(b"Content-Type", b"").decode("latin-1").lower()
    if "html" in content_type:
        return True
    return not content_type and response.body[:512].lstrip().lower().startswith((b"<!doctype html", b"<html"))


def page_references(response: TextResponse) -> list[Reference]:
    """Every URL an HTML page refers to that a watch crawl may fetch, absolute, in document order.

    Never raises: a page too broken to parse simply refers to nothing. libxml2 gives up on elements nested more
    than 2,048 deep and drops the rest of the document, so a page nested that deep (a browser shows it all) is
    read again with the signature engine's linear tokenizer instead.
    """
    try:
        root, too_deep = _tree(response)
        if too_deep:
            return _token_references(response)
        return _tree_references(response, root)
    except Exception:  # lxml on binary garbage, a selector on a non-text body: nothing to follow
        return []


def _tree(response: TextResponse) -> tuple[Any, bool]:
    """The document's lxml tree (as parsel builds it) and whether libxml2 stopped at its nesting limit."""
    parser = lxml.html.HTMLParser(recover=True, huge_tree=True, encoding="utf-8")
    body = response.text.strip().replace("\x00", "").encode("utf-8") or b"<html/>"
    root = lxml.html.document_fromstring(body, parser=parser)
    return root, any("Excessive depth" in error.message for error in parser.error_log)


def _tree_references(response: TextResponse, root: Any) -> list[Reference]:
    found: list[Reference] = []
    for element in root.xpath("//a[@href] | //area[@href] | //script[@src] | //iframe[@src] | //frame[@src]"):
        if len(found) >= MAX_REFERENCES_PER_PAGE:
            break
        found.extend(_element_reference(response, element))
    for src in root.xpath("//audio/@src | //video/@src | //audio//source/@src | //video//source/@src"):
        if len(found) >= MAX_REFERENCES_PER_PAGE:
            break
        url = _absolute(response, str(src))
        if url:
            found.append(Reference(url, kind_of_media(url)))
    return found


_TOKEN_KINDS = {"a[href]": "link", "area[href]": "link", "script[src]": "script", "iframe[src]": "page"}
_TOKEN_KINDS |= {"frame[src]": "page", "audio[src]": "media", "video[src]": "media", "source[src]": "media"}


def _token_references(response: TextResponse) -> list[Reference]:
    from monitor.signatures.htmlfacts import read_html  # linear on hostile markup; only needed for such pages

    found: list[Reference] = []
    for seen in read_html(response.text, response.url).urls:
        if len(found) >= MAX_REFERENCES_PER_PAGE:
            break
        kind = _TOKEN_KINDS.get(seen.where)
        url = _absolute(response, seen.url) if kind else None
        if not url:
            continue
        if kind == "link":
            kind = kind_of_link(url, download=seen.download)
        elif kind == "media":
            kind = kind_of_media(url)
        found.append(Reference(url, kind))
    return found


def _element_reference(response: TextResponse, element: Any) -> Iterator[Reference]:
    tag = str(element.tag).lower()
    attrib = element.attrib
    if tag in ("a", "area"):
        url = _absolute(response, attrib.get("href"))
        if url:
            yield Reference(url, kind_of_link(url, download="download" in attrib))
    elif tag == "script":
        url = _absolute(response, attrib.get("src"))
        if url:
            yield Reference(url, "script")
    elif tag in ("iframe", "frame"):
        url = _absolute(response, attrib.get("src"))
        if url:
            yield Reference(url, "page")


def _absolute(response: TextResponse, value: str | None) -> str | None:
    value = (value or "").strip()
    if not value or value.startswith("#"):
        return None
    with contextlib.suppress(ValueError):
        url = response.urljoin(value)
        if urlsplit(url).scheme in ("http", "https"):
            return url.split("#", 1)[0]
    return None


def sitemap_references(response: Response) -> list[Reference]:
    """Entries of a sitemap (pages) or sitemap index (further sitemaps); [] for anything that is not one."""
    try:
        sitemap = Sitemap(response.body)
        kind = "sitemap" if sitemap.type == "sitemapindex" else "page" if sitemap.type == "urlset" else None
        if kind is None:
            return []
        found = []
        for entry in sitemap:
            if len(found) >= MAX_SITEMAP_ENTRIES:
                break
            url = _absolute_loc(response, entry.get("loc"))
            if url:
                found.append(Reference(url, kind))
        return found
    except Exception:  # not XML, or XML that is not a sitemap
        return []


def _absolute_loc(response: Response, loc: str | None) -> str | None:
    loc = (loc or "").strip()
    with contextlib.suppress(ValueError):
        url = response.urljoin(loc) if loc else ""
        if urlsplit(url).scheme in ("http", "https"):
            return url
    return None
