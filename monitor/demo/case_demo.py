"""What `scrapewatch demo --once` does with its largest case, as an analyst would: draft a notice to the hosting
provider's abuse desk, export the evidence bundle, verify it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from monitor.cases import bundle, notice
from monitor.store import Store, utcnow


def largest_case(store: Store) -> int | None:
    """The live case with the most incidents (the downloader's, in the demo)."""
    row = store.db.execute(
        "SELECT c.id FROM cases c JOIN case_incidents ci ON ci.case_id = c.id WHERE c.merged_into IS NULL "
        "GROUP BY c.id ORDER BY count(*) DESC, c.id LIMIT 1"
    ).fetchone()
    return row[0] if row else None


def draft_and_export(store: Store, out_dir: Path, catalogue: Any, echo: Callable[[str], None]) -> bool:
    """Draft a notice (Markdown) to the largest case's hosting provider, export its bundle and verify it; echo
    where each went. Returns whether the bundle verified."""
    case_id = largest_case(store)
    if case_id is None:
        echo("no case to draft a notice for")
        return False
    facts = store.case_facts(case_id, catalogue)
    assert facts is not None
    out_dir.mkdir(parents=True, exist_ok=True)
    drafted = notice.draft(facts, "hosting", "md")
    path = out_dir / f"case-{case_id}-notice-hosting.md"
    path.write_bytes(drafted.content)
    missing = f"; to confirm before sending: {', '.join(drafted.missing_fields)}" if drafted.missing_fields else ""
    echo(f"case #{case_id}: notice to the hosting provider ({drafted.address or 'no abuse address known'}) "
         f"drafted at {path}{missing}")  # fmt: skip
    result = bundle.export(facts, store.files, out_dir)
    bundle.record_export(store.db, case_id, result, "demo", utcnow())
    checked = bundle.verify(result.path, bundle.recorded_heads(store.db, case_id))
    verdict = "verified" if checked.ok else "FAILED: " + "; ".join(checked.problems)
    echo(f"case #{case_id}: evidence bundle {result.path} ({result.files} files, chain head "
         f"{result.chain_head[:16]}…): {verdict}")  # fmt: skip
    echo(f"verify it again with: scrapewatch case verify {result.path}")
    return checked.ok
