"""The in-memory matcher: an inverted index over Chromaprint sub-hashes finds candidate (track, offset) pairs in
sub-linear time; an alignment score (bit error rate over the aligned overlap) decides.

Why this shape: comparing a query against every reference at every offset (the brute-force baseline in
benchmarks/audio_match.py) costs O(references x offsets). Like AcoustID's server, we index the top 20 bits of each
32-bit frame: re-encoding flips mostly low-significance bits of a frame, so the top 20 bits of enough frames
survive intact, and the frames that agree vote for one offset of one track. Only the few best-voted candidates
are then aligned and scored bit by bit.

Calibration (planetblupi music, windows of 16 frames ~ 2 s, min over the drift search): windows of true copies
(MP3/AAC/Opus down to 16-32 kbit/s, noise, 15 s intros, 8 kHz mono) run 6 to 13 in a row under WINDOW_BER with a
score of 0.89-0.99; +-4/+-5 % speed and tempo copies run 9-10 of their 10 windows (score 0.88-0.97) under their
best correction of the 1 % speed grid (with the earlier 2.5 % grid: 3 to 13, score 0.72-0.87, some missed).
Among every (query x variant x candidate) alignment of six unrelated 60 s excerpts no run exceeded 2 windows at
WINDOW_BER = 0.30 (runs of 5 at 0.35), hence MIN_RUN = 3: no false match measured, with a margin of one window
(benchmarks/RESULTS.md has the numbers). One pair of the package (music007 against music005) runs 9 windows under
a -5 % correction: a shared theme, transposed, which is what the variants are meant to find. Against longer (600 s)
references, corrected decodes of unrelated music reached runs of 3-4, so a match found only under a correction
needs more (``matcher.VARIANT_MIN_RUN``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from monitor.audio.model import FRAME_SECONDS, AudioMatch, Fingerprint

SUBHASH_SHIFT = 12  # keep the top 20 bits
MAX_POSTINGS = 4096  # a sub-hash this common (silence, hum) is a stop word: it votes for nothing
CANDIDATES = 8  # best-voted (track, offset) pairs aligned per query
WINDOW = 16  # frames per scored window (~2 s)
DRIFT = 2  # frames each window may slide to absorb residual tempo drift after a speed-corrected decode
WINDOW_BER = 0.30
MATCH_BER = 0.30
MIN_RUN = 3  # consecutive matched windows (~6 s) required


@dataclass(frozen=True)
class Alignment:
    """How one query lines up with one reference at one offset (in frames)."""

    track: str
    offset: int
    score: float
    matched_windows: int
    longest_run: int

    @property
    def is_match(self) -> bool:
        """The calibrated decision."""
        return self.longest_run >= MIN_RUN and self.score >= 1 - MATCH_BER


class AudioIndex:
    """Reference fingerprints with an inverted index over their sub-hashes (build once, query many times)."""

    def __init__(self, references: Mapping[str, np.ndarray]):
        self.track_ids = list(references)
        self.refs = [np.asarray(references[t], dtype=np.uint32) for t in self.track_ids]
        lengths = np.array([len(r) for r in self.refs], dtype=np.int64)
        keys = np.concatenate(self.refs) >> SUBHASH_SHIFT if self.refs else np.zeros(0, dtype=np.uint32)
        tracks = np.repeat(np.arange(len(self.refs), dtype=np.int32), lengths)
        positions = np.concatenate([np.arange(n, dtype=np.int32) for n in lengths]) if self.refs else tracks
        order = np.argsort(keys, kind="stable")
        self.keys, self.tracks, self.positions = keys[order], tracks[order], positions[order]

    def __len__(self) -> int:
        return len(self.refs)

    def candidates(self, frames: np.ndarray, limit: int = CANDIDATES) -> list[tuple[int, int, int]]:
        """The best-voted ``(track index, offset in frames, votes)`` for a query, most votes first."""
        frames = np.asarray(frames, dtype=np.uint32)
        if not len(frames) or not len(self.keys):
            return []
        informative = np.ones(len(frames), dtype=bool)
        informative[1:] = frames[1:] != frames[:-1]  # a held frame (silence, drone) votes once
        qpos = np.nonzero(informative)[0]
        qkeys = frames[qpos] >> SUBHASH_SHIFT
        lo = np.searchsorted(self.keys, qkeys, "left")
        counts = np.searchsorted(self.keys, qkeys, "right") - lo
        counts[counts > MAX_POSTINGS] = 0
        total = int(counts.sum())
        if not total:
            return []
        starts = np.repeat(lo, counts)
        within = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        post = starts + within
        offsets = self.positions[post].astype(np.int64) - np.repeat(qpos, counts)
        codes = self.tracks[post].astype(np.int64) * (1 << 32) + (offsets + (1 << 31))
        uniq, votes = np.unique(codes, return_counts=True)
        best = np.argsort(-votes, kind="stable")[:limit]
        return [(int(uniq[i] >> 32), int((uniq[i] & 0xFFFFFFFF) - (1 << 31)), int(votes[i])) for i in best]

    def align(self, frames: np.ndarray, track: int, offset: int) -> Alignment:
        """Score the query against reference ``track`` with its first frame at reference frame ``offset``."""
        return align(np.asarray(frames, dtype=np.uint32), self.refs[track], offset, self.track_ids[track])

    def match(self, fingerprint: Fingerprint) -> tuple[AudioMatch | None, Alignment | None]:
        """The best alignment among the candidates, and a match when it passes the decision threshold."""
        best: Alignment | None = None
        seen: set[tuple[int, int]] = set()
        for track, offset, _votes in self.candidates(fingerprint.frames):
            if any(t == track and abs(o - offset) <= DRIFT for t, o in seen):
                continue  # already scored: the drift search covers neighbouring offsets
            seen.add((track, offset))
            found = self.align(fingerprint.frames, track, offset)
            if best is None or (found.is_match, found.matched_windows, found.score) > (
                best.is_match,
                best.matched_windows,
                best.score,
            ):
                best = found
        if best is None or not best.is_match:
            return None, best
        return AudioMatch(
            track=best.track,
            score=best.score,
            offset_seconds=best.offset * FRAME_SECONDS,
            matched_seconds=best.matched_windows * WINDOW * FRAME_SECONDS,
            variant=fingerprint.variant,
        ), best


def window_errors(query: np.ndarray, ref: np.ndarray, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """Per window of the aligned overlap: bit error rate (best over +-DRIFT frames) and whether it is informative."""
    start, stop = max(0, -offset), min(len(query), len(ref) - offset)
    n_windows = (stop - start) // WINDOW
    if n_windows <= 0:
        return np.zeros(0), np.zeros(0, dtype=bool)
    span = n_windows * WINDOW
    q = query[start : start + span]
    best = np.full(n_windows, 32 * WINDOW, dtype=np.int64)
    for delta in range(-DRIFT, DRIFT + 1):
        lo = start + offset + delta
        r = np.zeros(span, dtype=np.uint32)
        valid = np.zeros(span, dtype=bool)
        a, b = max(lo, 0), min(lo + span, len(ref))
        if a < b:
            r[a - lo : b - lo] = ref[a:b]
            valid[a - lo : b - lo] = True
        errors = np.where(valid, np.bitwise_count(q ^ r), 32).astype(np.int64)
        best = np.minimum(best, errors.reshape(n_windows, WINDOW).sum(axis=1))
    held = np.zeros(span, dtype=bool)
    held[1:] = q[1:] == q[:-1]
    informative = held.reshape(n_windows, WINDOW).mean(axis=1) < 0.5
    return best / (32 * WINDOW), informative


def align(query: np.ndarray, ref: np.ndarray, offset: int, track: str) -> Alignment:
    """The alignment of ``query`` against ``ref`` at ``offset`` (see the module docstring for the decision)."""
    ber, informative = window_errors(query, ref, offset)
    matched = (ber < WINDOW_BER) & informative
    if not matched.any():
        return Alignment(track, offset, 0.0, 0, 0)
    run = longest = 0
    for hit in matched:
        run = run + 1 if hit else 0
        longest = max(longest, run)
    return Alignment(track, offset, float(1 - ber[matched].mean()), int(matched.sum()), longest)
