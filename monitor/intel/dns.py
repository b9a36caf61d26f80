"""DNS facts of a domain (A, AAAA, CNAME, NS, MX) from the configured resolver, every address egress-checked."""

from __future__ import annotations

import ipaddress
from typing import Any

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.rdatatype
import dns.resolver

from monitor.net import check_address

__all__ = ["DOCUMENTATION_NETWORKS", "MAX_ANSWERS", "is_documentation", "lookup_dns", "refusal"]

# RFC 5737 (TEST-NET-1/2/3) and RFC 3849: reserved for examples, never routed on the internet. check_address refuses
# them as egress targets (they are not global), but as DNS answers they reveal nothing private and lead nowhere, so
# they are recorded like public addresses (the simulated internet's DNS answers with them) and never connected to.
DOCUMENTATION_NETWORKS = tuple(
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)
MAX_ANSWERS = 32  # per record type: a hostile zone may answer thousands of records over TCP
RECORD_TYPES = ("a", "aaaa", "cname", "ns", "mx")

IP = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_documentation(ip: IP) -> bool:
    """True for the documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32)."""
    return any(ip.version == n.version and ip in n for n in DOCUMENTATION_NETWORKS)


def refusal(ip: IP, allow_private: bool) -> str | None:
    """Why a resolved address is refused (not recorded, not looked up), else None.

    The project's one egress rule (``http.allow_private_networks`` lets tests and on-premises setups through),
    except that documentation addresses are kept (see DOCUMENTATION_NETWORKS)."""
    if allow_private or is_documentation(ip):
        return None
    return check_address(ip)


def _resolver(resolvers: list[tuple[str, int]], timeout: float) -> dns.asyncresolver.Resolver:
    resolver = dns.asyncresolver.Resolver(configure=not resolvers)
    if resolvers:
        resolver.nameservers = [dns.nameserver.Do53Nameserver(address, port) for address, port in resolvers]
    resolver.lifetime = timeout
    resolver.timeout = min(timeout, 2.0)  # per try; retries (and TCP on truncation) fit in the lifetime
    resolver.cache = None
    return resolver


def _text(rdtype: str, rdata: Any) -> str:
    if rdtype == "mx":
        return str(rdata.exchange).rstrip(".").lower()
    if rdtype in ("cname", "ns"):
        return str(rdata.target).rstrip(".").lower()
    return str(rdata.address)


async def lookup_dns(
    domain: str, resolvers: list[tuple[str, int]], timeout: float, allow_private: bool = False
) -> dict[str, Any]:
    """The ``dns`` section of a domain's facts: sorted answers per type, refused addresses with their reason, and
    ``error`` ("nxdomain: ...", "timeout: ...", "dns: ..."); never raises for a failed lookup."""
    out: dict[str, Any] = {t: [] for t in RECORD_TYPES} | {"refused": [], "error": None}
    try:
        resolver = _resolver(resolvers, timeout)
    except dns.resolver.NoResolverConfiguration as exc:
        out["error"] = f"dns: no resolver configured: {exc}"
        return out
    for rdtype in RECORD_TYPES:
        try:
            answer = await resolver.resolve(domain, rdtype.upper(), raise_on_no_answer=False, search=False)
        except dns.resolver.NXDOMAIN:
            return {
                **out,
                **{t: [] for t in RECORD_TYPES},
                "refused": [],
                "error": f"nxdomain: {domain} does not exist",
            }
        except dns.resolver.LifetimeTimeout:
            out["error"] = f"timeout: no DNS answer for {domain} {rdtype.upper()} within {timeout:g} s"
            return out
        except dns.resolver.NoNameservers as exc:
            out["error"] = f"dns: every nameserver failed for {domain} {rdtype.upper()}: {exc}"[:500]
            return out
        except dns.exception.DNSException as exc:
            out["error"] = f"dns: {type(exc).__name__}: {exc}"[:500]
            return out
        rrset = answer.rrset
        if rrset is None or (rdtype != "cname" and rrset.rdtype != dns.rdatatype.from_text(rdtype.upper())):
            continue
        items = list(rrset)[:MAX_ANSWERS]
        if rdtype == "mx":
            items.sort(key=lambda r: (r.preference, str(r.exchange)))
        values = [_text(rdtype, r) for r in items]
        if rdtype in ("a", "aaaa"):
            kept = []
            for value in values:
                reason = refusal(ipaddress.ip_address(value), allow_private)
                if reason:
                    out["refused"].append({"address": value, "reason": reason})
                else:
                    kept.append(value)
            values = kept
        out[rdtype] = values if rdtype == "mx" else sorted(set(values))
    return out
