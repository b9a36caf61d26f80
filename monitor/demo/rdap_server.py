"""Simulated RDAP: a virtual site of the fake internet answering RFC 9083 JSON for domains and IP networks from a
small registry, and IANA-format bootstrap files pointing at it (the demo's and the tests' registries)."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.demo.model import NOT_FOUND, Request, Response, Site, text

__all__ = ["DomainRecord", "NetworkRecord", "RdapRegistry", "rdap_site", "write_bootstrap"]

RDAP_TYPE = "application/rdap+json"


@dataclass
class DomainRecord:
    """What a registry says of a domain: its registrar (IANA id), the registrar's abuse contact, creation."""

    registrar: str
    registrar_id: str
    abuse_email: str
    abuse_phone: str
    created: str


@dataclass
class NetworkRecord:
    """What an RIR says of an address block: its name, handle, holder, abuse mailbox, country, origin AS."""

    cidr: str
    name: str
    handle: str
    organisation: str
    abuse_email: str
    country: str
    asn: int | None = None


@dataclass
class RdapRegistry:
    """The registry behind the RDAP site; records may change while it serves (tests move a domain)."""

    domains: dict[str, DomainRecord] = field(default_factory=dict)
    networks: list[NetworkRecord] = field(default_factory=list)


def _vcard(kind: str, name: str, email: str | None = None, phone: str | None = None) -> list[Any]:
    card: list[list[Any]] = [["version", {}, "text", "4.0"], ["fn", {}, "text", name], ["kind", {}, "text", kind]]
    if email:
        card.append(["email", {}, "text", email])
    if phone:
        card.append(["tel", {"type": "voice"}, "uri", f"tel:{phone}"])
    return ["vcard", card]


def domain_json(name: str, record: DomainRecord, base: str) -> dict[str, Any]:
    """An RFC 9083 domain object with a registrar entity and its nested abuse contact (ICANN's RDAP profile)."""
    abuse = {
        "objectClassName": "entity",
        "handle": f"ABUSE-{record.registrar_id}",
        "roles": ["abuse"],
        "vcardArray": _vcard("group", f"{record.registrar} abuse desk", record.abuse_email, record.abuse_phone),
    }
    registrar = {"objectClassName": "entity", "handle": record.registrar_id, "roles": ["registrar"],
                 "publicIds": [{"type": "IANA Registrar ID", "identifier": record.registrar_id}],
                 "vcardArray": _vcard("org", record.registrar), "entities": [abuse]}  # fmt: skip
    return {
        "objectClassName": "domain", "rdapConformance": ["rdap_level_0"], "handle": f"D-{name.upper()}",
        "ldhName": name, "status": ["active"], "entities": [registrar],
        "events": [{"eventAction": "registration", "eventDate": record.created}],
        "links": [{"rel": "self", "href": f"{base}domain/{name}", "type": RDAP_TYPE}],
    }  # fmt: skip


def network_json(record: NetworkRecord, base: str) -> dict[str, Any]:
    """An RFC 9083 ip network object with a registrant (the hosting organisation) and an abuse entity."""
    net = ipaddress.ip_network(record.cidr)
    entities = [
        {"objectClassName": "entity", "handle": f"ORG-{record.handle}", "roles": ["registrant"],
         "vcardArray": _vcard("org", record.organisation)},
        {"objectClassName": "entity", "handle": f"ABUSE-{record.handle}", "roles": ["abuse"],
         "vcardArray": _vcard("group", f"{record.organisation} abuse", record.abuse_email)},
    ]  # fmt: skip
    data: dict[str, Any] = {
        "objectClassName": "ip network", "rdapConformance": ["rdap_level_0", "cidr0"], "handle": record.handle,
        "name": record.name, "startAddress": str(net[0]), "endAddress": str(net[-1]),
        "ipVersion": f"v{net.version}", "country": record.country, "type": "ASSIGNED", "entities": entities,
        "cidr0_cidrs": [{f"v{net.version}prefix": str(net.network_address), "length": net.prefixlen}],
        "links": [{"rel": "self", "href": f"{base}ip/{net}", "type": RDAP_TYPE}],
    }  # fmt: skip
    if record.asn is not None:
        data["arin_originas0_originautnums"] = [record.asn]
    return data


def rdap_site(host: str, registry: RdapRegistry) -> Site:
    """The RDAP service at ``http://host/``: ``/domain/NAME`` and ``/ip/ADDRESS`` (404 when unknown)."""
    base = f"http://{host}/"

    def respond(request: Request) -> Response:
        kind, _, value = request.path.strip("/").partition("/")
        data: dict[str, Any] | None = None
        if kind == "domain" and value.lower() in registry.domains:
            data = domain_json(value.lower(), registry.domains[value.lower()], base)
        elif kind == "ip":
            try:
                ip = ipaddress.ip_address(value)
            except ValueError:
                return NOT_FOUND
            found = [n for n in registry.networks if ip in ipaddress.ip_network(n.cidr)]
            data = network_json(found[0], base) if found else None
        if data is None:
            error = {"errorCode": 404, "title": "Not Found", "description": [f"no {kind} {value}"]}
            return text(json.dumps(error), 404, content_type=RDAP_TYPE)
        return text(json.dumps(data), content_type=RDAP_TYPE)

    return Site(host=host, fallback=respond)


def write_bootstrap(directory: Path, base_url: str, tlds: list[str], prefixes: list[str]) -> Path:
    """IANA-format ``dns.json``, ``ipv4.json`` and ``ipv6.json`` in ``directory`` naming ``base_url`` for ``tlds``
    and ``prefixes`` (the ``intel.rdap_bootstrap`` setting points at ``directory``)."""
    directory.mkdir(parents=True, exist_ok=True)
    v4 = [p for p in prefixes if ipaddress.ip_network(p).version == 4]
    v6 = [p for p in prefixes if ipaddress.ip_network(p).version == 6]
    for name, selectors in (("dns", tlds), ("ipv4", v4), ("ipv6", v6)):
        doc = {"version": "1.0", "publication": "2026-01-01T00:00:00Z", "description": "scrapewatch simulation",
               "services": [[selectors, [base_url]]] if selectors else []}  # fmt: skip
        (directory / f"{name}.json").write_text(json.dumps(doc, indent=1))
    return directory
