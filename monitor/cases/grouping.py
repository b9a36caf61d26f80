"""Pure case grouping: which offender an incident is about, which operator evidence it carries, which cases merge.

The offender is the registrable domain (Public Suffix List, private suffixes included, so ``a.github.io`` and
``b.github.io`` are two offenders) of the site the material is on. Operator links (a SoundCloud client_id, an
analytics or ad id, a downloader's relay host) tie two domains to one operator; a value seen on more than a few
domains, on shared infrastructure, or that is a placeholder proves nothing and never links.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from monitor.incidents import Evidence
from monitor.net import host_of, is_soundcloud_host, literal_ip
from monitor.signatures.rules import CLIENT_ID, SC_API_CONTEXT

__all__ = [
    "CASE_KINDS",
    "LINK_KINDS",
    "Link",
    "Merge",
    "is_case_kind",
    "is_placeholder_client_id",
    "offender",
    "operator_links",
    "plan_merges",
    "registrable",
]


@functools.cache
def _extractor(private: bool) -> Any:  # tldextract is imported on first use: it is slow to import
    import tldextract

    # The bundled PSL snapshot only: a lookup must never download anything at run time.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=private)


CASE_KINDS = frozenset(
    {"canary_delivered", "canary_unknown_audio", "archive_audio_capture", "archive_downloader_page", "dataset_listing"}
)
LINK_KINDS = ("client_id", "analytics_id", "relay_host", "ip", "certificate")

# Shared infrastructure (ICANN registrable domains): CDNs, hosting platforms, tag managers, public archives. Two
# sites loading files from these share a vendor, not an operator.
SHARED_INFRA = frozenset({
    "akamai.net", "akamaihd.net", "akamaized.net", "edgekey.net", "edgesuite.net", "fastly.net", "fastlylb.net",
    "cloudfront.net", "amazonaws.com", "cloudflare.com", "cloudflare.net", "workers.dev", "pages.dev", "r2.dev",
    "jsdelivr.net", "unpkg.com", "cdnjs.com", "bootstrapcdn.com", "jquery.com", "fontawesome.com", "b-cdn.net",
    "bunnycdn.com", "azureedge.net", "azurefd.net", "windows.net", "googleapis.com", "gstatic.com",
    "googleusercontent.com", "google.com", "googletagmanager.com", "google-analytics.com", "doubleclick.net",
    "googlesyndication.com", "github.io", "githubusercontent.com", "github.com", "gitlab.io", "vercel.app",
    "netlify.app", "herokuapp.com", "wp.com", "wordpress.com", "facebook.net", "facebook.com", "twitter.com",
    "archive.org", "commoncrawl.org", "huggingface.co", "youtube.com", "ytimg.com",
})  # fmt: skip
# A link value carried by more domains than this is public (SoundCloud's own web client_id scraped by every
# downloader, a theme's analytics id): merging on it would fold unrelated operators into one case.
MAX_LINK_DOMAINS = 5
ANALYTICS_ID = re.compile(r"\b(UA-\d{4,10}-\d{1,4}|G-[A-Z0-9]{8,12}|GTM-[A-Z0-9]{4,9}|ca-pub-\d{10,20})\b")
_TEXT_TYPES = ("html", "javascript", "ecmascript", "json", "text/", "xml")
_PLACEHOLDER_WORDS = ("your", "client", "example", "placeholder", "dummy", "test", "xxxx", "abcdef", "secret")
_MAX_SCAN = 2_000_000


@dataclass(frozen=True)
class Link:
    """Operator evidence: ``value`` of ``kind`` was seen on the offender ``domain``."""

    kind: str
    value: str
    domain: str


@dataclass(frozen=True)
class Merge:
    """Case ``source`` merges into the older case ``into`` because of ``link``."""

    source: int
    into: int
    link: Link


@functools.lru_cache(maxsize=4096)
def registrable(host: str) -> str:
    """The registrable domain of a host or URL (``www.a.example.co.uk`` -> ``example.co.uk``); an address stays
    itself; a name under no public suffix (``.example``, ``.test``, ``.internal``) keeps its last two labels."""
    host = host_of(host) if "/" in host else host.lower().strip().rstrip(".")
    if not host:
        return ""
    if literal_ip(host) is not None:
        return host
    ext = _extractor(True)(host)
    if ext.suffix and ext.domain:
        return f"{ext.domain}.{ext.suffix}"
    return ".".join(host.split(".")[-2:])


@functools.lru_cache(maxsize=4096)
def _shared(host: str) -> bool:
    ext = _extractor(False)(host)
    return bool(ext.suffix) and f"{ext.domain}.{ext.suffix}" in SHARED_INFRA


def is_case_kind(kind: str) -> bool:
    """Exposure, downloader canary, archive and dataset incidents belong to cases; policy and probe health not."""
    return kind.startswith("exposure_") or kind in CASE_KINDS


def offender(kind: str, domain: str, data: Mapping[str, Any]) -> str | None:
    """The case key of an incident: the registrable domain of the site holding the material, ``hub/owner`` for a
    dataset (the hub itself is not the offender), None for incidents that belong to no case (policy, probe
    health, storm summaries, anything on SoundCloud's own hosts)."""
    if not is_case_kind(kind) or data.get("storm"):
        return None
    if kind == "dataset_listing":
        hub = registrable(domain)
        dataset = str(data.get("dataset") or "").strip("/")
        if not hub or not dataset:
            return None
        return f"{hub}/{dataset.split('/', 1)[0].lower()}"
    if kind == "archive_audio_capture":
        key = _capture_site(data.get("captures") or [])
        if key:
            return key
    key = registrable(str(data.get("site") or domain))
    return key if key and not is_soundcloud_host(key) else None


def _capture_site(captures: Iterable[Any]) -> str | None:
    """The site most of an archive group's captures were taken from (ties: the latest capture); None when they
    are all SoundCloud's own CDN, whose copies only the archive serves (the archive is then the offender)."""
    seen: dict[str, tuple[int, str]] = {}
    for c in captures:
        if not isinstance(c, Mapping):
            continue
        host = host_of(str(c.get("url") or ""))
        if not host or is_soundcloud_host(host):
            continue
        site = registrable(host)
        n, latest = seen.get(site, (0, ""))
        seen[site] = (n + 1, max(latest, str(c.get("timestamp") or "")))
    if not seen:
        return None
    return max(sorted(seen), key=lambda s: seen[s])


# ---- operator links ----------------------------------------------------------------------------------------


def is_placeholder_client_id(value: str) -> bool:
    """``xxxxxxxx…``, ``0000…``, ``YOUR_CLIENT_ID…``, ``abcdef0123…``: an example value, not anyone's app."""
    low = value.lower()
    if len(set(low)) < 8 or any(w in low for w in _PLACEHOLDER_WORDS):
        return True
    runs = sum(1 for a, b in itertools.pairwise(low) if ord(b) - ord(a) == 1)
    return runs >= len(low) // 2  # mostly ascending runs: 0123456789abcdef…


def _placeholder_analytics(value: str) -> bool:
    digits = re.sub(r"\D", "", value)  # G-XXXXXXXXXX, UA-00000-0, UA-12345678-1: the documentation's examples
    return not digits or len(set(digits)) == 1 or digits.startswith(("123456", "012345"))


def _texty(e: Evidence) -> bool:
    return e.body is not None and (not e.body_type or any(t in e.body_type.lower() for t in _TEXT_TYPES))


def operator_links(
    site: str,
    kind: str,
    data: Mapping[str, Any],
    evidence: Iterable[Evidence],
    ignored_client_ids: Collection[str] = (),
) -> list[Link]:
    """The operator evidence an incident on offender ``site`` carries: client_ids (with SoundCloud API context,
    never SoundCloud's own, a placeholder or an ignored id), analytics / ad ids in the site's own bodies, and
    relay hosts (another site serving the site's files or the downloader's deliveries; never SoundCloud or shared
    infrastructure). Sorted and distinct."""
    if "/" in site:  # a hub owner: the hub's pages say nothing about the uploader's other sites
        return []
    ignored = {v.lower() for v in ignored_client_ids}
    found: set[Link] = set()
    own: set[str] = set()  # client ids SoundCloud's own resources use (the widget): never operator evidence

    def client_id(value: str, where: str) -> None:
        if is_soundcloud_host(host_of(where)):
            own.add(value)
        elif not is_placeholder_client_id(value) and value.lower() not in ignored:
            found.add(Link("client_id", value, site))

    hosts: list[str] = []
    for e in evidence:
        cid = e.data.get("client_id") if isinstance(e.data, Mapping) else None
        if isinstance(cid, str) and re.fullmatch(r"[A-Za-z0-9]{32}", cid):
            client_id(cid, e.url)
        if kind.startswith(("exposure_", "canary_")):  # an archive's or hub's evidence lists other sites' URLs
            hosts.append(e.url)
        if not _texty(e) or registrable(host_of(e.url)) != site:
            continue
        text = e.body[:_MAX_SCAN].decode("utf-8", "replace")  # type: ignore[index]
        if SC_API_CONTEXT.search(text):
            for m in CLIENT_ID.finditer(text):
                client_id(m.group(1), e.url)
        found.update(Link("analytics_id", v, site) for v in ANALYTICS_ID.findall(text) if not _placeholder_analytics(v))
    if kind.startswith("canary_"):
        hosts += [str(d.get("url") or "") for d in data.get("downloads") or [] if isinstance(d, Mapping)]
    for url in hosts:
        host = host_of(url)
        if not host or is_soundcloud_host(host) or _shared(host) or literal_ip(host) is not None:
            continue
        relay = registrable(host)
        if relay and relay != site:
            found.add(Link("relay_host", relay, site))
    return sorted((link for link in found if not (link.kind == "client_id" and link.value in own)),
                  key=lambda k: (k.kind, k.value))  # fmt: skip


def data_text_links(site: str, data: Mapping[str, Any]) -> list[Link]:
    """Analytics ids named in an incident's data (a finding that quotes the page's tag)."""
    text = json.dumps(data, default=str)[:_MAX_SCAN]
    return sorted({Link("analytics_id", v, site) for v in ANALYTICS_ID.findall(text) if not _placeholder_analytics(v)},
                  key=lambda k: k.value)  # fmt: skip


# ---- merges ------------------------------------------------------------------------------------------------


def plan_merges(case_of: Mapping[str, int], links: Iterable[Link], max_domains: int = MAX_LINK_DOMAINS) -> list[Merge]:
    """The merges that make every set of cases sharing a link value one case (union-find), each younger case
    (higher id) into the oldest of its set, in an order that can be applied one by one. ``case_of`` maps each
    domain to its live case; a relay host that is itself a case's domain links that case too. A value on more
    than ``max_domains`` domains links nothing."""
    by_value: dict[tuple[str, str], list[Link]] = {}
    for link in links:
        by_value.setdefault((link.kind, link.value), []).append(link)
    parent: dict[int, int] = {}

    def root(c: int) -> int:
        while parent.get(c, c) != c:
            parent[c] = parent.get(parent[c], parent[c])
            c = parent[c]
        return c

    out: list[Merge] = []
    for (kind, value), group in sorted(by_value.items()):
        domains = {link.domain for link in group}
        if kind == "relay_host" and value in case_of:
            domains.add(value)
        if len(domains) > max_domains:
            continue
        cases = sorted({case_of[d] for d in domains if d in case_of})
        for c in cases[1:]:
            a, b = root(cases[0]), root(c)
            if a == b:
                continue
            older, younger = min(a, b), max(a, b)
            parent[younger] = older
            out.append(Merge(younger, older, group[0]))
    return out
