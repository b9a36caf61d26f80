"""Settings of the host intel probe: the DNS resolver, the RDAP bootstrap, caching and rate limits."""

from __future__ import annotations

import ipaddress

from pydantic import Field, field_validator

from monitor.settings.base import Section


class IntelSettings(Section):
    """Who runs and hosts an offender's domain: DNS, RDAP (domain and addresses) and the TLS certificate."""

    enabled: bool = Field(
        False,
        description="Look up the domains of cases and open exposure/scraping incidents (off until enabled, like "
        "the archive and dataset endpoints: it queries public DNS and RDAP services).",
    )
    interval_seconds: int = Field(
        3600, ge=10, description="How often the host intel job runs; each run looks up the domains that are due."
    )
    nameservers: list[str] = Field(
        default_factory=list,
        description="DNS servers asked, as host or host:port ([v6]:port); empty: the system resolver.",
    )
    dns_timeout_seconds: float = Field(5.0, gt=0, le=60, description="Time allowed for one DNS lookup.")
    rdap_bootstrap: str = Field(
        "",
        description="Directory holding IANA-format RDAP bootstrap files (dns.json, ipv4.json, ipv6.json), or an "
        "http(s) URL of such a directory; empty: IANA's (https://data.iana.org/rdap/).",
    )
    rdap_timeout_seconds: float = Field(
        15.0, gt=0, le=300, description="Time allowed for one RDAP request, redirects and body included."
    )
    rdap_max_bytes: int = Field(
        1_048_576, ge=4096, le=67_108_864, description="RDAP answers (and bootstrap files) larger than this fail."
    )
    rdap_max_redirects: int = Field(3, ge=0, le=10, description="Redirects followed per RDAP request.")
    rdap_delay_seconds: float = Field(
        1.0, ge=0, le=60, description="Pause between two RDAP requests (registries rate-limit their clients)."
    )
    max_lookups_per_run: int = Field(10, ge=1, le=1000, description="Domains looked up per run at most.")
    refresh_after_seconds: int = Field(
        7 * 86400, ge=60, description="A domain's facts are looked up again after this long (default 7 days)."
    )
    retry_after_seconds: int = Field(
        3600, ge=60, description="A lookup that failed (in any part) is retried after this long."
    )
    tls: bool = Field(True, description="Read the certificate the domain serves on port 443.")
    tls_timeout_seconds: float = Field(10.0, gt=0, le=120, description="Time allowed to read the certificate.")

    @field_validator("nameservers")
    @classmethod
    def _nameservers(cls, value: list[str]) -> list[str]:
        for entry in value:
            parse_nameserver(entry)
        return value

    @property
    def resolvers(self) -> list[tuple[str, int]]:
        """The configured DNS servers as (address, port) pairs; empty: the system resolver."""
        return [parse_nameserver(entry) for entry in self.nameservers]


def parse_nameserver(entry: str) -> tuple[str, int]:
    """``host``, ``host:port``, ``v6`` or ``[v6]:port`` as (address, port); raises ValueError otherwise."""
    text = entry.strip()
    host, port = text, "53"
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else "53" if not rest else ""
    elif text.count(":") == 1:
        host, port = text.split(":")
    try:
        address = str(ipaddress.ip_address(host))
    except ValueError:
        raise ValueError(f"nameserver {entry!r}: expected an IP address, optionally with :port") from None
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"nameserver {entry!r}: the port must be 1-65535")
    return address, int(port)
