"""Really Simple Licensing: robots.txt `License:` lines and the RSL XML document (parsed without DTDs/entities)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import defusedxml.ElementTree as SafeET

from monitor.policy.robots import longest_matches, path_key, path_of, pattern_of
from monitor.policy.signals._text import strip_comment
from monitor.policy.signals.groups import GroupLine, coerce_lines
from monitor.policy.signals.model import RSL_USAGE_KEYS, Lint, Source, UsagePrefs, decisions_for

NS = "https://rslstandard.org/rsl"
MAX_XML_BYTES = 1024 * 1024
MAX_CONTENTS = 1000
_SPLIT = re.compile(r"[\s,]+")


@dataclass(frozen=True)
class LicenseRef:
    """A robots.txt License: URL (global, whatever group it sits in)."""

    line: int
    url: str


@dataclass(frozen=True)
class RSLLicense:
    """One <license>: tokens per permits/prohibits type ("usage", "user", "geo") and payment types."""

    permits: tuple[tuple[str, tuple[str, ...]], ...]
    prohibits: tuple[tuple[str, tuple[str, ...]], ...]
    payments: tuple[str, ...]

    def permitted(self, kind: str = "usage") -> tuple[str, ...]:
        """Tokens permitted for kind."""
        return tuple(t for k, toks in self.permits if k == kind for t in toks)

    def prohibited(self, kind: str = "usage") -> tuple[str, ...]:
        """Tokens prohibited for kind."""
        return tuple(t for k, toks in self.prohibits if k == kind for t in toks)


@dataclass(frozen=True)
class RSLContent:
    """One <content url=...> with its optional license server and licenses."""

    url: str
    server: str | None
    licenses: tuple[RSLLicense, ...]
    host: str = ""  # lower-case host of a full-URL content url, "" for a path pattern
    pattern: str = ""  # the url's path pattern in normal form, what is matched


@dataclass(frozen=True)
class RSLDocument:
    """A parsed RSL document; contents is empty when it could not be parsed."""

    contents: tuple[RSLContent, ...]
    errors: tuple[Lint, ...]

    def matching(self, url_or_path: str) -> tuple[RSLContent, ...]:
        """Contents whose url matches (RFC 9309 matching); the longest pattern wins, equal lengths all apply."""
        target_host = _host(url_or_path)
        candidates = ((c.pattern, c) for c in self.contents if not (c.host and target_host and c.host != target_host))
        return tuple(longest_matches(candidates, path_key(url_or_path)))

    def usage_for(self, url_or_path: str) -> UsagePrefs:
        """permits type=usage -> yes, prohibits -> no, for the matching content.

        A permit may still require payment or a license server (see RSLContent.server / payments); only
        explicitly listed tokens are mapped, nothing is inferred for unlisted usages.
        """
        decisions = []
        for c in self.matching(url_or_path):
            for lic in c.licenses:
                detail = f"content {c.url}" + (f" payment={','.join(lic.payments)}" if lic.payments else "")
                src = Source("rsl", None, detail)
                for tok in lic.permitted("usage"):
                    decisions.extend(decisions_for(tok, "yes", src, RSL_USAGE_KEYS))
                for tok in lic.prohibited("usage"):
                    decisions.extend(decisions_for(tok, "no", src, RSL_USAGE_KEYS))
        return UsagePrefs(tuple(decisions))


def _host(url: str) -> str:
    if "://" not in url[:16]:
        return ""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def parse_license_lines(items: Iterable[GroupLine | tuple] | None) -> tuple[tuple[LicenseRef, ...], tuple[Lint, ...]]:
    """License: values as (line, value[, agents]); the URL must be absolute, and the line is global."""
    refs: list[LicenseRef] = []
    errors: list[Lint] = []
    for gl in coerce_lines(items):
        url = strip_comment(gl.value)
        try:
            parts = urlsplit(url)
            ok = parts.scheme in ("http", "https") and bool(parts.netloc)
        except ValueError:
            ok = False
        if not ok:
            errors.append(Lint("not-absolute", f"License value {url[:80]!r} is not an absolute http(s) URL", gl.line))
            continue
        refs.append(LicenseRef(gl.line, url))
    return tuple(refs), tuple(errors)


def _local(tag: object) -> tuple[str, str]:
    if not isinstance(tag, str):
        return "", ""
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def _tokens(text: str | None) -> tuple[str, ...]:
    return tuple(t.lower() for t in _SPLIT.split(text or "") if t)


def parse_rsl(xml: str | bytes | None) -> RSLDocument:
    """Parse an RSL document safely: DTDs, entities and external references are refused, never expanded."""
    data = xml or b""
    if len(data) > MAX_XML_BYTES:
        return RSLDocument((), (Lint("too-large", f"RSL document over {MAX_XML_BYTES} bytes; not parsed"),))
    try:
        root = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except Exception as e:  # defusedxml, expat and encoding errors all mean "unusable document"
        return RSLDocument((), (Lint("xml", f"{type(e).__name__}: {str(e)[:120]}"),))
    errors: list[Lint] = []
    ns, local = _local(root.tag)
    if local != "rsl":
        errors.append(Lint("root", f"root element is <{local}>, expected <rsl>"))
    if ns != NS:
        errors.append(Lint("namespace", f"namespace {ns or '(none)'!r}, expected {NS!r}; parsed anyway"))
    contents: list[RSLContent] = []
    for el in root:
        if _local(el.tag)[1] != "content":
            continue
        if len(contents) >= MAX_CONTENTS:
            errors.append(Lint("too-many", f"more than {MAX_CONTENTS} <content> elements; rest ignored"))
            break
        url = (el.get("url") or "").strip()
        if not url:
            errors.append(Lint("content-url", "<content> without url; skipped"))
            continue
        licenses = []
        for lic in el:
            if _local(lic.tag)[1] != "license":
                continue
            permits: list[tuple[str, tuple[str, ...]]] = []
            prohibits: list[tuple[str, tuple[str, ...]]] = []
            payments: list[str] = []
            for term in lic:
                name = _local(term.tag)[1]
                kind = (term.get("type") or "usage").strip().lower()
                if name == "permits":
                    permits.append((kind, _tokens(term.text)))
                elif name == "prohibits":
                    prohibits.append((kind, _tokens(term.text)))
                elif name == "payment":
                    payments.append(kind)
            licenses.append(RSLLicense(tuple(permits), tuple(prohibits), tuple(payments)))
        unknown = {t for lic in licenses for t in lic.permitted() + lic.prohibited() if t not in RSL_USAGE_KEYS}
        if unknown:
            errors.append(Lint("usage-token", f"unknown usage tokens {sorted(unknown)[:10]} in content {url[:80]!r}"))
        host = _host(url)
        pattern = pattern_of(path_of(url) if host else url)
        contents.append(RSLContent(url, el.get("server"), tuple(licenses), host, pattern))
    return RSLDocument(tuple(contents), tuple(errors))
