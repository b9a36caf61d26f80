"""Who runs and hosts the demo's offenders: the simulated DNS zone (documentation addresses, never loopback) and
the simulated RDAP registries (a registrar with an abuse contact, hosting networks with abuse mailboxes)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.demo.dns_server import DnsServer
from monitor.demo.model import Site, by_host
from monitor.demo.rdap_server import DomainRecord, NetworkRecord, RdapRegistry, rdap_site, write_bootstrap
from monitor.settings import Settings
from monitor.store import Store
from monitor.store import intel as store_intel

__all__ = ["RDAP_HOST", "DemoIntel", "demo_registry", "demo_zone"]

RDAP_HOST = "rdap.nic.example"
# Documentation addresses (RFC 5737/3849): the simulated sites are served on loopback by the fake internet, but
# their DNS names point where real hosts would be, so the probe records public-looking addresses, not 127.0.0.1.
_HOSTS = {
    "sc2mp3-fast.example": ("203.0.113.10", "2001:db8:10::10"),
    "scplayer.example": ("203.0.113.20", None),
    "reupload.example": ("198.51.100.30", None),
    "scmirror.example": ("198.51.100.31", None),
    "rip-plain.example": ("203.0.113.40", None),
    "rip-canary.example": ("203.0.113.41", None),
    "rip-broken.example": ("203.0.113.42", None),
}


def demo_zone() -> dict[str, dict[str, Any]]:
    """The simulated zone: every offender with A (and for the downloader AAAA), NS, MX, and a www CNAME."""
    zone: dict[str, dict[str, Any]] = {}
    for name, (v4, v6) in _HOSTS.items():
        hosting = "shadyhost" if v4.startswith("203.") else "cheapvps"
        zone[name] = {"A": [v4], "NS": [f"ns1.{hosting}.example", f"ns2.{hosting}.example"],
                      "MX": [(10, f"mx.{hosting}.example")]}  # fmt: skip
        if v6:
            zone[name]["AAAA"] = [v6]
        zone[f"www.{name}"] = {"CNAME": name}
    return zone


def demo_registry() -> RdapRegistry:
    """The simulated registry (registrar of every .example offender) and RIR (two hosting networks)."""
    registrar = dict(registrar="Offshore Names Ltd.", registrar_id="9999", abuse_email="abuse@offshore-names.example",
                     abuse_phone="+1.5555550100")  # fmt: skip
    created = {"sc2mp3-fast.example": "2024-02-11T09:12:00Z"}
    return RdapRegistry(
        domains={name: DomainRecord(**registrar, created=created.get(name, "2023-06-01T00:00:00Z")) for name in _HOSTS},
        networks=[
            NetworkRecord("203.0.113.0/24", "SHADYHOST-NET-1", "NET-203-0-113-0-1", "ShadyHost Ltd.",
                          "abuse@shadyhost.example", "PA", 64500),
            NetworkRecord("2001:db8:10::/48", "SHADYHOST-V6", "NET6-2001-DB8-10-1", "ShadyHost Ltd.",
                          "abuse@shadyhost.example", "PA", 64500),
            NetworkRecord("198.51.100.0/24", "CHEAPVPS-NET", "NET-198-51-100-0-1", "CheapVPS B.V.",
                          "abuse@cheapvps.example", "NL", 64501),
        ],
    )  # fmt: skip


@dataclass
class DemoIntel:
    """The demo's DNS server (running), RDAP site and bootstrap directory."""

    dns: DnsServer
    sites: dict[str, Site]
    bootstrap: Path

    @classmethod
    def start(cls, directory: Path) -> DemoIntel:
        """Start the DNS server and write the bootstrap files into ``directory``."""
        registry = demo_registry()
        prefixes = [n.cidr for n in registry.networks]
        bootstrap = write_bootstrap(directory, f"http://{RDAP_HOST}/", ["example"], prefixes)
        return cls(DnsServer(demo_zone()).start(), by_host([rdap_site(RDAP_HOST, registry)]), bootstrap)

    def configure(self, settings: Settings, interval: int) -> None:
        """Point ``settings`` at the simulated DNS and RDAP (unless the user configured their own)."""
        intel = settings.intel
        if not intel.nameservers and not intel.rdap_bootstrap:
            intel.enabled = True
            intel.nameservers = [self.dns.nameserver]
            intel.rdap_bootstrap = str(self.bootstrap)
            intel.rdap_delay_seconds = 0.0
            intel.interval_seconds = interval

    def stop(self) -> None:
        """Stop the DNS server."""
        self.dns.stop()


def intel_summary(store: Store) -> list[str]:
    """One line per looked-up domain for the demo's closing summary: where to send a notice."""
    rows = store_intel.listing(store.db)
    lines = [f"host intel for {len(rows)} domain(s) (scrapewatch intel lookup DOMAIN for the details):"] if rows else []
    for row in rows:
        reg, nets = row["facts"]["registration"], row["facts"]["networks"]
        hosting = ", ".join(sorted({f"{n.get('hosting_provider')} <{n.get('abuse_email')}>" for n in nets})) or "-"
        lines.append(f"  {row['domain']}: registrar {reg.get('registrar') or '-'} "
                     f"<{reg.get('registrar_abuse_email') or '-'}>; hosting {hosting}")  # fmt: skip
    return lines
