"""Identify a file (path or bytes) against a matcher: decode, fingerprint, match; failures become a reason."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from pathlib import Path

from monitor.audio.decode import Limits, fingerprints
from monitor.audio.matcher import Matcher
from monitor.audio.model import AudioResult
from monitor.audio.process import Cancel
from monitor.errors import AudioUnusable


class AudioIdentifier:
    """A matcher with the decoder limits it runs under (what probes and the CLI hold)."""

    def __init__(self, matcher: Matcher, limits: Limits, variants: bool = True):
        self.matcher, self.limits, self.variants = matcher, limits, variants

    def identify(self, source: Path | bytes, cancel: Cancel | None = None) -> AudioResult:
        """The best match of ``source``, or no match with the reason it could not be used."""
        if not len(self.matcher):
            return AudioResult(None, "no_references", "the catalogue has no indexed reference audio")
        try:
            return AudioResult(self.matcher.best(fingerprints(source, self.limits, self.variants, cancel)))
        except AudioUnusable as exc:
            return AudioResult(None, exc.reason, exc.detail)

    def identify_many(self, sources: Mapping[str, bytes], cancel: Cancel | None = None) -> dict[str, AudioResult]:
        """``url -> result`` for fetched bodies (blocking: probes call :meth:`identify_async`). Identical bodies
        (the same file under two URLs) are decoded once."""
        done: dict[bytes, AudioResult] = {}
        out = {}
        for url, body in sources.items():
            if cancel is not None and cancel.is_set():
                break
            key = hashlib.sha256(body).digest()
            if key not in done:
                done[key] = self.identify(body, cancel)
            out[url] = done[key]
        return out

    async def identify_async(self, sources: Mapping[str, bytes]) -> dict[str, AudioResult]:
        """:meth:`identify_many` in a worker thread (decoding takes seconds; the loop keeps serving other jobs).
        Cancelling the awaiting task kills the decoder's running subprocesses instead of leaving the thread to run
        them to their timeout."""
        cancel = Cancel()
        try:
            return await asyncio.to_thread(self.identify_many, sources, cancel)
        except asyncio.CancelledError:
            cancel.set()
            raise
