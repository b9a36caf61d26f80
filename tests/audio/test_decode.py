"""Inputs the decoder must survive: truncated, not audio, silence, long, 8 kHz mono, corrupt headers, a hung
decoder: each gives a reason (or a usable decode), never a crash or a false match."""

from __future__ import annotations

import pytest

from monitor.audio.decode import Limits, decode_pcm, fingerprint_file
from monitor.audio.identify import AudioIdentifier
from monitor.errors import AudioUnusable
from tests.helpers.audio_files import MUSIC, ffmpeg

LIMITS = Limits(max_seconds=60, timeout_seconds=30)


@pytest.fixture(scope="session")
def identify(matcher):
    return AudioIdentifier(matcher, LIMITS).identify


def _reason(identify, source) -> str:
    result = identify(source)
    assert result.match is None, result
    return result.reason


def test_truncated_files_use_what_decodes_or_say_too_short(identify, queries):
    data = queries[("1001", "mp3_32k")].read_bytes()
    head = identify(data[: len(data) // 2])  # ~10 s of a 20 s MP3, cut mid-frame
    assert head.match is not None and head.match.track == "1001"
    assert _reason(identify, data[:3000]) == "too_short"


def test_not_audio_and_corrupt_headers(identify, tmp_path):
    text = tmp_path / "notes.mp3"
    text.write_text("this is not audio\n" * 200)
    assert _reason(identify, text) == "not_audio"
    assert _reason(identify, b"\x00" * 50_000) == "not_audio"
    assert _reason(identify, tmp_path / "missing.mp3") == "not_audio"
    wav = tmp_path / "x.wav"
    ffmpeg("-t", "10", "-i", str(MUSIC / "music004.ogg"), str(wav))
    data = bytearray(wav.read_bytes())
    data[:64] = b"\x13" * 64  # RIFF/WAVE header destroyed
    assert _reason(identify, bytes(data)) == "not_audio"


def test_silence_is_not_fingerprinted(identify, tmp_path):
    path = tmp_path / "silence.mp3"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo", "-t", "20", str(path))
    assert _reason(identify, path) == "silence"


def test_a_long_file_is_cut_at_the_duration_cap(matcher):
    # music004 is ten minutes long; the cap stands in for a two-hour upload
    fp = fingerprint_file(MUSIC / "music004.ogg", Limits(max_seconds=25))
    # Chromaprint's filters need ~3 s of context, so the frames cover a little less than what was decoded
    assert 24.0 <= fp.decoded_seconds <= 25.01 and 20.0 <= fp.seconds <= 25.0
    assert matcher.best([fp]).track == "1001"


def test_input_byte_cap_reads_the_head_only(matcher):
    limits = Limits(max_seconds=600, max_input_bytes=300_000)  # ~25 s of a ~65 kbit/s Vorbis file
    fp = fingerprint_file(MUSIC / "music004.ogg", limits)
    assert fp.decoded_seconds < 60
    assert matcher.best([fp]).track == "1001"


def test_a_hung_decoder_is_killed_at_the_timeout(tmp_path, queries):
    hung = tmp_path / "ffmpeg"
    hung.write_text("#!/bin/sh\nexec sleep 30\n")
    hung.chmod(0o755)
    with pytest.raises(AudioUnusable) as caught:
        decode_pcm(queries[("1001", "mp3_32k")], Limits(ffmpeg=str(hung), timeout_seconds=0.5))
    assert caught.value.reason == "timeout"
    with pytest.raises(AudioUnusable) as missing:
        decode_pcm(queries[("1001", "mp3_32k")], Limits(ffmpeg=str(tmp_path / "nope")))
    assert missing.value.reason == "unavailable"


def test_mono_8khz_negative_does_not_match(identify, negatives, tmp_path):
    path = tmp_path / "neg8k.wav"
    ffmpeg("-i", str(negatives[0]), "-ac", "1", "-ar", "8000", str(path))
    result = identify(path)
    assert result.usable and result.match is None
