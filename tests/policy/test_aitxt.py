"""Spawning ai.txt parsing, may_use verdicts and audio-type reservation."""

import time

import pytest

from monitor.policy.aitxt import AUDIO_TYPES, may_use, parse_aitxt, reserved_audio_types, to_usage

GENERATOR = b"""# Spawning AI
# Prevent datasets from using the following file types

User-Agent: *
Disallow: *.txt
Disallow: *.pdf
Disallow: *.aac
Disallow: *.mp3
Disallow: *.flac
Disallow: *.m4a
Disallow: *.opus
Disallow: *.wav
Disallow: *.ogg
"""


@pytest.mark.parametrize(
    ("path", "allowed", "line"),
    [("/a/song.mp3", False, 8), ("/a/song.mp3?x=1", False, 8), ("/x.mp3s/y", False, 8),
     ("https://cdn.example/s/t.flac", False, 9), ("/track/1", True, None), ("/a.MP3", True, None)],
)  # fmt: skip
def test_generator_media_patterns(path, allowed, line):
    v = may_use(parse_aitxt(GENERATOR, "text/plain; charset=utf-8"), "GPTBot", path)
    assert (v.allowed, v.line) == (allowed, line)


def test_audio_reservation():
    res = reserved_audio_types(parse_aitxt(GENERATOR))
    assert set(res.reserved) == {"mp3", "m4a", "opus", "ogg", "wav", "flac", "aac"}
    assert not res.all_reserved  # m3u8 is not in the generator's audio class
    everything = reserved_audio_types(parse_aitxt("User-Agent: *\nDisallow: /\n"))
    assert everything.all_reserved and set(everything.reserved) == set(AUDIO_TYPES)
    assert reserved_audio_types(parse_aitxt("User-Agent: *\nDisallow: *\n")).all_reserved


@pytest.mark.parametrize(
    ("body", "agent", "path", "allowed"),
    [
        ("User-Agent: *\nDisallow: *.mp3\nAllow: /free/*.mp3\n", "x", "/free/a.mp3", True),  # longer wins
        ("User-Agent: *\nDisallow: /*.mp3\nAllow: /a.mp3\n", "x", "/a.mp3", True),  # tie -> allow
        (
            "User-Agent: *\nDisallow: /\n\nUser-Agent: LAIONDownloader\nDisallow: *.wav\n",
            "laiondownloader/1.0",
            "/a.mp3",
            True,
        ),
        ("User-Agent: *\nDisallow: /\n\nUser-Agent: LAIONDownloader\nDisallow: *.wav\n", "Other", "/a.mp3", False),
        ("User-Agent: *\nDisallow:\n", "x", "/a.mp3", True),
        ("User-Agent: A\nUser-Agent: B\nDisallow: /\n", "b", "/", False),
        ("Disallow: /\nUser-Agent: *\n", "x", "/a", True),
        ("", "x", "/a", True),
        ("user-agent: *\ndisallow: *.mp3$\n", "x", "/a.mp3?x", True),
    ],
)
def test_may_use_table(body, agent, path, allowed):
    assert may_use(parse_aitxt(body), agent, path).allowed is allowed


def test_to_usage():
    v = may_use(parse_aitxt(GENERATOR), "*", "/a.mp3")
    d = to_usage(v).get("train-ai")
    assert (d.value, d.source.signal, d.source.line, d.original_key) == ("no", "ai.txt", 8, "Disallow: *.mp3")
    assert to_usage(may_use(parse_aitxt(GENERATOR), "*", "/a")).as_dict() == {}


@pytest.mark.parametrize(
    ("body", "ctype", "valid", "code"),
    [(b"<!DOCTYPE html><html><body>app</body></html>", "text/html", False, "html"),
     (b"Allow-AI: yes\nTraining: no\n", "text/plain", False, "dialect"),
     (b"# only comments\n", None, False, "dialect"), (GENERATOR, "text/html", True, "content-type"),
     (b"\xef\xbb\xbfUser-Agent: *\r\nDisallow: *.mp3\rDisallow: /x\n", None, True, None)],
)  # fmt: skip
def test_validity_and_lints(body, ctype, valid, code):
    a = parse_aitxt(body, ctype)
    assert a.valid is valid
    assert (code in {e.code for e in a.errors}) if code else a.errors == ()


def test_line_numbers_with_mixed_line_ends():
    a = parse_aitxt(b"User-Agent: *\r\nDisallow: *.mp3\rDisallow: /x\n")
    assert [r.line for r in a.groups[0].rules] == [2, 3]


@pytest.mark.parametrize(
    "body", [b"\x00\xff" * 1000, b"\xc3\x28" * 100, None, b"User-Agent: *\nDisallow: " + b"*" * 100_000]
)
def test_garbage_never_raises(body):
    may_use(parse_aitxt(body), "x", "/a.mp3")


def test_ten_megabytes_bounded():
    body = b"User-Agent: *\n" + b"Disallow: *.mp3\n" * (10 * 1024 * 1024 // 16)
    t0 = time.monotonic()
    a = parse_aitxt(body)
    assert a.truncated and not may_use(a, "x", "/a.mp3").allowed
    assert time.monotonic() - t0 < 5
