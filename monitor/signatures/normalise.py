"""§3.3 normalisation: URLs out of text, JS/JSON, m3u8 and headers; wrapped URLs unwrapped; CloudFront policies decoded.

Everything here is pure, bounded and never raises on bad input. Bodies are decoded from at most ``MAX_SCAN_BYTES``
(the first 2 MiB); anything after that is not looked at. Per resource at most ``MAX_URLS`` URLs are kept, each cut
to ``MAX_URL_CHARS``; unwrapping goes at most ``MAX_DEPTH`` levels deep. HTML attributes are read by
:mod:`monitor.signatures.htmlfacts`, which hands attribute values back to :func:`urls_in_text`.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import re
from collections.abc import Iterable, Iterator, Mapping
from urllib.parse import parse_qsl, unquote, urljoin, urlsplit, urlunsplit

from monitor.net import host_of, is_soundcloud_host
from monitor.signatures.cloudfront import Policy, Signed, decode_policy, signed_info

MAX_SCAN_BYTES = 2 * 1024 * 1024
MAX_URL_CHARS = 8192
MAX_URLS = 4000
MAX_DEPTH = 2
MAX_PARAMS = 32
__all__ = [  # CloudFront decoding (cloudfront.py) is part of §3.3 too, so it is re-exported here
    "MAX_DEPTH",
    "MAX_SCAN_BYTES",
    "MAX_URLS",
    "MAX_URL_CHARS",
    "Policy",
    "Signed",
    "absolutise",
    "canonical_host",
    "canonical_url",
    "decode_body",
    "decode_policy",
    "disposition_filename",
    "header_urls",
    "header_values",
    "host_of",
    "inner_urls",
    "is_soundcloud_host",
    "looks_binary",
    "m3u8_urls",
    "param",
    "query_params",
    "signed_info",
    "unescape_js",
    "unwrap",
    "urls_in_text",
]

# bounded label repetition keeps every search over a 2 MiB body linear
_SC_BARE = r"(?:[a-z0-9-]{1,63}\.){0,6}(?:soundcloud\.com|sndcdn\.com|soundcloud\.cloud|soundcloud\.app\.goo\.gl)"
_URL_CHARS = r"[^\s\"'<>`\\{}|^]"
_ABS_URL = re.compile(rf"(?i)\bhttps?://{_URL_CHARS}+")
_ENC_URL = re.compile(r"(?i)\bhttps?(?::|%3A)(?:/|%2F){2}[^\s\"'<>`\\{}|^&]+")
_BARE_SC = re.compile(rf"(?i)(?<![\w.@%:/-])(?://)?{_SC_BARE}/{_URL_CHARS}*")
_JS_ESCAPE = re.compile(r"\\(?:u00([0-7][0-9a-fA-F])|x([0-7][0-9a-fA-F])|(/))")
_ENTITY = re.compile(r"&(?:amp|#0*38|#x0*26);", re.I)
_TRAILING = ".,;:!?)]}'\""
_B64ISH = re.compile(r"[A-Za-z0-9+/_~-]{16,}={0,2}")
_PATH_URL = re.compile(rf"(?i)(?<=/)((?:https?(?::|%3A)(?:/|%2F){{1,2}})?{_SC_BARE}(?:/|%2F).*)")
_POLICY_PARAMS = frozenset({"policy", "signature", "key-pair-id"})
_M3U8_URI = re.compile(r'URI="([^"]*)"|URI=([^,\s]+)', re.I)
_LINK = re.compile(r"<([^>]{1,8192})>")
_FILENAME = re.compile(r"""(?i)filename\*?\s*=\s*(?:UTF-8'[^']*')?("([^"]*)"|[^;]+)""")


def decode_body(body: bytes | bytearray | str | None, limit: int = MAX_SCAN_BYTES) -> str:
    """Decode at most ``limit`` bytes as UTF-8 (bad bytes replaced, NULs dropped); never raises."""
    if body is None:
        return ""
    text = body[:limit] if isinstance(body, str) else bytes(body[:limit]).decode("utf-8", "replace")
    return text.replace("\x00", "")


def looks_binary(body: bytes | bytearray | None) -> bool:
    """True when the first KiB holds NUL bytes (audio, images): not worth scanning as text."""
    return bool(body) and b"\x00" in bytes(body[:1024])


def unescape_js(text: str) -> str:
    r"""Undo the JS/JSON escapes that hide URLs: ``\/``, ``\u002F`` (any ASCII ``\u00XX``) and ``\xXX``."""
    if "\\" not in text:
        return text

    def repl(m: re.Match) -> str:
        code = m.group(1) or m.group(2)
        return chr(int(code, 16)) if code else "/"

    return _JS_ESCAPE.sub(repl, text)


def canonical_host(host: str) -> str:
    """Lower-case and map ``m.``/``www.soundcloud.com`` to ``soundcloud.com``."""
    host = host.lower().rstrip(".")
    if host in ("m.soundcloud.com", "www.soundcloud.com", "mobi.soundcloud.com"):
        return "soundcloud.com"
    return host


def canonical_url(url: str) -> str:
    """Scheme and host lower-cased, SoundCloud ``m.``/``www.`` mapped, default port dropped; never raises."""
    url = url.strip()[:MAX_URL_CHARS]
    try:
        parts = urlsplit(url)
        host = canonical_host(parts.hostname or "")
        port = parts.port
    except ValueError:
        return url
    if not parts.scheme or not host:
        return url
    scheme = parts.scheme.lower()
    netloc = host if port is None or (scheme, port) in (("http", 80), ("https", 443)) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path, parts.query, parts.fragment))


def absolutise(url: str, base: str | None) -> str:
    """Resolve ``url`` against ``base`` (protocol-relative and relative forms); never raises."""
    url = url.strip()[:MAX_URL_CHARS]
    if url.startswith("//"):
        url = "https:" + url
    if base and not re.match(r"(?i)[a-z][a-z0-9+.-]*:", url):
        try:
            url = urljoin(base, url)
        except ValueError:
            return url
    return canonical_url(url)


def _trim(url: str) -> str:
    url = _ENTITY.sub("&", url)
    while url and url[-1] in _TRAILING:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


def _full_unquote(value: str, levels: int = MAX_DEPTH) -> str:
    for _ in range(levels):
        if "%" not in value:
            break
        value = unquote(value)
    return value


def urls_in_text(text: str, base: str | None = None, limit: int = MAX_URLS) -> list[str]:
    """Absolute, percent-encoded (``https%3A%2F%2F…``) and scheme-less SoundCloud URLs in free text / JS / JSON.

    Encoded or bare URLs lying inside an absolute URL are left to :func:`unwrap`, so a widget URL keeps its
    inner ``url=`` value as part of itself rather than as a separate top-level sighting.
    """
    text = unescape_js(text)
    out: list[str] = []
    spans: list[tuple[int, int]] = []
    for m in _ABS_URL.finditer(text):
        if len(out) >= limit:
            return out
        url = _trim(m.group(0))
        if url.count("/") >= 2 and len(url) > 10:
            spans.append((m.start(), m.end()))
            out.append(absolutise(url, None))
    starts = [s for s, _ in spans]

    def inside(pos: int) -> bool:
        i = bisect.bisect_right(starts, pos) - 1
        return i >= 0 and spans[i][0] <= pos < spans[i][1]

    for m in _ENC_URL.finditer(text):
        if len(out) >= limit:
            return out
        if "%" in m.group(0)[:12] and not inside(m.start()):
            out.append(absolutise(_trim(_full_unquote(m.group(0))), None))
    for m in _BARE_SC.finditer(text):
        if len(out) >= limit:
            return out
        if not inside(m.start()):
            raw = _trim(m.group(0))
            out.append(absolutise(raw if raw.startswith("//") else "https://" + raw, base))
    return out


def query_params(url: str) -> list[tuple[str, str]]:
    """Decoded query parameters (first ``MAX_PARAMS``); [] when unparsable."""
    try:
        query = urlsplit(url[:MAX_URL_CHARS]).query
    except ValueError:
        return []
    if not query:
        return []
    try:
        return parse_qsl(query, keep_blank_values=True)[:MAX_PARAMS]
    except ValueError:
        return []


def param(url: str, name: str) -> str | None:
    """First value of a query parameter, name compared case-insensitively."""
    want = name.lower()
    for key, value in query_params(url):
        if key.lower() == want:
            return value
    return None


def _b64_url(value: str) -> str | None:
    if not _B64ISH.fullmatch(value) or len(value) > MAX_URL_CHARS:
        return None
    s = value.replace("-", "+").replace("_", "/").replace("~", "/")
    try:
        raw = base64.b64decode(s + "=" * (-len(s) % 4), validate=False)
        decoded = raw.decode("ascii")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    decoded = decoded.strip()
    if re.match(r"(?i)https?://[^\s]+$", decoded) or re.match(rf"(?i){_SC_BARE}/\S*$", decoded):
        return decoded
    return None


def _as_url(value: str) -> str | None:
    """A query value (already decoded once by parse_qsl) as a URL; a value that is still wholly percent-encoded
    (``https%3A%2F%2F…``, double-encoded by its writer) is decoded once more. Nested encodings inside the URL are
    left alone: they belong to the next level of :func:`unwrap`."""
    value = value.strip()
    if re.match(r"(?i)(?:https?%3A|%2F%2F)", value):
        value = unquote(value)
    if re.match(r"(?i)https?://\S", value):
        return value
    if value.startswith("//") and len(value) > 3:
        return "https:" + value
    if re.match(rf"(?i){_SC_BARE}/", value):
        return "https://" + value
    return None


def inner_urls(url: str) -> list[str]:
    """URLs carried one level inside ``url``: in query values (percent-decoded up to 2 levels, or base64 when the
    result is a URL) and in the path (``/redirect.mp3/feeds.soundcloud.com/…``, ``/https%3A%2F%2F…``)."""
    out: list[str] = []
    for key, value in query_params(url):
        if key.lower() in _POLICY_PARAMS or len(value) < 8:
            continue
        inner = _as_url(value) or _b64_url(value)
        if inner:
            out.append(canonical_url(inner[:MAX_URL_CHARS]))
    try:
        path = urlsplit(url[:MAX_URL_CHARS]).path
    except ValueError:
        path = ""
    m = _PATH_URL.search(path)
    if m:
        inner = _as_url(m.group(1)) or _as_url("https://" + _full_unquote(m.group(1)))
        if inner:
            out.append(canonical_url(inner))
    return out


def unwrap(url: str, depth: int = MAX_DEPTH) -> list[tuple[str, str]]:
    """``(inner_url, wrapper_url)`` pairs for every URL nested inside ``url``, at most ``depth`` levels deep."""
    out: list[tuple[str, str]] = []
    frontier = [url]
    for _ in range(depth):
        nxt: list[str] = []
        for outer in frontier:
            for inner in inner_urls(outer):
                if inner != outer and len(out) < MAX_PARAMS:
                    out.append((inner, outer))
                    nxt.append(inner)
        frontier = nxt
    return out


def m3u8_urls(text: str, base: str | None) -> list[tuple[str, str]]:
    """``(url, where)`` for every URI in an HLS playlist: ``m3u8:map``/``m3u8:key``/``m3u8:uri`` tag attributes
    and ``m3u8:segment`` lines, resolved against the playlist URL."""
    out: list[tuple[str, str]] = []
    for line in text.splitlines()[: MAX_URLS * 2]:
        line = line.strip()[:MAX_URL_CHARS]
        if not line:
            continue
        if line.startswith("#"):
            tag = line[1:].split(":", 1)[0].upper()
            where = {"EXT-X-MAP": "m3u8:map", "EXT-X-KEY": "m3u8:key", "EXT-X-SESSION-KEY": "m3u8:key"}.get(
                tag, "m3u8:uri"
            )
            for m in _M3U8_URI.finditer(line):
                out.append((absolutise(m.group(1) or m.group(2) or "", base), where))
        else:
            out.append((absolutise(line, base), "m3u8:segment"))
        if len(out) >= MAX_URLS:
            break
    return out


def header_values(headers: Mapping | None, name: str) -> list[str]:
    """All values of a header (case-insensitive name; str or list values); [] on anything odd."""
    if not headers or not isinstance(headers, Mapping):
        return []
    out: list[str] = []
    try:
        items = list(headers.items())[:256]
    except (TypeError, AttributeError):
        return []
    for key, value in items:
        if not isinstance(key, str | bytes) or decode_body(key, 256).strip().lower() != name:
            continue
        values: Iterable = [value] if isinstance(value, str | bytes | bytearray) else value
        try:
            out.extend(decode_body(v, 16 * 1024) for v in list(values)[:64] if isinstance(v, str | bytes | bytearray))
        except TypeError:
            continue
    return out


def disposition_filename(value: str) -> str:
    """The filename of a Content-Disposition value (``filename*=UTF-8''…`` preferred), "" when there is none."""
    found = ""
    for m in _FILENAME.finditer(value[:4096]):
        name = m.group(2) if m.group(2) is not None else m.group(1).strip()
        found = _full_unquote(name, 1) if m.group(0).lower().startswith("filename*") else name
        if m.group(0).lower().startswith("filename*"):
            break
    return found.strip()


def header_urls(headers: Mapping | None, base: str | None) -> Iterator[tuple[str, str]]:
    """``(url, where)`` from Location, Content-Location, Refresh, Link and Content-Disposition headers."""
    for name in ("location", "content-location"):
        for value in header_values(headers, name):
            yield absolutise(value.strip(), base), f"header:{name}"
    for value in header_values(headers, "refresh"):
        m = re.search(r"(?i)url\s*=\s*['\"]?([^'\"\s]+)", value)
        if m:
            yield absolutise(m.group(1), base), "header:refresh"
    for value in header_values(headers, "link"):
        for m in _LINK.finditer(value):
            yield absolutise(m.group(1), base), "header:link"
    for value in header_values(headers, "content-disposition"):
        for url in urls_in_text(value, base, limit=16):
            yield url, "header:content-disposition"
