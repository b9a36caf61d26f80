"""#35 ``SC-AUDIO-MATCH``: audio a third party served, identified as a catalogue track by its fingerprint.

The matcher runs in the probe (decoding is not pure); this turns its answer into a signature match like any other,
with the catalogue row's severity: a no-AI or canary track is critical, any other protected track high.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from monitor.signatures.catalogue import Catalogue
from monitor.signatures.data import BY_ID, Signature
from monitor.signatures.model import Match


def audio_match(sig: Signature, url: str, match: Mapping[str, Any], catalogue: Catalogue | None) -> list[Match]:
    """One match for ``url`` whose audio the matcher identified (``match``: AudioMatch.as_dict())."""
    track_id = str(match["track"])
    track = catalogue.by_id.get(track_id) if catalogue is not None else None
    data: dict[str, Any] = {"audio_match": dict(match)}
    severity = sig.severity
    name = track_id
    if track is not None:
        data["catalogue_track"] = track.summary()
        name = f"{track.title or track.id} by {track.artist}" if track.artist else (track.title or track.id)
        if track.no_ai or track.canary:
            severity = "critical"
            data["escalated"] = f"names protected track {track.id} ({'no_ai' if track.no_ai else 'canary'})"
    else:
        data["catalogue_track"] = {"id": track_id}  # indexed earlier, since left the catalogue: still ours
    score, offset = match.get("score", 0.0), match.get("offset_seconds", 0.0)
    seconds = match.get("matched_seconds", 0.0)
    variant = f" under a {match['variant']} correction" if match.get("variant") else ""
    detail = (
        f"Audio file is catalogue track {track_id} ({name}): fingerprint score {score:.2f}{variant}, "
        f"{seconds:.0f} s matched from {offset:.1f} s into the reference."
    )
    return [Match(sig.id, sig.family, severity, url, detail, f"track {track_id} score {score:.2f}", None, data)]


AUDIO_RULES: dict[str, Callable[..., list[Match]]] = {"audio_match": audio_match}


def scan_audio_match(url: str, match: Mapping[str, Any] | None, catalogue: Catalogue | None = None) -> list[Match]:
    """#35 for one audio file: ``match`` is the matcher's answer as a dict (None or no track: no match)."""
    if not match or not match.get("track"):
        return []
    sig = BY_ID["SC-AUDIO-MATCH"]
    return AUDIO_RULES[sig.rule or ""](sig, url, match, catalogue)
