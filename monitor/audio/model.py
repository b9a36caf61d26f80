"""What audio matching passes around: fingerprints, matches, unusable-input reasons, and checks on decoded samples."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Chromaprint (algorithm 2, fpcalc's default) works on 11025 Hz mono and emits one 32-bit item every 4096/3 samples.
SAMPLE_RATE = 11_025
FRAME_SECONDS = 4096 / 3 / SAMPLE_RATE
# Below this RMS (of full scale 32768) a decode is treated as silence: its fingerprint is a constant that would
# "match" the silent stretches of any reference.
SILENCE_RMS = 30.0
# Fewer frames than this (~3 s) carry too little to identify anything.
MIN_FRAMES = 24


@dataclass(frozen=True)
class Fingerprint:
    """A raw Chromaprint fingerprint of one decode (``variant`` names the speed correction applied, ``""`` none)."""

    frames: np.ndarray  # uint32, one item per FRAME_SECONDS
    variant: str = ""
    decoded_seconds: float = 0.0

    @property
    def seconds(self) -> float:
        """Duration the fingerprint covers."""
        return len(self.frames) * FRAME_SECONDS


@dataclass(frozen=True)
class AudioMatch:
    """A query identified as a reference track: where in the reference, how much of it, how well."""

    track: str
    score: float  # 1 - bit error rate over the matched windows
    offset_seconds: float  # where the query's first frame lies in the reference (negative: query starts earlier)
    matched_seconds: float
    variant: str = ""  # the speed correction under which it matched

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {"track": self.track, "score": round(self.score, 4), "offset_seconds": round(self.offset_seconds, 2),
                "matched_seconds": round(self.matched_seconds, 2), "variant": self.variant}  # fmt: skip


@dataclass(frozen=True)
class AudioResult:
    """The outcome for one file: a match, or none with the reason when the file could not be used."""

    match: AudioMatch | None = None
    reason: str = ""  # '' when the audio was fingerprinted; else e.g. 'not_audio', 'silence', 'timeout'
    detail: str = ""

    @property
    def usable(self) -> bool:
        """True when the file was decoded and fingerprinted (whether or not it matched)."""
        return not self.reason


def pcm_problem(pcm: bytes) -> str:
    """``''`` when 16-bit mono PCM is worth fingerprinting, else the reason: ``too_short`` or ``silence``."""
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2")
    if len(samples) < MIN_FRAMES * 4096 // 3:
        return "too_short"
    rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))
    return "silence" if rms < SILENCE_RMS else ""


def parse_fpcalc_raw(text: str) -> np.ndarray:
    """The ``FINGERPRINT=`` line of ``fpcalc -raw`` as uint32 frames (empty when absent or malformed)."""
    for line in text.splitlines():
        if line.startswith("FINGERPRINT="):
            body = line.split("=", 1)[1].strip()
            try:
                values = [int(v) for v in body.split(",") if v]
            except ValueError:
                return np.zeros(0, dtype=np.uint32)
            return np.array([v & 0xFFFFFFFF for v in values], dtype=np.uint32)
    return np.zeros(0, dtype=np.uint32)
