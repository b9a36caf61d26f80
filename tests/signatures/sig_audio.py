"""Real audio bytes built in tests: MPEG-1 Layer III frames, Ogg Opus pages, FLAC metadata; tags written by mutagen."""

from __future__ import annotations

import struct
from pathlib import Path

from mutagen._vorbis import VComment
from mutagen.flac import FLAC, Picture
from mutagen.id3 import APIC, COMM, ID3, TIT2, TPE1, TXXX, WOAF
from mutagen.ogg import OggPage

_KBPS = {32: 1, 64: 5, 128: 9, 160: 10, 192: 11, 320: 14}


def mpeg_frames(count: int = 12, kbps: int | list[int] = 128) -> bytes:
    """``count`` MPEG-1 Layer III frames at 44.1 kHz with zero payload (valid headers, silent garbage audio)."""
    rates = kbps if isinstance(kbps, list) else [kbps] * count
    out = b""
    for rate in rates:
        header = bytes([0xFF, 0xFB, _KBPS[rate] << 4, 0x00])
        out += header + b"\x00" * (144 * rate * 1000 // 44100 - 4)
    return out


def tagged_mp3(tmp_path: Path, frames: list, *, audio: bytes | None = None) -> bytes:
    """An MP3 with an ID3v2.4 tag holding ``frames`` (mutagen writes the tag in front of the audio)."""
    path = tmp_path / "t.mp3"
    path.write_bytes(audio if audio is not None else mpeg_frames())
    tag = ID3()
    for frame in frames:
        tag.add(frame)
    tag.save(path)
    return path.read_bytes()


def scdl_mp3(tmp_path: Path, permalink: str = "https://soundcloud.com/example-artist/night-drive") -> bytes:
    """What scdl writes: WOAF = permalink, COMM = description, APIC 'Cover (front)', title and artist."""
    return tagged_mp3(
        tmp_path,
        [
            TIT2(encoding=3, text="Night Drive"),
            TPE1(encoding=3, text="Example Artist"),
            WOAF(url=permalink),
            COMM(encoding=3, lang="eng", desc="", text="synthwave night ride"),
            TXXX(encoding=3, desc="purl", text=permalink),
            APIC(encoding=3, mime="image/jpeg", type=3, desc="Cover (front)", data=b"\xff\xd8\xff" + b"\x00" * 64),
        ],
    )


def ogg_opus(comments: list[tuple[str, str]], *, audio_pages: int = 20, bytes_per_page: int = 1600) -> bytes:
    """An Ogg Opus stream: OpusHead, OpusTags and audio pages of 20 ms packets at the given size (~64 kbit/s)."""
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 2, 312, 48000, 0, 0)
    vc = VComment()
    vc.vendor = "test"
    for key, value in comments:
        vc.append((key, value))
    tags = b"OpusTags" + vc.write(framing=False)
    pages = []
    for seq, (packet, pos) in enumerate([(head, 0), (tags, 0)]):
        p = OggPage()
        p.serial, p.sequence, p.position, p.packets = 1, seq, pos, [packet]
        p.first = seq == 0
        pages.append(p.write())
    granule = 0
    for n in range(audio_pages):
        granule += 960 * 10  # ten 20 ms packets per page
        p = OggPage()
        p.serial, p.sequence, p.position = 1, n + 2, granule
        p.packets = [b"\x00" * (bytes_per_page // 10)] * 10
        p.last = n == audio_pages - 1
        pages.append(p.write())
    return b"".join(pages)


def flac_file(tmp_path: Path, comments: dict[str, str], *, picture_desc: str = "") -> bytes:
    """A FLAC file (STREAMINFO of 10 s at 44.1 kHz, no frames) with a Vorbis comment written by mutagen."""
    streaminfo = struct.pack(">HH", 4096, 4096) + b"\x00" * 6
    samples = 441000
    packed = (44100 << 44) | (1 << 41) | (15 << 36) | samples
    streaminfo += packed.to_bytes(8, "big") + b"\x00" * 16
    path = tmp_path / "t.flac"
    path.write_bytes(b"fLaC" + bytes([0x80]) + len(streaminfo).to_bytes(3, "big") + streaminfo)
    f = FLAC(path)
    for key, value in comments.items():
        f[key] = value
    if picture_desc:
        pic = Picture()
        pic.type, pic.desc, pic.mime, pic.data = 3, picture_desc, "image/jpeg", b"\xff\xd8\xff"
        f.add_picture(pic)
    f.save()
    return path.read_bytes()
