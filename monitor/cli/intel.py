"""The ``scrapewatch intel lookup`` command: who runs and hosts a domain, looked up now (nothing recorded)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import click

from monitor.cli._common import EXIT_CONFIG, config_option, fail, settings_from
from monitor.intel import IntelLookup, error_summary, registrable_domain
from monitor.store import utcnow


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def intel() -> None:
    """Host intel: DNS, RDAP (registrar, hosting network, abuse contacts) and the TLS certificate of a domain."""


@intel.command("lookup")
@click.argument("domain")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the facts as JSON.")
@click.pass_context
def lookup(ctx: click.Context, domain: str, config_path: Path | None, as_json: bool) -> None:
    """Look DOMAIN's registrable domain up now with the configured resolver, RDAP bootstrap and proxy; exit 1 when
    a part of the lookup failed (the facts still print)."""
    settings = settings_from(ctx, config_path)
    name = registrable_domain(domain)
    if name is None:
        fail(f"{domain!r} is not a domain name", EXIT_CONFIG)
    facts = asyncio.run(IntelLookup(settings).lookup(name, utcnow()))
    error = error_summary(facts)
    click.echo(json.dumps(facts, indent=2) if as_json else "\n".join(_lines(facts)))
    if error:
        click.echo(f"incomplete: {error}", err=True)
        ctx.exit(1)


def _lines(facts: dict[str, Any]) -> list[str]:
    dns, reg, cert = facts["dns"], facts["registration"], facts["certificate"]
    lines = [f"domain      {facts['domain']}"]
    for kind in ("a", "aaaa", "cname", "ns", "mx"):
        if dns[kind]:
            lines.append(f"{kind:<11} {', '.join(dns[kind])}")
    lines += [f"refused     {r['address']}: {r['reason']}" for r in dns["refused"]]
    lines.append(f"registrar   {reg['registrar'] or '-'} (abuse: {reg['registrar_abuse_email'] or '-'}"
                 f" {reg['registrar_abuse_phone'] or ''})".rstrip())  # fmt: skip
    lines.append(f"created     {reg['created'] or '-'}")
    for n in facts["networks"]:
        lines.append(f"network     {n['ip']}: {n.get('network_name') or '-'} ({n.get('handle') or '-'}), "
                     f"AS{n.get('asn') or '?'}, {n.get('hosting_provider') or '-'}, {n.get('country') or '-'}, "
                     f"abuse {n.get('abuse_email') or '-'}")  # fmt: skip
    if cert:
        lines.append(f"certificate {cert['issuer']} -> {', '.join(cert['sans'])} until {cert['not_after']}")
        lines.append(f"            sha256 {cert['sha256']}")
    return lines
