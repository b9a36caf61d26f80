"""The matcher: picks the best identification of one file among its plain and speed-corrected fingerprints."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from monitor.audio.index import AudioIndex
from monitor.audio.model import AudioMatch, Fingerprint

# A plain-decode match this good ends the search; a weaker one (a sped-up copy still matching a few windows) is
# compared with the corrected decodes, which place the offset and the matched duration better.
STRONG_SCORE = 0.85
# A match found only under a speed correction needs a longer run (~12 s) than a plain one (MIN_RUN, ~6 s): each of
# the 20 corrections is one more chance for chance agreement. Measured (benchmarks/audio_match.py, 600 s
# references, 30 s excerpts of 4 unindexed tracks under every correction, 420 fingerprints): unrelated music runs
# at most 4 windows, while true +-4/+-5 % speed and tempo copies of 20 s run 9-10 windows (score >= 0.88) under
# the correction that undoes them: 6 leaves two windows of margin below and three above.
VARIANT_MIN_RUN = 6


class Matcher:
    """An in-memory index of the catalogue's reference fingerprints (pure: give it fingerprints, get matches)."""

    def __init__(self, references: Mapping[str, np.ndarray]):
        self.index = AudioIndex(references)

    def __len__(self) -> int:
        return len(self.index)

    def best(self, fingerprints: Iterable[Fingerprint]) -> AudioMatch | None:
        """The first fingerprint's match when it is strong (the common case, and the cheap one); otherwise the
        strongest match among all fingerprints, so that the offset comes from the correction closest to the
        alteration."""
        best: tuple[tuple, AudioMatch] | None = None
        for n, fingerprint in enumerate(fingerprints):
            found, alignment = self.index.match(fingerprint)
            if found is None or alignment is None:
                continue
            if n > 0 and alignment.longest_run < VARIANT_MIN_RUN:
                continue
            if n == 0 and found.score >= STRONG_SCORE:
                return found
            rank = (alignment.longest_run, alignment.score)
            if best is None or rank > best[0]:
                best = (rank, found)
        return best[1] if best else None
