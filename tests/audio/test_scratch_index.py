"""One-off scans (no store) copy the stored reference fingerprints into memory: unchanged references are not
fingerprinted again, changed ones are fingerprinted in memory only, and the database file is never written."""

from __future__ import annotations

import hashlib

import numpy as np

from monitor.audio.catalogue_index import index_catalogue
from monitor.audio.decode import Limits
from monitor.db import open_db
from monitor.runtime.components import audio_identifier
from monitor.signatures.catalogue import Catalogue, CatalogueTrack
from monitor.store.audio import load_references
from tests.helpers.audio_files import MUSIC, ffmpeg


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_scan_without_a_store_uses_an_in_memory_copy_of_the_stored_references(settings, tmp_path, queries):
    refs = {"t1": tmp_path / "t1.mp3", "t2": tmp_path / "t2.mp3"}
    for (_tid, path), source in zip(refs.items(), ("music004.ogg", "music005.ogg"), strict=True):
        ffmpeg("-t", "60", "-i", str(MUSIC / source), "-b:a", "64k", str(path))
    catalogue = Catalogue()
    for tid, path in refs.items():
        catalogue.add(CatalogueTrack(tid, f"soundcloud.com/example/{tid}", audio=str(path)))
    settings.storage.data_dir.mkdir()
    disk = open_db(settings.storage.database_path)
    assert index_catalogue(catalogue, disk, Limits.from_settings(settings.audio, reference=True)).indexed == 2
    stored = load_references(disk)
    disk.close()
    before = _digest(settings.storage.database_path)

    # Unchanged references are copied, not fingerprinted: a missing decoder does not matter.
    settings.audio.ffmpeg_path = str(tmp_path / "no-ffmpeg")
    copied = audio_identifier(settings, catalogue, None)
    assert copied is not None and sorted(copied.matcher.index.track_ids) == ["t1", "t2"]
    for n, tid in enumerate(copied.matcher.index.track_ids):
        assert np.array_equal(copied.matcher.index.refs[n], stored[tid])

    # A changed file is fingerprinted again, in memory: t2 is now music006 and a copy of music006 matches it.
    ffmpeg("-t", "60", "-i", str(MUSIC / "music006.ogg"), "-b:a", "64k", str(refs["t2"]))
    settings.audio.ffmpeg_path = "ffmpeg"
    fresh = audio_identifier(settings, catalogue, None)
    assert fresh is not None
    found = fresh.identify(queries[("1003", "mp3_32k")])  # 40-60 s of music006
    assert found.match is not None and found.match.track == "t2"
    assert fresh.identify(queries[("1002", "mp3_32k")]).match is None  # music005: t2's old audio, gone from memory
    # The database file was not written (a read-only SQLite reader of a WAL database may leave empty -wal/-shm).
    assert _digest(settings.storage.database_path) == before
    assert all(p.stat().st_size == 0 for p in settings.storage.data_dir.glob("*-wal"))

    # No database at all: everything is fingerprinted in memory and no file appears.
    settings.storage.database = tmp_path / "elsewhere" / "none.db"
    scratch = audio_identifier(settings, catalogue, None)
    assert scratch is not None and len(scratch.matcher) == 2
    assert not (tmp_path / "elsewhere").exists()
