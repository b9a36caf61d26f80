"""RDAP (RFC 9082/9083) for a domain (registrar, its abuse contact, creation date) and for an address (network,
hosting organisation, ASN, abuse mailbox, country): IANA-format bootstrap, bounded fetches, whoisit's parsers."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from whoisit.bootstrap import BaseBootstrap
from whoisit.parser import parse as whoisit_parse

from monitor.intel.fetch import Fetcher, FetchError

__all__ = ["IANA_BOOTSTRAP", "Bootstrap", "RdapClient", "load_bootstrap"]

IANA_BOOTSTRAP = "https://data.iana.org/rdap/"
BOOTSTRAP_FILES = ("dns", "ipv4", "ipv6")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Bootstrap:
    """RFC 9224 service registries: TLD (or longer suffix) -> base URLs, IP prefix -> base URLs."""

    dns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    networks: tuple[tuple[Network, tuple[str, ...]], ...] = ()

    def domain_base(self, domain: str) -> str | None:
        """The base URL for ``domain``: the longest registered suffix wins."""
        labels = domain.lower().rstrip(".").split(".")
        for at in range(len(labels)):
            urls = self.dns.get(".".join(labels[at:]))
            if urls:
                return _prefer_https(urls)
        return None

    def ip_base(self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
        """The base URL for ``ip``: the longest matching prefix wins (no fallback to a guessed registry)."""
        matches = [(n.prefixlen, urls) for n, urls in self.networks if n.version == ip.version and ip in n]
        return _prefer_https(max(matches)[1]) if matches else None


def _prefer_https(urls: tuple[str, ...]) -> str:
    return next((u for u in urls if u.lower().startswith("https://")), urls[0])


def parse_bootstrap(name: str, data: Any) -> list[tuple[str, tuple[str, ...]]]:
    """(selector, base URLs) pairs of one IANA bootstrap document; raises ValueError when it is not one."""
    services = data.get("services") if isinstance(data, dict) else None
    if not isinstance(services, list):
        raise ValueError(f"{name}.json has no services list")
    out = []
    for service in services:
        if not (isinstance(service, list) and len(service) == 2 and all(isinstance(p, list) for p in service)):
            raise ValueError(f"{name}.json: a service is not [selectors, urls]")
        urls = tuple(str(u) for u in service[1] if str(u).lower().startswith(("http://", "https://")))
        if urls:
            out.extend((str(selector).lower(), urls) for selector in service[0])
    return out


async def load_bootstrap(source: str, fetcher: Fetcher, max_bytes: int) -> Bootstrap:
    """The bootstrap from a directory of ``dns.json``/``ipv4.json``/``ipv6.json``, or a URL of one (empty: IANA's).
    Raises FetchError (kind ``other``) when a file is missing, too large or not a bootstrap document."""
    base = source or IANA_BOOTSTRAP
    docs: dict[str, Any] = {}
    for name in BOOTSTRAP_FILES:
        if base.lower().startswith(("http://", "https://")):
            docs[name] = (await fetcher.get_json(base.rstrip("/") + f"/{name}.json"))[1]
            continue
        path = Path(base) / f"{name}.json"
        try:
            with path.open("rb") as f:
                raw = f.read(max_bytes + 1)
            if len(raw) > max_bytes:
                raise FetchError("too_large", f"{path} is larger than {max_bytes} bytes")
            docs[name] = json.loads(raw)
        except (OSError, ValueError) as exc:
            raise FetchError("other", f"RDAP bootstrap {path}: {exc}") from None
    try:
        dns = dict(parse_bootstrap("dns", docs["dns"]))
        networks = tuple(
            (ipaddress.ip_network(prefix), urls)
            for name in ("ipv4", "ipv6")
            for prefix, urls in parse_bootstrap(name, docs[name])
        )
    except ValueError as exc:
        raise FetchError("other", f"RDAP bootstrap: {exc}") from None
    return Bootstrap(dns, networks)


class RdapClient:
    """Looks things up over RDAP, ``delay`` seconds between two requests (registries rate-limit clients)."""

    def __init__(self, bootstrap: Bootstrap, fetcher: Fetcher, delay: float = 1.0):
        self.bootstrap, self.fetcher, self.delay = bootstrap, fetcher, delay
        self._last = float("-inf")
        self.requests = 0

    async def _query(self, base: str, path: str, value: str) -> tuple[str, dict[str, Any]]:
        wait = self._last + self.delay - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self._last = time.monotonic()
        self.requests += 1
        url = base.rstrip("/") + f"/{path}/{quote(value, safe=':')}"
        try:
            final, data = await self.fetcher.get_json(url)
        finally:
            self._last = time.monotonic()  # the pause counts from the end of the previous request
        if not isinstance(data, dict):
            raise FetchError("other", "the RDAP answer is not a JSON object", url)
        return final, data

    async def domain(self, domain: str) -> dict[str, Any]:
        """The ``registration`` section of a domain's facts (``error`` set when the lookup failed)."""
        out: dict[str, Any] = {"registrar": None, "registrar_abuse_email": None, "registrar_abuse_phone": None,
                               "created": None, "rdap_url": None, "error": None}  # fmt: skip
        base = self.bootstrap.domain_base(domain)
        if base is None:
            return {**out, "error": f"other: no RDAP service for {domain} in the bootstrap"}
        try:
            url, data = await self._query(base, "domain", domain)
            parsed = _parse(data, "domain", domain)
        except FetchError as exc:
            return {**out, "rdap_url": exc.url or None, "error": str(exc)}
        registrar = _first(parsed, "registrar")
        abuse = _abuse(parsed, registrar)
        created = parsed.get("registration_date")
        return {
            **out,
            "registrar": (registrar or {}).get("name") or (registrar or {}).get("handle"),
            "registrar_abuse_email": abuse.get("email"),
            "registrar_abuse_phone": abuse.get("tel"),
            "created": created.isoformat() if created else None,
            "rdap_url": url,
        }

    async def network(self, ip: str) -> dict[str, Any]:
        """One entry of a domain's ``networks``: who holds the address block ``ip`` is in."""
        out: dict[str, Any] = {"ip": ip, "network_name": None, "handle": None, "asn": None, "hosting_provider": None,
                               "abuse_email": None, "country": None, "rdap_url": None, "error": None}  # fmt: skip
        base = self.bootstrap.ip_base(ipaddress.ip_address(ip))
        if base is None:
            return {**out, "error": f"other: no RDAP service for {ip} in the bootstrap"}
        try:
            url, data = await self._query(base, "ip", ip)
            parsed = _parse(data, "ip network", ip)
        except FetchError as exc:
            return {**out, "rdap_url": exc.url or None, "error": str(exc)}
        holder = _first(parsed, "registrant") or _first(parsed, "administrative") or {}
        autnums = parsed.get("origin_autnums") or [_asn(data)]
        return {
            **out,
            "network_name": parsed.get("name") or None,
            "handle": parsed.get("handle") or None,
            "asn": next((a for a in autnums if a), None),
            "hosting_provider": holder.get("name") or None,
            "abuse_email": _abuse(parsed, None).get("email"),
            "country": parsed.get("country") or None,
            "rdap_url": url,
        }


def _parse(data: dict[str, Any], kind: str, query: str) -> dict[str, Any]:
    # whoisit's parsers read jCards, nested entities and events; a malformed answer makes them raise anything.
    try:
        parsed = whoisit_parse(BaseBootstrap(), kind, query, data)
    except Exception as exc:
        raise FetchError("other", f"unusable RDAP answer: {type(exc).__name__}: {str(exc)[:200]}") from None
    if parsed.get("type") != kind:
        raise FetchError("other", f"the RDAP answer describes a {parsed.get('type') or 'nothing'}, not a {kind}")
    return parsed


def _first(parsed: dict[str, Any], role: str) -> dict[str, Any] | None:
    entities = parsed.get("entities", {}).get(role) or []
    return entities[0] if entities else None


def _abuse(parsed: dict[str, Any], parent: dict[str, Any] | None) -> dict[str, Any]:
    """The abuse contact: the one nested in ``parent`` (the registrar) if any, else the first with role abuse."""
    contacts = parsed.get("entities", {}).get("abuse") or []
    if parent is not None:
        own = [c for c in contacts if parent.get("handle") and c.get("parent_handle") == parent.get("handle")]
        contacts = own or contacts
    return contacts[0] if contacts else {}


def _asn(data: dict[str, Any]) -> int | None:
    # Not in RFC 9083: some RIRs name the origin AS in an "originAutnums" / "asn" extension member.
    for key in ("originAutnums", "asn"):
        value = data.get(key)
        value = value[0] if isinstance(value, list) and value else value
        try:
            return int(str(value).upper().removeprefix("AS")) if value is not None else None
        except ValueError:
            continue
    return None
