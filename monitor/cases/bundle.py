"""Evidence bundles: one reproducible zip per case (WARC, screenshots, request logs, case.json) with a manifest
whose SHA-256 entries are chained, verification of a bundle, and the record of each export in the database.

The same case state gives the same bytes: every timestamp comes from the case (its last timeline event), members
are written in name order with fixed permissions, and ``exported`` events are not part of the state a bundle
captures (exporting again must not change what is exported).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import sqlite3
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import sqlite_utils

from monitor.cases.warc import Missing, build_warc, load_file
from monitor.errors import StorageError
from monitor.store.files import EvidenceFiles

__all__ = [
    "FORMAT",
    "GENESIS",
    "ExportResult",
    "VerifyResult",
    "chain_link",
    "export",
    "record_export",
    "recorded_heads",
    "verify",
]

FORMAT = "scrapewatch-bundle/1"
GENESIS = "0" * 64
MANIFEST = "manifest.json"
_MODE = 0o644 << 16  # rw-r--r-- regular file, whatever the umask of whoever exports


@dataclass(frozen=True)
class ExportResult:
    """A written bundle: where, its manifest's chain head, its file count, and the evidence files it lacks."""

    path: Path
    chain_head: str
    files: int
    exported_at: str
    missing: list[Missing] = field(default_factory=list)


@dataclass(frozen=True)
class VerifyResult:
    """What verifying a bundle found: ok only when ``problems`` is empty."""

    problems: list[str]
    case_id: int | None = None
    chain_head: str | None = None
    files: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def chain_link(previous: str, sha256: str, name: str) -> str:
    """Entry i's chain: sha256 hex of entry i-1's chain + entry i's sha256 + its name (entry 0 follows GENESIS)."""
    return hashlib.sha256(f"{previous}{sha256}{name}".encode()).hexdigest()


def exported_at(facts: dict[str, Any]) -> str:
    """The bundle's time: the case's last timeline event (exports left out), else its last sighting."""
    times = [e["at"] for e in facts.get("timeline") or [] if e.get("action") != "exported" and e.get("at")]
    return max(times, default=facts.get("last_seen") or facts["opened_at"])


def export(facts: dict[str, Any], files: EvidenceFiles, out_dir: Path, now: str | None = None) -> ExportResult:
    """Write the bundle of case ``facts`` into ``out_dir``; evidence files missing on disk are listed as missing.

    ``now`` is not part of the bytes (the bundle's time comes from the case). Members are streamed to disk one at
    a time, so memory stays bounded by the largest evidence file. Raises StorageError when the bundle cannot be
    written (nothing partial is left).
    """
    state = {k: v for k, v in facts.items() if k != "exports"}
    state["timeline"] = [e for e in facts.get("timeline") or [] if e.get("action") != "exported"]
    at = exported_at(facts)
    out_dir = Path(out_dir)
    tmp = out_dir / f".case-{facts['id']}.{os.getpid()}.tmp"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir) as warc, open(tmp, "wb") as fh:
            missing = build_warc(list(facts.get("evidence") or []), files, warc)
            with zipfile.ZipFile(fh, "w") as archive:
                entries = [_add_bytes(archive, "case.json", _json({"exported_at": at, "case": state}), at)]
                size = warc.tell()
                warc.seek(0)
                entries.append(_add(archive, "evidence.warc.gz", warc, size, at))
                for kind, folder, suffix in (("requests", "requests", ""), ("screenshot", "screenshots", ".png")):
                    for sha, ids in _referenced(facts, f"{kind}_sha256").items():
                        content, reason = load_file(files, sha)
                        name = f"{folder}/{sha}{suffix}"
                        if content is None:
                            missing.append(Missing(name, sha, kind, tuple(ids), reason))
                        else:
                            entries.append(_add_bytes(archive, name, content, at))
                files_written = len(entries)
                missing.sort(key=lambda m: m.name)
                entries, head = _chain(entries, missing)
                manifest = {"format": FORMAT, "case_id": facts["id"], "exported_at": at, "genesis": GENESIS,
                            "files": entries, "missing": len(missing), "chain_head": head}  # fmt: skip
                _add_bytes(archive, MANIFEST, _json(manifest), at)
            fh.flush()
            os.fsync(fh.fileno())
        path = out_dir / f"case-{facts['id']}-{head[:16]}.zip"
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StorageError(
            f"cannot write the bundle of case {facts['id']} into {out_dir}: {exc.strerror or exc}"
        ) from exc
    return ExportResult(path, head, files_written, at, missing)


def verify(path: Path, recorded: set[str] | Callable[[int], set[str]] | None = None) -> VerifyResult:
    """Recompute a bundle's sizes, hashes and chain; every problem found is listed. ``recorded``: the chain heads
    the database holds for the case (or a function of the case id giving them), one of which must be the bundle's."""
    try:
        with zipfile.ZipFile(path) as archive:
            result = _verify(archive, recorded)
            if result.ok and not _same_as_rebuilt(Path(path), archive):
                # Every member is intact, so what changed is the archive around them (headers, padding, comment).
                result.problems.append("the archive's bytes outside its files differ from what an export writes")
            return result
    except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error) as exc:
        return VerifyResult([f"cannot read {path} as a bundle: {exc}"])


def record_export(db: sqlite_utils.Database, case_id: int, result: ExportResult, actor: str, at: str) -> None:
    """Record an export (its chain head) in case_exports and on the case timeline, in one transaction."""
    data = {"chain_head": result.chain_head, "path": str(result.path), "missing": len(result.missing)}
    conn = db.conn  # opened in autocommit mode (monitor.db): the transaction is explicit
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "INSERT INTO case_exports (case_id, at, path, chain_head, files, actor) VALUES (?, ?, ?, ?, ?, ?)",
                [case_id, at, str(result.path), result.chain_head, result.files, actor],
            )
            conn.execute(
                "INSERT INTO case_events (case_id, at, action, actor, note, data) VALUES (?, ?, 'exported', ?, ?, ?)",
                [case_id, at, actor, None, json.dumps(data, sort_keys=True)],
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:
        raise StorageError(f"cannot record the export of case {case_id}: {exc}; nothing was recorded") from exc


def recorded_heads(db: sqlite_utils.Database, case_id: int) -> set[str]:
    """Every chain head recorded for ``case_id``'s exports."""
    return {r[0] for r in db.execute("SELECT chain_head FROM case_exports WHERE case_id = ?", [case_id])}


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _referenced(facts: dict[str, Any], key: str) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for row in facts.get("evidence") or []:
        if row.get(key):
            out.setdefault(row[key], []).append(row["id"])
    return dict(sorted(out.items()))


def _add(archive: zipfile.ZipFile, name: str, source: BinaryIO, size: int, at: str) -> dict[str, Any]:
    """Copy ``size`` bytes of ``source`` into the archive as ``name``; its manifest entry (name, size, sha256)."""
    info = _info(name, at)
    info.file_size = size  # known up front, as writestr() sets it: the same header bytes, written in one pass
    digest = hashlib.sha256()
    with archive.open(info, "w") as dest:
        while chunk := source.read(1 << 20):
            digest.update(chunk)
            dest.write(chunk)
    return {"name": name, "size": size, "sha256": digest.hexdigest()}


def _add_bytes(archive: zipfile.ZipFile, name: str, content: bytes, at: str) -> dict[str, Any]:
    return _add(archive, name, io.BytesIO(content), len(content), at)


def _chain(entries: list[dict[str, Any]], missing: list[Missing]) -> tuple[list[dict[str, Any]], str]:
    rows = entries + [
        {"name": m.name, "sha256": m.sha256, "missing": True, "kind": m.kind, "reason": m.reason,
         "evidence_ids": list(m.evidence_ids)}
        for m in missing
    ]  # fmt: skip
    rows.sort(key=lambda r: r["name"])
    head = GENESIS
    for row in rows:
        head = row["chain"] = chain_link(head, row["sha256"], row["name"])
    return rows, head


def _zip_time(at: str) -> tuple[int, int, int, int, int, int]:
    moment = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    stamp = max(moment.replace(tzinfo=None), dt.datetime(1980, 1, 1))  # zip's epoch
    return (stamp.year, stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second - stamp.second % 2)


def _info(name: str, at: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, _zip_time(at))
    info.external_attr = _MODE
    info.create_system = 3  # Unix, on every platform
    # Stored, not deflated: the bytes then depend on nothing but the contents (no zlib version), so verify can
    # rebuild the archive and compare every byte. The WARC is gzipped and screenshots are PNG anyway.
    info.compress_type = zipfile.ZIP_STORED
    return info


def _same_as_rebuilt(path: Path, archive: zipfile.ZipFile) -> bool:
    """True when writing the archive's members again, as an export does, gives exactly the file's bytes."""
    at = json.loads(archive.read(MANIFEST))["exported_at"]
    with tempfile.TemporaryFile() as rebuilt:
        with zipfile.ZipFile(rebuilt, "w") as copy:
            for info in archive.infolist():
                with archive.open(info) as member:
                    _add(copy, info.filename, member, info.file_size, at)
        rebuilt.seek(0)
        with open(path, "rb") as original:
            while True:
                a, b = original.read(1 << 20), rebuilt.read(1 << 20)
                if a != b:
                    return False
                if not a:
                    return True


def _verify(archive: zipfile.ZipFile, recorded: set[str] | Callable[[int], set[str]] | None) -> VerifyResult:
    problems: list[str] = []
    infos = archive.infolist()
    names = [i.filename for i in infos]
    if names.count(MANIFEST) != 1 or names[-1] != MANIFEST:
        return VerifyResult([f"{MANIFEST} must be the bundle's last member, once (members: {len(names)})"])
    try:
        manifest = json.loads(archive.read(MANIFEST))
        entries = manifest["files"]
        case_id, head, at = manifest["case_id"], manifest["chain_head"], manifest["exported_at"]
        if not isinstance(entries, list) or not all(
            isinstance(e, dict) and isinstance(e.get("name"), str) and isinstance(e.get("sha256"), str) for e in entries
        ):
            raise ValueError("files must be a list of objects with a name and a sha256")
        if manifest.get("format") != FORMAT:
            problems.append(f"unknown bundle format {str(manifest.get('format'))[:40]!r}")
        chain = GENESIS
        for entry in entries:
            chain = chain_link(chain, entry["sha256"], entry["name"])
            if entry.get("chain") != chain:
                problems.append(f"manifest chain broken at {entry['name']}")
                break
        if chain != head:
            problems.append("manifest chain head does not match its entries")
        expected = [e["name"] for e in entries if not e.get("missing")]
        missing = [e for e in entries if e.get("missing")]
    except (zipfile.BadZipFile, zlib.error, ValueError, KeyError, TypeError, AttributeError) as exc:
        return VerifyResult([f"{MANIFEST} is damaged: {type(exc).__name__}: {exc}"])
    if expected != sorted(expected):
        problems.append("manifest entries are not in name order")
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"{dup} appears more than once")
    present = names[:-1]
    for extra in sorted(set(present) - set(expected)):
        problems.append(f"{extra} is in the bundle but not in the manifest")
    for gone in [n for n in expected if n not in present]:
        problems.append(f"{gone} is in the manifest but not in the bundle")
    if not problems and present != expected:
        problems.append("bundle members are not in manifest order")
    for entry in missing:
        problems.append(f"{entry['name']} ({entry.get('kind')}) was missing at export: {entry.get('reason')}")
    for info, entry in ((archive.getinfo(e["name"]), e) for e in entries if e["name"] in present):
        problems += _check_member(archive, info, entry, at)
    if callable(recorded):
        recorded = recorded(case_id) if isinstance(case_id, int) else set()
    if recorded is not None and head not in recorded:
        problems.append(f"chain head {head} is not one recorded for case {case_id} in the database")
    return VerifyResult(problems, case_id, head, len(expected))


def _check_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, entry: dict[str, Any], at: str) -> list[str]:
    name = info.filename
    digest = hashlib.sha256()
    size = 0
    try:
        with archive.open(info) as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:  # CRC, truncated, bad stream
        return [f"{name} cannot be read: {exc}"]
    problems = []
    if size != entry.get("size"):
        problems.append(f"{name} is {size} bytes, the manifest says {entry.get('size')}")
    if digest.hexdigest() != entry.get("sha256"):
        problems.append(f"{name} does not match its SHA-256 in the manifest")
    fixed = _info(name, at)
    if (info.date_time, info.external_attr, info.compress_type) != (
        fixed.date_time,
        fixed.external_attr,
        fixed.compress_type,
    ):
        problems.append(f"{name} has archive metadata (time, mode, compression) an export never writes")
    return problems
