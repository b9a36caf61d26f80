"""Fingerprint the catalogue's reference audio into the database, once per file content, and load the matcher."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from monitor.audio.decode import Limits, fingerprint_file
from monitor.audio.identify import AudioIdentifier
from monitor.audio.matcher import Matcher
from monitor.audio.process import limit_processes
from monitor.errors import AudioUnusable
from monitor.signatures.catalogue import Catalogue
from monitor.store.audio import forget_references, indexed_hashes, load_references, save_reference


@dataclass
class IndexReport:
    """What one indexing run did."""

    indexed: int = 0
    unchanged: int = 0
    failed: list[tuple[str, str]] | None = None  # (track id, reason)
    removed: int = 0

    def line(self) -> str:
        """A one-line summary."""
        failed = self.failed or []
        return f"{self.indexed} indexed, {self.unchanged} unchanged, {len(failed)} failed, {self.removed} removed"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def index_catalogue(
    catalogue: Catalogue, db: sqlite_utils.Database, limits: Limits, progress: Callable[[str], None] | None = None
) -> IndexReport:
    """Fingerprint every track's ``audio`` file whose path or SHA-256 changed since it was stored (a file that
    failed is not retried until it changes); drop references of tracks that left the catalogue or lost their file."""
    report = IndexReport(failed=[])
    stored = indexed_hashes(db)
    tracks = [t for t in catalogue.tracks if t.audio]
    report.removed = forget_references(db, {t.id for t in tracks})
    for n, track in enumerate(tracks, 1):
        path = Path(track.audio)
        try:
            sha = _sha256(path)
        except OSError as exc:
            report.failed.append((track.id, f"unreadable: {exc.strerror}"))
            continue
        if stored.get(track.id) == (str(path), sha):
            report.unchanged += 1
            continue
        try:
            fp = fingerprint_file(path, limits)
            save_reference(db, track.id, str(path), sha, fp.frames, fp.decoded_seconds)
            report.indexed += 1
        except AudioUnusable as exc:
            save_reference(db, track.id, str(path), sha, None, 0.0, exc.reason)
            report.failed.append((track.id, exc.reason))
        if progress is not None:
            progress(f"[{n}/{len(tracks)}] {track.id} {path.name}")
    return report


def load_matcher(db: sqlite_utils.Database) -> Matcher:
    """The matcher over every stored reference fingerprint (built in memory)."""
    return Matcher(load_references(db))


def catalogue_identifier(catalogue: Catalogue, db: sqlite_utils.Database, audio) -> tuple[AudioIdentifier | None, str]:
    """Index the catalogue's reference audio (unchanged files are skipped) and the identifier probes hold, with
    the one line to log; None when no track names reference audio or none could be fingerprinted."""
    limit_processes(audio.max_processes)
    if not any(t.audio for t in catalogue.tracks):
        return None, "audio matching off: no catalogue track names reference audio (the catalogue's audio column)"
    report = index_catalogue(catalogue, db, Limits.from_settings(audio, reference=True))
    matcher = load_matcher(db)
    line = f"audio index: {report.line()}; {len(matcher)} reference(s) loaded"
    if not len(matcher):
        return None, f"{line}: audio matching off"
    return AudioIdentifier(matcher, Limits.from_settings(audio), audio.speed_variants), line
