"""HTML facts for the signature engine, read with the stdlib ``html.parser``: URLs from every attribute, inline
scripts, visible text, title and headings, form inputs, download controls, track-id attributes and code-view markers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from monitor.signatures.normalise import MAX_URLS, absolutise, urls_in_text

MAX_TEXT_CHARS = 256 * 1024
FEED_CHARS = 64 * 1024
CLOSE_CHARS = 8 * 1024
_BARE_LT = re.compile(r"<(?![A-Za-z/!?])")
MAX_INPUTS = 200
MAX_HEADINGS = 50
_URL_ATTRS = frozenset(
    {"href", "src", "action", "formaction", "poster", "cite", "background", "data", "codebase", "manifest"}
    | {"longdesc", "xlink:href", "url", "icon", "archive", "data-src", "data-href", "data-url", "data-file"}
)
_LIST_ATTRS = frozenset({"srcset", "imagesrcset", "data-srcset"})
_INPUT_KEYS = ("type", "name", "placeholder", "value", "aria-label", "title", "id", "pattern")
_URLISH = re.compile(r"(?i)://|%3A%2F|soundcloud\.|sndcdn\.")
_CODE_CLASSES = re.compile(
    r"(?i)\b(?:blob-code(?:-inner)?|blob-num|js-file-line|react-code-text|react-code-line-contents|react-file-line"
    r"|hljs-ln-code|CodeMirror-line|cm-line|line_content|code-line|source-line)\b"
)
_DOWNLOADISH = re.compile(r"(?i)download|\bdl\b")
_TRACK_ID_ATTR = re.compile(r"(?i)^data-(?:sc-)?(?:track-?id|track|sound-?id|sc-?id|id)$")
_SITE_NAME_KEYS = {"og:site_name", "application-name", "apple-mobile-web-app-title"}


@dataclass
class HtmlUrl:
    """A URL found in a document, where it was (``a[href]``, ``script``, ``text``…) and whether it is a
    download control (``<a download>``, or an anchor labelled/classed "download")."""

    url: str
    where: str
    download: bool = False


@dataclass
class HtmlFacts:
    """What :func:`read_html` found in one document."""

    urls: list[HtmlUrl] = field(default_factory=list)
    scripts: list[str] = field(default_factory=list)
    text: str = ""
    title: str = ""
    headings: list[str] = field(default_factory=list)
    inputs: list[dict[str, str]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    form_texts: list[str] = field(default_factory=list)
    download_names: list[str] = field(default_factory=list)
    track_ids: list[str] = field(default_factory=list)
    code_markers: int = 0
    site_name: str = ""
    parse_error: str = ""


class _Reader(HTMLParser):
    def __init__(self, base: str):
        super().__init__(convert_charrefs=True)
        self.base = base
        self.f = HtmlFacts()
        self._text: list[str] = []
        self._text_len = 0
        self._script: list[str] | None = None
        self._skip_text = 0  # inside <style>
        self._title: list[str] | None = None
        self._anchor: tuple[HtmlUrl | None, list[str]] | None = None
        self._forms: list[list[str]] = []
        self._label: list[str] | None = None
        self._heading: list[str] | None = None

    def _add(self, url: str, where: str, download: bool = False) -> HtmlUrl | None:
        if len(self.f.urls) >= MAX_URLS or not url.strip():
            return None
        item = HtmlUrl(absolutise(url, self.base), where, download)
        self.f.urls.append(item)
        return item

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        tag = tag.lower()
        amap = {k.lower(): (v or "") for k, v in attrs[:64] if k}
        download = tag == "a" and "download" in amap
        if download and amap["download"]:
            self.f.download_names.append(amap["download"][:1024])
        hint = " ".join(amap.get(k, "") for k in ("class", "id", "title", "aria-label"))
        download = download or (tag == "a" and bool(_DOWNLOADISH.search(hint)))
        first_link: HtmlUrl | None = None
        for name, value in amap.items():
            value = value.strip()
            if not value:
                continue
            where = f"{tag}[{name}]"
            if name in _URL_ATTRS and not value.lower().startswith(("javascript:", "data:", "mailto:", "#")):
                item = self._add(value, where, download and name == "href")
                first_link = first_link or item
            elif name in _LIST_ATTRS:
                for cand in value.split(",")[:32]:
                    if cand.strip():
                        self._add(cand.strip().split()[0], where)
            elif name.startswith("data-") and value.startswith("/") and not value.startswith("//") and " " not in value:
                self._add(value, where)
            elif _URLISH.search(value):
                for url in urls_in_text(value, self.base, limit=64):
                    self._add(url, where, download)
            if _TRACK_ID_ATTR.match(name) and value.isdigit() and len(value) <= 12:
                self.f.track_ids.append(value)
        if _CODE_CLASSES.search(amap.get("class", "")):
            self.f.code_markers += 1
        if tag == "meta" and (amap.get("property", "") or amap.get("name", "")).lower() in _SITE_NAME_KEYS:
            self.f.site_name = self.f.site_name or amap.get("content", "")[:200]
        if tag in ("input", "textarea") and len(self.f.inputs) < MAX_INPUTS:
            self.f.inputs.append({k: amap[k][:1024] for k in _INPUT_KEYS if k in amap})
            for form in self._forms:
                form.append(" ".join(amap.get(k, "") for k in ("placeholder", "value", "aria-label", "name")))
        if tag == "form":
            self._forms.append([amap.get("action", "")])
        elif tag == "script":
            self._script = []
        elif tag == "style":
            self._skip_text += 1
        elif tag == "title":
            self._title = []
        elif tag == "label":
            self._label = []
        elif tag in ("h1", "h2", "h3") and len(self.f.headings) < MAX_HEADINGS:
            self._heading = []
        elif tag == "a":
            self._anchor = (first_link, [])
        elif tag == "button":
            for form in self._forms:
                form.append(hint)

    def handle_endtag(self, tag: str) -> None:
        tag = tag.lower()
        if tag == "script" and self._script is not None:
            self.f.scripts.append("".join(self._script))
            self._script = None
        elif tag == "style":
            self._skip_text = max(0, self._skip_text - 1)
        elif tag == "title" and self._title is not None:
            self.f.title = " ".join("".join(self._title).split())[:500]
            self._title = None
        elif tag in ("h1", "h2", "h3") and self._heading is not None:
            self.f.headings.append(" ".join("".join(self._heading).split())[:300])
            self._heading = None
        elif tag == "label" and self._label is not None:
            self.f.labels.append(" ".join("".join(self._label).split())[:500])
            self._label = None
        elif tag == "a" and self._anchor is not None:
            item, words = self._anchor
            if item is not None and _DOWNLOADISH.search("".join(words)[:200]):
                item.download = True
            self._anchor = None
        elif tag == "form" and self._forms:
            self.f.form_texts.append(" ".join(" ".join(self._forms.pop()).split())[:4000])

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._script.append(data)
            return
        if self._skip_text:
            return
        if self._title is not None:
            self._title.append(data)
        if self._label is not None:
            self._label.append(data)
        if self._heading is not None:
            self._heading.append(data)
        if self._anchor is not None:
            self._anchor[1].append(data)
        if self._forms and len(self._forms[-1]) < 400:
            self._forms[-1].append(data)
        if self._text_len < MAX_TEXT_CHARS:
            chunk = data[: MAX_TEXT_CHARS - self._text_len]
            self._text.append(chunk)
            self._text_len += len(chunk)

    def handle_comment(self, data: str) -> None:
        for url in urls_in_text(data, self.base, limit=256):
            self._add(url, "comment")

    def finish(self) -> HtmlFacts:
        if self._script is not None:  # unterminated <script>: keep what was read
            self.f.scripts.append("".join(self._script))
        while self._forms:
            self.f.form_texts.append(" ".join(" ".join(self._forms.pop()).split())[:4000])
        self.f.text = " ".join(" ".join(self._text).split())
        return self.f


def read_html(text: str, base: str) -> HtmlFacts:
    """Parse ``text`` (already bounded by the caller) into :class:`HtmlFacts`; never raises.

    URLs are gathered from every attribute (URL attributes resolved against ``base``, other attributes only when
    they hold something URL-like), from inline scripts and JSON, from comments and from visible text. When the
    parser gives up half-way (or the document ends inside more than 8 KiB of unterminated markup) the facts read
    so far are kept, the rest is searched for URLs as plain text, and ``parse_error`` says why. Work is linear in
    the size of ``text``.
    """
    reader = _Reader(base)
    try:
        # Python 3.11's parser advances one character at a time through unterminated markup when closing, which is
        # quadratic; fed in chunks it only waits. So: feed, and close only when what is left is small.
        text = _BARE_LT.sub("&lt;", text)  # a '<' that cannot open markup is text; one call per run, not per '<'
        pos = 0
        while pos < len(text):
            # a construct still open is re-parsed on every feed: grow the chunk with it so the total stays linear
            size = max(FEED_CHARS, len(reader.rawdata))
            reader.feed(text[pos : pos + size])
            pos += size
        rest = reader.rawdata
        if reader.cdata_elem and reader._script is not None:
            reader._script.append(rest)  # unterminated <script>: its text never reaches handle_data
        elif len(rest) <= CLOSE_CHARS:
            reader.close()
        else:
            reader.f.parse_error = f"unterminated markup: the last {len(rest)} characters were read as plain text"
            for url in urls_in_text(rest, base):
                reader._add(url, "text")
    except Exception as exc:  # html.parser can still assert on some malformed markup
        reader.f.parse_error = f"{type(exc).__name__}: {str(exc)[:200]}"
    facts = reader.finish()
    for script in facts.scripts:
        for url in urls_in_text(script, base, limit=MAX_URLS):
            if len(facts.urls) >= MAX_URLS:
                break
            facts.urls.append(HtmlUrl(url, "script"))
    for url in urls_in_text(facts.text, base, limit=512):
        if len(facts.urls) >= MAX_URLS:
            break
        facts.urls.append(HtmlUrl(url, "text"))
    return facts
