"""read_tags on real (built) MP3, Ogg Opus, FLAC and M4A bytes, truncated prefixes and garbage."""

from __future__ import annotations

import os
import random

import pytest
from mutagen.id3 import TIT2
from sig_audio import flac_file, m4a_file, m4a_moov_at_end, mpeg_frames, ogg_opus, scdl_mp3, tagged_mp3

from monitor.signatures.tags import FileTags, read_tags

PERMALINK = "https://soundcloud.com/example-artist/night-drive"


def test_scdl_style_mp3(tmp_path):
    tags = read_tags(scdl_mp3(tmp_path), filename="night-drive.mp3", content_type="audio/mpeg")
    assert tags.format == "mp3" and tags.has_id3 and tags.complete and not tags.errors
    assert tags.frames["WOAF"] == PERMALINK and tags.frames["TXXX:purl"] == PERMALINK
    assert tags.frames["COMM"] == "synthwave night ride"
    assert tags.frames["TIT2"] == "Night Drive" and tags.frames["TPE1"] == "Example Artist"
    assert tags.pictures == ("Cover (front)",) and tags.frames["APIC"] == "Cover (front)"
    assert tags.bitrate == 128000 and tags.bitrate_mode == "cbr" and tags.sample_rate == 44100


def test_raw_stream_shaped_mp3():
    body = mpeg_frames(40, 128)
    tags = read_tags(body[:5000])
    assert tags.format == "mp3" and not tags.has_id3 and tags.frames == {}
    assert (tags.bitrate, tags.bitrate_mode, tags.duration) == (128000, "cbr", None)  # prefix: length unknown
    sized = read_tags(body[:5000], total_size=len(body))
    assert sized.duration == pytest.approx(40 * 1152 / 44100, abs=0.01)


def test_vbr_frames_are_not_cbr():
    assert read_tags(mpeg_frames(8, [128, 192, 160, 128, 320, 128, 64, 128])).bitrate_mode == "vbr"


def test_id3_tag_cut_off_keeps_the_frames_it_has(tmp_path):
    full = scdl_mp3(tmp_path)
    end = full.index(b"APIC")  # cut inside the tag, before the picture
    tags = read_tags(full[:end])
    assert not tags.complete and tags.has_id3
    assert tags.frames["WOAF"] == PERMALINK and tags.pictures == ()
    assert read_tags(full).complete
    small = tagged_mp3(tmp_path, [TIT2(encoding=3, text="Night Drive")])
    assert read_tags(small[:20]).frames == {} and not read_tags(small[:20]).complete


def test_every_prefix_of_every_format_reads_without_raising(tmp_path):
    files = {
        "mp3": scdl_mp3(tmp_path),
        "opus": ogg_opus([("WWWAUDIOFILE", PERMALINK), ("COMMENT", "c")], audio_pages=4),
        "flac": flac_file(tmp_path, {"WWWAUDIOFILE": PERMALINK}, picture_desc="Cover (front)"),
        "mp4": m4a_file(tmp_path, {"©cmt": PERMALINK}),
    }
    recognised_from = {"mp3": 10, "opus": 36, "flac": 4, "mp4": 8}  # bytes needed to tell the format
    for fmt, body in files.items():
        for cut in [*range(0, min(len(body), 300)), *range(300, len(body), 97)]:
            tags = read_tags(body[:cut])
            assert isinstance(tags, FileTags)
            expected = fmt if cut >= recognised_from[fmt] else "ogg" if fmt == "opus" and cut >= 4 else "unknown"
            assert tags.format == expected, (fmt, cut)
        assert read_tags(body).complete, fmt


def test_ogg_opus():
    body = ogg_opus([("WWWAUDIOFILE", PERMALINK), ("purl", PERMALINK), ("comment", "from scdl")])
    tags = read_tags(body)
    assert tags.format == "opus" and tags.complete
    assert tags.frames["WWWAUDIOFILE"] == PERMALINK and tags.frames["PURL"] == PERMALINK
    assert tags.frames["COMMENT"] == "from scdl"
    assert 60000 < tags.bitrate < 70000  # ~64 kbit/s pages
    assert tags.duration == pytest.approx(20 * 0.2, abs=0.01)
    head = read_tags(body[:3000])
    assert head.frames["WWWAUDIOFILE"] == PERMALINK and head.duration is None


def test_flac():
    import tempfile
    from pathlib import Path

    body = flac_file(Path(tempfile.mkdtemp()), {"WWWAUDIOFILE": PERMALINK + "/s-Xy12Ab"}, picture_desc="Cover (front)")
    tags = read_tags(body)
    assert tags.format == "flac" and tags.complete
    assert tags.frames["WWWAUDIOFILE"].endswith("/s-Xy12Ab")
    assert tags.pictures == ("Cover (front)",) and tags.duration == 10.0 and tags.sample_rate == 44100
    cut = read_tags(body[:60])
    assert not cut.complete and cut.duration == 10.0 and "cut off" in cut.errors[0]


def test_mp4_tags(tmp_path):
    body = m4a_file(tmp_path, {"©cmt": PERMALINK, "purl": PERMALINK, "----:com.apple.iTunes:WWWAUDIOFILE": PERMALINK})
    tags = read_tags(body)
    assert tags.format == "mp4" and tags.complete and tags.duration == 5.0
    for key in ("©cmt", "purl", "----:com.apple.iTunes:WWWAUDIOFILE"):
        assert tags.frames[key] == PERMALINK


def test_mp4_with_moov_at_the_end_is_incomplete():
    tags = read_tags(m4a_moov_at_end(), filename="x.m4a")
    assert tags.format == "mp4" and not tags.complete and "moov" in tags.errors[0]


@pytest.mark.parametrize(
    "head",
    [b"", b"ID3", b"ID3\x04\x00\x00\x7f\x7f\x7f\x7f" + b"\xff" * 64, b"OggS" + b"\x00" * 40, b"fLaC\xff\xff\xff\xff",
     b"\x00\x00\x00\x18ftyp" + b"\xff" * 100, b"\xff\xfb" * 500, b"RIFF....WAVE", b"text"],
)  # fmt: skip
def test_garbage_does_not_raise(head):
    tags = read_tags(head, filename="x.mp3", content_type="audio/mpeg")
    assert isinstance(tags, FileTags)


def test_random_bytes_behind_every_magic_do_not_raise():
    rnd = random.Random(1234)
    for magic in (
        b"ID3\x03\x00\x00",
        b"ID3\x04\x00\x10",
        b"OggS\x00\x02",
        b"fLaC",
        b"\x00\x00\x00\x20ftypM4A ",
        b"\xff\xfb\x90",
    ):
        for _ in range(150):
            body = magic + bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(0, 600)))
            assert isinstance(read_tags(body), FileTags)
    assert isinstance(read_tags(os.urandom(1 << 16)), FileTags)


def test_not_bytes_is_unknown():
    assert read_tags(None).format == "unknown"  # type: ignore[arg-type]
