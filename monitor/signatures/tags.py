"""Audio file tags from the first bytes of a file (mutagen, in memory): the evidence for #24-#26.

The crawler only fetches a prefix of each file. ID3v2, FLAC metadata and Ogg comment headers sit at the start,
so they are usually whole; an MP4 whose ``moov`` box is at the end is reported with ``complete=False``. Nothing
here raises on garbage: problems are listed in ``FileTags.errors``.
"""

from __future__ import annotations

import base64
import io
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

from mutagen import MutagenError
from mutagen._vorbis import VComment
from mutagen.flac import Picture
from mutagen.id3 import ID3
from mutagen.mp3 import BitrateMode, MPEGInfo
from mutagen.mp4 import Atoms, MP4Info, MP4Tags
from mutagen.ogg import OggPage

MAX_HEAD_BYTES = 8 * 1024 * 1024
MAX_VALUE_CHARS = 4096
MAX_FRAMES = 256
_FORMATS_BY_EXT = {"mp3": "mp3", "ogg": "ogg", "oga": "ogg", "opus": "opus", "flac": "flac", "m4a": "mp4"}
_FORMATS_BY_EXT |= {"mp4": "mp4", "aac": "mp4", "m4b": "mp4"}
_FORMATS_BY_TYPE = {"audio/mpeg": "mp3", "audio/mp3": "mp3", "audio/ogg": "ogg", "audio/opus": "opus"}
_FORMATS_BY_TYPE |= {"audio/flac": "flac", "audio/x-flac": "flac", "audio/mp4": "mp4", "audio/x-m4a": "mp4"}
_L3_KBPS = {
    3: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


@dataclass(frozen=True)
class FileTags:
    """Tags and stream facts of one audio file (or its prefix).

    ``frames`` is flat: ID3 frame ids (``WOAF``, ``COMM``, ``TIT2``, ``TXXX:purl``…), Vorbis keys upper-cased
    (``WWWAUDIOFILE``, ``PURL``, ``COMMENT``) and MP4 keys as stored (``©cmt``, ``purl``,
    ``----:com.apple.iTunes:WWWAUDIOFILE``, and ``APIC`` holding the picture descriptions); repeated values are
    joined with newlines. ``pictures`` holds the APIC / FLAC / Vorbis picture descriptions (``covr`` for MP4 cover
    art). ``bitrate`` is in bit/s. ``complete`` is False
    when the metadata region did not fit in the bytes read.
    """

    format: str = "unknown"
    frames: Mapping[str, str] = field(default_factory=dict)
    pictures: tuple[str, ...] = ()
    has_id3: bool = False
    bitrate: int | None = None
    bitrate_mode: str | None = None
    duration: float | None = None
    sample_rate: int | None = None
    complete: bool = True
    errors: tuple[str, ...] = ()


class _Acc:
    """Mutable collector behind one read_tags call."""

    def __init__(self, fmt: str):
        self.format = fmt
        self.frames: dict[str, str] = {}
        self.pictures: list[str] = []
        self.has_id3 = False
        self.bitrate: int | None = None
        self.mode: str | None = None
        self.duration: float | None = None
        self.rate: int | None = None
        self.complete = True
        self.errors: list[str] = []

    def put(self, key: str, value: object) -> None:
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        text = text.replace("\x00", "")[:MAX_VALUE_CHARS]
        if not text or (key not in self.frames and len(self.frames) >= MAX_FRAMES):
            return
        self.frames[key] = f"{self.frames[key]}\n{text}"[:MAX_VALUE_CHARS] if key in self.frames else text

    def fail(self, what: str, exc: BaseException) -> None:
        self.errors.append(f"{what}: {type(exc).__name__}: {str(exc)[:160]}")

    def result(self) -> FileTags:
        return FileTags(
            self.format, dict(self.frames), tuple(self.pictures), self.has_id3, self.bitrate, self.mode,
            self.duration, self.rate, self.complete, tuple(self.errors),
        )  # fmt: skip


def _id3_end(head: bytes) -> int:
    if len(head) < 10 or not head.startswith(b"ID3"):
        return 0
    size = 0
    for b in head[6:10]:
        size = (size << 7) | (b & 0x7F)
    return 10 + size + (10 if head[5] & 0x10 else 0)


def _sniff(head: bytes, filename: str, content_type: str) -> str:
    end = _id3_end(head)
    if end:
        return "flac" if head[end : end + 4] == b"fLaC" else "mp3"
    if head.startswith(b"fLaC"):
        return "flac"
    if head.startswith(b"OggS"):
        return "opus" if b"OpusHead" in head[:512] else "ogg"
    if head[4:8] == b"ftyp":
        return "mp4"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06:
        return "mp3"
    ext = filename.rsplit("?", 1)[0].rsplit(".", 1)[-1].lower() if "." in filename else ""
    return _FORMATS_BY_EXT.get(ext) or _FORMATS_BY_TYPE.get(content_type.split(";")[0].strip().lower(), "unknown")


def content_format(head: bytes) -> str:
    """The audio format the bytes themselves announce (ID3 / MPEG sync, fLaC, OggS, ftyp), else ``unknown``.

    Unlike ``read_tags``, the file name and Content-Type are not consulted: a ``.mp3`` that is an HTML page
    or a gzip stream is ``unknown`` here.
    """
    return _sniff(bytes(head[:MAX_HEAD_BYTES]), "", "")


def _read_id3(head: bytes, acc: _Acc) -> None:
    end = _id3_end(head)
    acc.has_id3 = True
    data = head[:end]
    if end > len(head):  # cut off: shrink the declared size so mutagen reads the frames that are here
        acc.complete = False
        size = max(0, len(head) - 10)
        syncsafe = bytes(((size >> s) & 0x7F) for s in (21, 14, 7, 0))
        data = head[:5] + bytes([head[5] & ~0x10 & 0xFF]) + syncsafe + head[10:]
    try:
        tags = ID3(io.BytesIO(data))
    except (MutagenError, ValueError, EOFError, struct.error, OverflowError) as exc:
        acc.fail("id3", exc)
        return
    for frame in list(tags.values())[:MAX_FRAMES]:
        fid = frame.FrameID
        if fid == "APIC":
            acc.pictures.append(str(frame.desc)[:200])
            acc.put("APIC", str(frame.desc)[:200] or "(no description)")
        elif fid in ("TXXX", "WXXX"):
            value = frame.url if fid == "WXXX" else "\n".join(map(str, frame.text))
            acc.put(f"{fid}:{frame.desc}" if frame.desc else fid, value)
        elif fid.startswith("W"):
            acc.put(fid, frame.url)
        elif fid.startswith("T") or fid in ("COMM", "USLT"):
            acc.put(fid, "\n".join(map(str, frame.text)))


def _walk_mpeg(head: bytes, offset: int, limit: int = 64) -> list[int]:
    """Bitrates (kbit/s) of consecutive MPEG Layer III frames from ``offset``; stops at the first bad header."""
    rates: list[int] = []
    while len(rates) < limit and offset + 4 <= len(head):
        b1, b2, b3 = head[offset], head[offset + 1], head[offset + 2]
        version, layer = (b2 >> 3) & 3, (b2 >> 1) & 3
        if b1 != 0xFF or b2 & 0xE0 != 0xE0 or version == 1 or layer != 1:
            break
        idx, sr_idx, pad = b3 >> 4, (b3 >> 2) & 3, (b3 >> 1) & 1
        if idx in (0, 15) or sr_idx == 3:
            break
        kbps = _L3_KBPS[3 if version == 3 else 2][idx]
        rate = _RATES[version][sr_idx]
        rates.append(kbps)
        offset += (144 if version == 3 else 72) * kbps * 1000 // rate + pad
    return rates


def _read_mp3(head: bytes, acc: _Acc, total_size: int | None) -> None:
    if head.startswith(b"ID3"):
        _read_id3(head, acc)
    try:
        info = MPEGInfo(io.BytesIO(head))
    except (MutagenError, ValueError, EOFError, struct.error, ZeroDivisionError) as exc:
        acc.fail("mpeg", exc)
        return
    acc.bitrate, acc.rate = int(info.bitrate), int(info.sample_rate)
    walked = _walk_mpeg(head, int(getattr(info, "frame_offset", _id3_end(head))))
    if info.bitrate_mode != BitrateMode.UNKNOWN:
        acc.mode = str(info.bitrate_mode).rsplit(".", 1)[-1].lower()
        acc.duration = round(float(info.length), 3)  # from the Xing/VBRI frame count, valid on a prefix
    elif len(walked) >= 3:
        acc.mode = "cbr" if len(set(walked)) == 1 else "vbr"
    if acc.duration is None and total_size and acc.bitrate and acc.mode == "cbr":
        acc.duration = round((total_size - _id3_end(head)) * 8 / acc.bitrate, 3)


def _vorbis_comment(data: bytes, acc: _Acc) -> None:
    try:
        comment = VComment(data, framing=False)
    except (MutagenError, ValueError, EOFError, struct.error, UnicodeDecodeError) as exc:
        acc.fail("vorbis-comment", exc)
        return
    for key, value in list(comment)[:MAX_FRAMES]:
        key = str(key).upper()
        if key == "METADATA_BLOCK_PICTURE":
            acc.pictures.append(_picture_desc(value, b64=True))
        else:
            acc.put(key, value)


def _picture_desc(data: object, b64: bool = False) -> str:
    try:
        raw = base64.b64decode(str(data)[:MAX_HEAD_BYTES]) if b64 else data
        return str(Picture(raw).desc)[:200]
    except Exception:  # a broken picture block says nothing about the file
        return ""


def _read_ogg(head: bytes, acc: _Acc, total_size: int | None) -> None:
    f = io.BytesIO(head)
    packets: list[bytes] = []
    partial = b""
    audio_pages: list[tuple[int, int]] = []  # (byte offset, granule) of pages after the header packets
    eos = False
    serial = None
    while len(audio_pages) < 4096:
        try:
            page = OggPage(f)
        except EOFError:
            break
        except (MutagenError, ValueError, struct.error, OverflowError) as exc:
            if f.tell() < len(head):
                acc.fail("ogg", exc)
            break
        serial = page.serial if serial is None else serial
        if page.serial != serial:
            continue
        if len(packets) < 2:
            for i, pkt in enumerate(page.packets):
                if i == 0 and page.continued:
                    partial += pkt
                else:
                    if partial:
                        packets.append(partial)
                    partial = pkt
                if i == len(page.packets) - 1 and page.complete and partial:
                    packets.append(partial)
                    partial = b""
        elif page.position > 0:
            audio_pages.append((page.offset, page.position))
        eos = eos or page.last
    if not packets:
        acc.complete = False
        return
    ident = packets[0]
    step = 48000
    if ident.startswith(b"OpusHead") and len(ident) >= 16:
        acc.format = "opus"
        acc.rate = struct.unpack("<I", ident[12:16])[0] or 48000
    elif ident.startswith(b"\x01vorbis") and len(ident) >= 28:
        acc.format = "ogg"
        acc.rate = step = struct.unpack("<I", ident[12:16])[0] or 44100
        nominal = struct.unpack("<i", ident[20:24])[0]
        acc.bitrate = nominal if nominal > 0 else None
    if len(packets) < 2:
        acc.complete = False
        acc.errors.append("comment header cut off")
    else:
        comment = packets[1]
        body = comment[8:] if comment.startswith(b"OpusTags") else comment[7:]
        _vorbis_comment(body, acc)
    if len(audio_pages) >= 2 and audio_pages[-1][1] > audio_pages[0][1]:
        seconds = (audio_pages[-1][1] - audio_pages[0][1]) / step
        if seconds > 0 and acc.bitrate is None:
            acc.bitrate = int((audio_pages[-1][0] - audio_pages[0][0]) * 8 / seconds)
    if eos and audio_pages:
        acc.duration = round(audio_pages[-1][1] / step, 3)
    elif total_size and acc.bitrate:
        acc.duration = round(total_size * 8 / acc.bitrate, 3)


def _read_flac(head: bytes, acc: _Acc) -> None:
    pos = _id3_end(head)
    if pos:
        _read_id3(head, acc)
    pos += 4
    while True:
        if pos + 4 > len(head):
            acc.complete = False
            return
        last, kind = head[pos] & 0x80, head[pos] & 0x7F
        length = int.from_bytes(head[pos + 1 : pos + 4], "big")
        block = head[pos + 4 : pos + 4 + length]
        if len(block) < length:
            acc.complete = False
            acc.errors.append(f"metadata block {kind} cut off")
            return
        if kind == 0 and length >= 18:
            acc.rate = int.from_bytes(block[10:13], "big") >> 4
            samples = int.from_bytes(block[13:18], "big") & 0xFFFFFFFFF
            if acc.rate and samples:
                acc.duration = round(samples / acc.rate, 3)
        elif kind == 4:
            _vorbis_comment(block, acc)
        elif kind == 6:
            acc.pictures.append(_picture_desc(block))
        pos += 4 + length
        if last or kind == 127:
            return


def _read_mp4(head: bytes, acc: _Acc) -> None:
    f = io.BytesIO(head)
    try:
        atoms = Atoms(f)
    except (MutagenError, ValueError, EOFError, struct.error, OverflowError) as exc:
        acc.fail("mp4", exc)
        acc.complete = False
        return
    try:
        atoms.path(b"moov")
    except KeyError:
        acc.complete = False
        acc.errors.append("no moov box in the bytes read (moov at the end of the file?)")
        return
    try:
        info = MP4Info(atoms, f)
        acc.bitrate, acc.rate = int(info.bitrate) or None, int(info.sample_rate) or None
        acc.duration = round(float(info.length), 3) or None
    except (MutagenError, ValueError, EOFError, struct.error, KeyError, IndexError) as exc:
        acc.fail("mp4-info", exc)
    if not MP4Tags._can_load(atoms):
        return
    try:
        tags = MP4Tags(atoms, f)
    except (MutagenError, ValueError, EOFError, struct.error, KeyError, IndexError) as exc:
        acc.fail("mp4-tags", exc)
        return
    for key, values in list(tags.items())[:MAX_FRAMES]:
        if key == "covr":
            acc.pictures.extend("covr" for _ in values[:8])
            continue
        values = values if isinstance(values, list) else [values]
        for value in values[:16]:
            if isinstance(value, bytes | str):
                acc.put(key, value)


def read_tags(head: bytes, *, filename: str = "", content_type: str = "", total_size: int | None = None) -> FileTags:
    """Read tags and stream facts from the first bytes of an audio file; never raises.

    ``filename`` and ``content_type`` only break ties when the bytes do not say what the file is.
    ``total_size`` (from Content-Length or Content-Range) lets a CBR MP3 or Ogg prefix report a duration.
    """
    head = bytes(head[:MAX_HEAD_BYTES]) if isinstance(head, bytes | bytearray | memoryview) else b""
    fmt = _sniff(head, filename or "", content_type or "")
    acc = _Acc(fmt)
    try:
        if fmt == "mp3":
            _read_mp3(head, acc, total_size)
        elif fmt in ("ogg", "opus"):
            _read_ogg(head, acc, total_size)
        elif fmt == "flac":
            _read_flac(head, acc)
        elif fmt == "mp4":
            _read_mp4(head, acc)
        else:
            acc.complete = False
            if head:
                acc.errors.append("unrecognised audio format")
    except Exception as exc:  # mutagen's internals raise assorted errors on crafted input; record, never crash
        acc.fail(fmt, exc)
    return acc.result()
