"""The database schema as numbered migrations (sqlite-utils ``Migrations``): append new ones, never edit old ones.

Each module registers its migrations on import, so the import order below IS the migration order: a new migration
goes in a new module, imported last.
"""

from monitor.migrations import (  # noqa: F401  (registration order)
    m0001_0008_core,
    m0009_cases,
    m0010_case_reads,
    m0011_case_backfill,
    m0012_read_paths,
    m0013_distributed,
    m0014_evidence_sightings,
    m0015_verdict_groups,
)
from monitor.migrations.registry import migrations

__all__ = ["migrations"]
