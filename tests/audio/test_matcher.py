"""Identification of altered copies of catalogue tracks, no match for unrelated music, and the index's parts."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.audio.decode import VARIANTS, Limits
from monitor.audio.identify import AudioIdentifier
from monitor.audio.index import AudioIndex, align
from monitor.audio.matcher import Matcher
from monitor.audio.model import FRAME_SECONDS, Fingerprint
from tests.helpers.audio_files import ALTERATIONS, REFERENCES

QUERY_LIMITS = Limits(max_seconds=120)


@pytest.fixture(scope="session")
def identifier(matcher):
    return AudioIdentifier(matcher, QUERY_LIMITS)


@pytest.mark.parametrize("alteration", sorted(ALTERATIONS))
def test_every_altered_copy_is_identified_with_its_place(identifier, queries, alteration):
    for track in REFERENCES:
        result = identifier.identify(queries[(track, alteration)])
        assert result.usable, result
        assert result.match is not None, (track, alteration)
        assert result.match.track == track
        expected_offset = 0.0 if alteration == "intro_15s" else 40.0
        # a speed change moves where the copy's start lands in the reference by a couple of seconds at most
        assert abs(result.match.offset_seconds - expected_offset) < 3.0, result.match
        assert 5.9 <= result.match.matched_seconds <= 21.0  # at least the 3 windows (~6 s) the decision needs


def test_unrelated_music_matches_nothing_even_with_every_speed_correction(identifier, negatives):
    for path in negatives:
        result = identifier.identify(path)
        assert result.usable and result.match is None, (path.name, result)


def test_a_tempo_change_needs_a_corrected_decode(matcher, queries):
    from monitor.audio.decode import fingerprints

    plain, *variants = list(fingerprints(queries[("1001", "speed_plus_4")], QUERY_LIMITS, variants=True))
    assert len(variants) == len(VARIANTS) == 20
    assert {v.variant for v in variants} >= {"speed-4.0%", "speed+6.0%", "tempo+2.5%", "pitch-2.5%"}
    best = matcher.best([Fingerprint(plain.frames, "x"), *variants])  # force the variant search
    assert best is not None and best.track == "1001" and best.variant.startswith(("speed", "pitch"))


def test_candidates_point_at_the_right_offset_and_alignment_scores_it(reference_frames):
    index = AudioIndex(reference_frames)
    ref = reference_frames["1002"]
    query = ref[300:500].copy()
    query ^= np.uint32(0x00000101)  # flip two low bits of every frame: sub-hashes (top 20 bits) survive
    track, offset, votes = index.candidates(query)[0]
    assert (index.track_ids[track], offset) == ("1002", 300) and votes > 150
    assert align(query, ref, 300, "1002").score == pytest.approx(1 - 2 / 32)
    assert not align(query, reference_frames["1001"], 300, "1001").is_match  # another track at that offset


def test_random_fingerprints_and_held_frames_match_nothing(matcher):
    rng = np.random.default_rng(7)
    assert matcher.best([Fingerprint(rng.integers(0, 2**32, 400, dtype=np.uint32))]) is None
    # a held frame (silence, drone) is uninformative even where a reference holds the same value
    held = np.full(400, matcher.index.refs[0][0], dtype=np.uint32)
    assert matcher.best([Fingerprint(held)]) is None


def test_an_empty_matcher_says_why():
    result = AudioIdentifier(Matcher({}), QUERY_LIMITS).identify(b"whatever")
    assert result.match is None and result.reason == "no_references"
    assert pytest.approx(0.1238, abs=1e-4) == FRAME_SECONDS


@pytest.mark.parametrize(("windows", "as_variant", "matched"), [(4, False, True), (5, True, False), (6, True, True)])
def test_a_match_under_a_speed_correction_needs_a_longer_run(windows, as_variant, matched):
    """Twenty corrections are twenty more chances of chance agreement: a corrected decode needs ~12 s, not ~6 s."""
    rng = np.random.default_rng(11)
    ref = rng.integers(0, 2**32, 2000, dtype=np.uint32)
    query = rng.integers(0, 2**32, 160, dtype=np.uint32)
    query[: windows * 16] = ref[512 : 512 + windows * 16]  # `windows` windows of 16 frames agree, exactly
    noise = Fingerprint(rng.integers(0, 2**32, 160, dtype=np.uint32))  # the plain decode: nothing
    fingerprints = [noise, Fingerprint(query, "speed+2.5%")] if as_variant else [Fingerprint(query)]
    found = Matcher({"t": ref}).best(fingerprints)
    assert (found is not None) == matched
    if found is not None:
        assert found.track == "t" and found.offset_seconds == pytest.approx(512 * FRAME_SECONDS)
