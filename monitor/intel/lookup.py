"""One host intel lookup of a domain from the settings: DNS, then RDAP for the domain and each address, then TLS."""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from monitor.cases.grouping import registrable
from monitor.intel.dns import is_documentation, lookup_dns
from monitor.intel.fetch import Fetcher, FetchError
from monitor.intel.model import empty_facts
from monitor.intel.rdap import RdapClient, load_bootstrap
from monitor.intel.tls import TlsError, peer_certificate
from monitor.net import literal_ip
from monitor.settings import Settings

__all__ = ["IntelLookup", "registrable_domain"]

log = logging.getLogger(__name__)
MAX_NETWORKS = 8  # addresses described over RDAP per domain (a round-robin pool of hundreds is one host)


def registrable_domain(host: str) -> str | None:
    """The registrable domain of ``host`` as cases key offenders (``www.a.co.uk`` -> ``a.co.uk``, ``alice.github.io``
    stays itself, ``.example`` / ``.test`` names keep their last two labels), so host intel and cases name a domain
    alike; None for IP literals and bare labels."""
    host = host.strip().lower().rstrip(".")
    if "." not in host or literal_ip(host) is not None:
        return None
    return registrable(host) or None


class IntelLookup:
    """Looks domains up with the settings' resolver, RDAP bootstrap, proxy, egress allowance and bounds. The
    bootstrap is loaded on first use and kept for the lookup's life (a probe run, a CLI call)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        intel, http = settings.intel, settings.http
        self.fetcher = Fetcher(
            proxy_for=http.proxy_for,
            user_agent=http.user_agent,
            timeout=intel.rdap_timeout_seconds,
            max_bytes=intel.rdap_max_bytes,
            max_redirects=intel.rdap_max_redirects,
            allow_private=http.allow_private_networks,
        )
        self._rdap: RdapClient | None = None
        self.bootstrap_error: str | None = None

    async def rdap(self) -> RdapClient | None:
        """The RDAP client, None when the bootstrap cannot be loaded (``bootstrap_error`` says why)."""
        if self._rdap is None and self.bootstrap_error is None:
            try:
                bootstrap = await load_bootstrap(
                    self.settings.intel.rdap_bootstrap, self.fetcher, self.settings.intel.rdap_max_bytes
                )
            except FetchError as exc:
                self.bootstrap_error = f"bootstrap: {exc}"
                log.warning("host intel: the RDAP bootstrap cannot be loaded: %s", exc)
                bootstrap = None
            if bootstrap is not None:
                self._rdap = RdapClient(bootstrap, self.fetcher, self.settings.intel.rdap_delay_seconds)
        return self._rdap

    async def lookup(self, domain: str, fetched_at: str) -> dict[str, Any]:
        """Every fact about ``domain`` (see monitor.intel.model); failures are recorded in the facts, never raised."""
        intel, http = self.settings.intel, self.settings.http
        facts = empty_facts(domain, fetched_at)
        facts["dns"] = await lookup_dns(domain, intel.resolvers, intel.dns_timeout_seconds, http.allow_private_networks)
        rdap = await self.rdap()
        if rdap is None:
            facts["registration"]["error"] = self.bootstrap_error
        else:
            facts["registration"] = await rdap.domain(domain)
        addresses = [*facts["dns"]["a"], *facts["dns"]["aaaa"]]
        for ip in addresses[:MAX_NETWORKS]:
            if rdap is None:
                facts["networks"].append({"ip": ip, "error": self.bootstrap_error})
            else:
                facts["networks"].append(await rdap.network(ip))
        if intel.tls and facts["dns"]["error"]:
            # Not observed, so not "no certificate": the last certificate seen stays the baseline.
            facts["certificate_error"] = f"not tried: {facts['dns']['error']}"
        elif intel.tls:
            await self._certificate(domain, addresses, facts)
        return facts

    async def _certificate(self, domain: str, addresses: list[str], facts: dict[str, Any]) -> None:
        proxy = self.settings.http.proxy_for(f"https://{domain}/")
        # Directly, only an address the DNS step accepted, and never a documentation one (it routes nowhere).
        routable = [a for a in addresses if not is_documentation(ipaddress.ip_address(a))]
        if not addresses:
            refused = facts["dns"]["refused"]
            kind = "egress_refused: every address is refused" if refused else "connection: no address"
            facts["certificate_error"] = f"{kind} ({domain})"
            return
        if not proxy and not routable:
            facts["certificate_error"] = "connection: no routable address to connect to"
            return
        try:
            facts["certificate"] = await peer_certificate(
                domain,
                address=None if proxy else routable[0],
                proxy=proxy,
                timeout=self.settings.intel.tls_timeout_seconds,
            )
        except TlsError as exc:
            facts["certificate_error"] = str(exc)
