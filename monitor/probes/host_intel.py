"""The host intel probe: looks up who runs and hosts the domains of cases and open exposure/scraping incidents
(DNS, RDAP, TLS), cached and rate-limited; stores facts, case links and host_changed case events in one run."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from monitor.errors import ErrorKind
from monitor.incidents import Evaluation
from monitor.intel import IntelLookup, carry_forward, diff, error_summary, links, registrable_domain
from monitor.intel.model import transient_dns_error
from monitor.net import host_of, is_soundcloud_host
from monitor.probes.base import Context, Job, Outcome, ProbeBase
from monitor.settings import Settings
from monitor.store import Applied, Store, utcnow
from monitor.store import intel as store_intel

log = logging.getLogger(__name__)
JOB_DOMAIN = "host-intel"


@dataclass(frozen=True)
class HostIntelJob:
    """Look up the due domains (all of them are found at run time: cases open between runs)."""

    max_lookups: int


@dataclass
class HostIntelReport:
    """What one run looked up and what changed."""

    looked_up: list[str]
    changes: dict[str, list[dict[str, Any]]]
    errors: dict[str, str]
    bootstrap_error: str | None = None


def _later(at: str, seconds: int) -> str:
    return (datetime.fromisoformat(at) + timedelta(seconds=seconds)).isoformat(timespec="microseconds")


def domains_to_look_up(cases: list[str], hosts: list[str], sources: frozenset[str] = frozenset()) -> list[str]:
    """Case domains, then the registrable domains of incident hosts, once each; never SoundCloud's own, nor the
    ``sources`` (the archives and dataset hub scrapewatch queries: their incidents are about what they hold)."""
    found = [*cases, *(registrable_domain(h) for h in hosts)]
    return list(dict.fromkeys(d for d in found if d and not is_soundcloud_host(d) and d not in sources))


def source_domains(settings: Settings) -> frozenset[str]:
    """The registrable domains of the configured archive and dataset endpoints."""
    scraping = settings.scraping
    urls = [e.base_url for e in (scraping.wayback, scraping.common_crawl, scraping.dataset_hub)]
    urls.append(scraping.dataset_hub.viewer_url)
    return frozenset(d for d in (registrable_domain(host_of(u)) for u in urls) if d)


class HostIntelProbe(ProbeBase):
    """Who runs and hosts the offenders' domains."""

    kind = "host_intel"

    def __init__(self, store: Store | None, settings: Settings):
        self.store = store
        self.settings = settings
        self.health_threshold = settings.alerts.probe_failures

    @classmethod
    def build(cls, ctx: Context) -> HostIntelProbe:
        return cls(ctx.store, ctx.settings)

    def jobs(self) -> list[Job]:
        intel = self.settings.intel
        if not intel.enabled:
            return []
        spec = HostIntelJob(intel.max_lookups_per_run)
        return [self.job(f"{self.kind}:domains", spec, intel.interval_seconds, max(1, intel.interval_seconds // 10))]

    def domain_of(self, spec: HostIntelJob) -> str:
        return JOB_DOMAIN

    async def observe(self, job: Job) -> Outcome:
        if self.store is None:
            raise RuntimeError("host intel needs a store to know which domains to look up")
        db, intel = self.store.db, self.settings.intel
        domains = domains_to_look_up(*store_intel.candidate_hosts(db), source_domains(self.settings))
        lookup = IntelLookup(self.settings)
        report = HostIntelReport([], {}, {})
        writes: list[store_intel.IntelWrite] = []
        failed_dns = 0
        for domain in store_intel.due(db, domains, utcnow(), job.spec.max_lookups):
            fetched_at = utcnow()
            old = store_intel.stored_facts(db, domain)
            facts = carry_forward(old, await lookup.lookup(domain, fetched_at))
            changes, error = diff(old, facts), error_summary(facts)
            failed_dns += transient_dns_error(facts["dns"])
            retry = intel.retry_after_seconds if error else intel.refresh_after_seconds
            expires = _later(fetched_at, retry)
            writes.append(store_intel.IntelWrite(domain, facts, error, fetched_at, expires, changes, links(facts)))
            report.looked_up.append(domain)
            if changes:
                report.changes[domain] = changes
            if error:
                report.errors[domain] = error
                log.info("host intel %s: %s", domain, error)
        report.bootstrap_error = lookup.bootstrap_error
        outcome = Outcome(Evaluation(scope=f"{self.kind}:{JOB_DOMAIN}"), report=report)
        outcome.writes = [functools.partial(store_intel.write, writes)] if writes else []
        # A run fails when scrapewatch's own side is broken (no resolver answered for any domain, no RDAP
        # bootstrap); one offender's vanished site or broken registry is that domain's recorded error.
        if writes and failed_dns == len(writes):
            outcome.error_kind, outcome.error_detail = ErrorKind.DNS.value, "no DNS answer for any domain"
        elif writes and lookup.bootstrap_error:
            outcome.error_kind, outcome.error_detail = ErrorKind.OTHER.value, lookup.bootstrap_error
        return outcome

    def committed(self, job: Job, outcome: Outcome, applied: Applied) -> None:
        report: HostIntelReport = outcome.report
        log.info("%s: %d looked up, %d changed", job.id, len(report.looked_up), len(report.changes))
