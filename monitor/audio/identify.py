"""Identify a file (path or bytes) against a matcher: decode, fingerprint, match; failures become a reason."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

from monitor.audio.decode import Limits, fingerprints
from monitor.audio.matcher import Matcher
from monitor.audio.model import AudioResult
from monitor.errors import AudioUnusable


class AudioIdentifier:
    """A matcher with the decoder limits it runs under (what probes and the CLI hold)."""

    def __init__(self, matcher: Matcher, limits: Limits, variants: bool = True):
        self.matcher, self.limits, self.variants = matcher, limits, variants

    def identify(self, source: Path | bytes) -> AudioResult:
        """The best match of ``source``, or no match with the reason it could not be used."""
        if not len(self.matcher):
            return AudioResult(None, "no_references", "the catalogue has no indexed reference audio")
        try:
            return AudioResult(self.matcher.best(fingerprints(source, self.limits, self.variants)))
        except AudioUnusable as exc:
            return AudioResult(None, exc.reason, exc.detail)

    def identify_many(self, sources: Mapping[str, bytes]) -> dict[str, AudioResult]:
        """``url -> result`` for fetched bodies (blocking: probes call it in a worker thread). Identical bodies
        (the same file under two URLs) are decoded once."""
        done: dict[bytes, AudioResult] = {}
        out = {}
        for url, body in sources.items():
            key = hashlib.sha256(body).digest()
            if key not in done:
                done[key] = self.identify(body)
            out[url] = done[key]
        return out
