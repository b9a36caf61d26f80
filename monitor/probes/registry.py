"""Every probe kind scrapewatch runs, in one place: the daemon, the CLI and the demo read this list.

Adding a kind: its probe module in this package, its spider, its evaluator, and one line here.
"""

from __future__ import annotations

from monitor.probes.archives import ArchiveProbe
from monitor.probes.base import Context, Job, Probe
from monitor.probes.canary import CanaryProbe
from monitor.probes.datasets import DatasetProbe
from monitor.probes.host_intel import HostIntelProbe
from monitor.probes.policy import PolicySnapshotProbe
from monitor.probes.watch import ExposureProbe

KINDS: dict[str, type] = {
    PolicySnapshotProbe.kind: PolicySnapshotProbe,
    ExposureProbe.kind: ExposureProbe,
    CanaryProbe.kind: CanaryProbe,
    ArchiveProbe.kind: ArchiveProbe,
    DatasetProbe.kind: DatasetProbe,
    HostIntelProbe.kind: HostIntelProbe,
}


def build_probes(ctx: Context, kinds: list[str] | None = None) -> list[Probe]:
    """One probe of each kind (or of ``kinds``), built from ``ctx``."""
    return [KINDS[k].build(ctx) for k in (kinds or list(KINDS))]


def all_jobs(probes: list[Probe]) -> list[tuple[Probe, Job]]:
    """Every job of every probe; raises ConfigError when a kind's settings cannot make its jobs."""
    return [(probe, job) for probe in probes for job in probe.jobs()]
