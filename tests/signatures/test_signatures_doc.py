"""SIGNATURES.md is generated from the table and kept current; the package documents its pipeline."""

from __future__ import annotations

from pathlib import Path

import monitor.signatures as package
from monitor.signatures import SIGNATURES, signatures_table

DOC = Path(package.__file__).parent / "SIGNATURES.md"


def test_signatures_md_is_up_to_date():
    expected = signatures_table()
    assert DOC.read_text() == expected, (
        "monitor/signatures/SIGNATURES.md is stale: regenerate with "
        'python -c "from monitor.signatures import signatures_table as t; '
        "open('monitor/signatures/SIGNATURES.md', 'w').write(t())\""
    )


def test_table_lists_every_signature_once():
    rows = [line for line in signatures_table().splitlines() if line.startswith("| ") and "`SC-" in line]
    assert len(rows) == len(SIGNATURES) == 36
    for sig in SIGNATURES:
        assert sum(f"`{sig.id}`" in row for row in rows) == 1


def test_ids_are_unique_and_reference_style():
    ids = [s.id for s in SIGNATURES]
    assert len(set(ids)) == len(ids)
    assert all(i.startswith("SC-") and i.upper() == i for i in ids)


def test_package_docstring_explains_the_pipeline():
    doc = package.__doc__ or ""
    for word in ("Normalise", "Attribute", "Match", "Compose", "Suppress", "catalogue"):
        assert word in doc
