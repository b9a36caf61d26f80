"""Audio fixtures: the references fingerprinted once per session, altered copies and negatives made once."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.audio.decode import fingerprint_file
from monitor.audio.matcher import Matcher
from tests.helpers.audio_files import (
    ALTERATIONS,
    MUSIC,
    NEGATIVES,
    REFERENCE_LIMITS,
    REFERENCES,
    ffmpeg,
    make_query,
)


@pytest.fixture(scope="session")
def audio_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("audio")


@pytest.fixture(scope="session")
def reference_frames() -> dict:
    """Track id -> fingerprint frames of the three references (fingerprinted once per session)."""
    return {tid: fingerprint_file(MUSIC / name, REFERENCE_LIMITS).frames for tid, name in REFERENCES.items()}


@pytest.fixture(scope="session")
def matcher(reference_frames) -> Matcher:
    return Matcher(reference_frames)


class _Queries(dict):
    """(track id, alteration) -> altered copy, made on first use (a worker makes only the copies its tests read)."""

    def __init__(self, out: Path):
        super().__init__()
        self.out = out

    def __missing__(self, key: tuple[str, str]) -> Path:
        track, alteration = key
        assert alteration in ALTERATIONS, alteration
        self[key] = make_query(MUSIC / REFERENCES[track], alteration, self.out)
        return self[key]


@pytest.fixture(scope="session")
def queries(audio_dir) -> dict[tuple[str, str], Path]:
    """(track id, alteration) -> altered copy."""
    out = audio_dir / "queries"
    out.mkdir()
    return _Queries(out)


@pytest.fixture(scope="session")
def negatives(audio_dir) -> list[Path]:
    """30 s of each unrelated track, as MP3."""
    out = audio_dir / "negatives"
    out.mkdir()
    paths = []
    for name in NEGATIVES:
        path = out / f"{Path(name).stem}.mp3"
        ffmpeg("-ss", "30", "-t", "30", "-i", str(MUSIC / name), "-b:a", "64k", str(path))
        paths.append(path)
    return paths
