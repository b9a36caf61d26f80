"""Host intel facts as plain data (the contract's shape), carried forward over failures, and a pure field diff."""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["DIFF_FIELDS", "carry_forward", "diff", "empty_facts", "error_summary", "links", "transient_dns_error"]

# What a change on a case timeline is about: the host moved (addresses, network), the registrar or the certificate
# issuer changed.
DIFF_FIELDS = ("a", "aaaa", "network", "registrar", "certificate_issuer")


def empty_facts(domain: str, fetched_at: str) -> dict[str, Any]:
    """Facts with every section empty."""
    return {
        "domain": domain,
        "fetched_at": fetched_at,
        "dns": {"a": [], "aaaa": [], "cname": [], "ns": [], "mx": [], "refused": [], "error": None},
        "registration": {
            "registrar": None,
            "registrar_abuse_email": None,
            "registrar_abuse_phone": None,
            "created": None,
            "rdap_url": None,
            "error": None,
        },
        "networks": [],
        "certificate": None,
        "certificate_error": None,
    }


def transient_dns_error(dns: dict[str, Any]) -> bool:
    """True when the DNS lookup failed (timeout, SERVFAIL...); NXDOMAIN is an answer: the name does not exist."""
    error = dns.get("error")
    return bool(error) and not str(error).startswith("nxdomain:")


def carry_forward(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """``new`` where a section failed keeps the last values actually seen (with the new error), so that a
    transient failure is never the baseline of a change."""
    if not old:
        return new
    out = copy.deepcopy(new)
    if transient_dns_error(new["dns"]):
        out["dns"] = {**old.get("dns", {}), "error": new["dns"]["error"]}
        out["networks"] = copy.deepcopy(old.get("networks", []))  # no addresses were learnt to look up
    if new["registration"].get("error"):
        out["registration"] = {**old.get("registration", {}), "error": new["registration"]["error"]}
    previous = {n["ip"]: n for n in old.get("networks", []) if not n.get("error")}
    out["networks"] = [
        {**previous[n["ip"]], "error": n["error"]} if n.get("error") and n["ip"] in previous else n
        for n in out["networks"]
    ]
    if new.get("certificate") is None and new.get("certificate_error") and old.get("certificate"):
        out["certificate"] = old["certificate"]
    return out


def _values(facts: dict[str, Any]) -> dict[str, Any]:
    """Each diff field's value, or a missing key when the section failed (nothing to compare)."""
    values: dict[str, Any] = {}
    dns = facts.get("dns") or {}
    if not transient_dns_error(dns):
        values["a"], values["aaaa"] = sorted(dns.get("a", [])), sorted(dns.get("aaaa", []))
    networks = facts.get("networks") or []
    if not transient_dns_error(dns) and not any(n.get("error") for n in networks):
        values["network"] = sorted({n.get("handle") or n.get("network_name") or n["ip"] for n in networks})
    registration = facts.get("registration") or {}
    if not registration.get("error"):
        values["registrar"] = registration.get("registrar")
    if not facts.get("certificate_error"):
        values["certificate_issuer"] = (facts.get("certificate") or {}).get("issuer")
    return values


def diff(old: dict[str, Any] | None, new: dict[str, Any]) -> list[dict[str, Any]]:
    """Field-level changes from ``old`` to ``new`` facts, as ``{"field", "old", "new"}``: the host moved (``a``,
    ``aaaa``, ``network``), a new registrar, a new certificate issuer. Nothing for a first lookup, and nothing for
    a field whose section failed on either side."""
    if not old:
        return []
    before, after = _values(old), _values(new)
    return [
        {"field": name, "old": before[name], "new": after[name]}
        for name in DIFF_FIELDS
        if name in before and name in after and before[name] != after[name]
    ]


def error_summary(facts: dict[str, Any]) -> str | None:
    """Every failed part of a lookup in one line (the host_intel row's ``error``), else None."""
    errors = [f"dns: {facts['dns']['error']}"] if facts["dns"].get("error") else []
    if facts["registration"].get("error"):
        errors.append(f"rdap domain: {facts['registration']['error']}")
    errors += [f"rdap {n['ip']}: {n['error']}" for n in facts["networks"] if n.get("error")]
    if facts.get("certificate_error"):
        errors.append(f"tls: {facts['certificate_error']}")
    return "; ".join(errors)[:2000] or None


def links(facts: dict[str, Any]) -> list[tuple[str, str]]:
    """Operator evidence for case links: ``("ip", address)`` for each address, ``("certificate", sha256)``."""
    dns = facts.get("dns") or {}
    out = [("ip", a) for a in [*dns.get("a", []), *dns.get("aaaa", [])]]
    if facts.get("certificate"):
        out.append(("certificate", facts["certificate"]["sha256"]))
    return out
