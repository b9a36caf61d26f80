"""Decoding (ffmpeg) and fingerprinting (fpcalc) in subprocesses, each with a timeout and a bounded input.

Every failure becomes :class:`monitor.errors.AudioUnusable` with a reason from a small set: ``not_audio`` (the
decoder found no audio stream or could not decode any), ``too_short``, ``silence``, ``timeout``, ``too_large``
(never raised for files: a longer file is read from its head, like the watch spider's audio heads),
``unavailable`` (a binary is missing), ``no_fingerprint`` and ``cancelled`` (the awaiting probe was cancelled;
its subprocesses are killed: :mod:`monitor.audio.process`).
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from monitor.audio import process
from monitor.audio.model import FRAME_SECONDS, MIN_FRAMES, SAMPLE_RATE, Fingerprint, parse_fpcalc_raw, pcm_problem
from monitor.audio.process import Cancel
from monitor.errors import AudioUnusable

# Speed corrections tried when the plain decode matches nothing. Re-uploaders speed tracks up or down to dodge
# fingerprinting: a resampled copy (pitch and tempo together, "nightcore") shifts every chroma bin and stretches
# time, so its frames agree with no reference frame; a tempo-only change stretches time (frames drift off the
# reference's grid); a pitch-only change shifts the chroma bins. Undoing the change before fingerprinting restores
# the frames. Chroma is what is sensitive: a residual pitch error of 1-1.5 % (a 2.5 % grid) still breaks some
# copies, one of 0.5 % (a 1 % grid) breaks none measured (benchmarks/RESULTS.md), so resampling steps by 1 % up
# to +-6 %. A tempo change alone leaves chroma intact and the matcher's per-window drift search absorbs a residual
# of 2.5 %: a coarse tempo grid suffices. Pitch-only corrections keep the 2.5 % grid (not measured finer).
SPEED_RATIOS = tuple(round(1 + step / 100, 2) for step in (-6, -5, -4, -3, -2, -1, 1, 2, 3, 4, 5, 6))
COARSE_RATIOS = (0.95, 0.975, 1.025, 1.05)
VARIANTS: tuple[tuple[str, str], ...] = (
    *((f"speed{(r - 1) * 100:+.1f}%", f"asetrate={SAMPLE_RATE}*{r},aresample={SAMPLE_RATE}") for r in SPEED_RATIOS),
    *((f"tempo{(r - 1) * 100:+.1f}%", f"atempo={r}") for r in COARSE_RATIOS),
    *(
        (f"pitch{(r - 1) * 100:+.1f}%", f"asetrate={SAMPLE_RATE}*{r},aresample={SAMPLE_RATE},atempo={1 / r:.6f}")
        for r in COARSE_RATIOS
    ),
)
# Corrections look at the head of the decode only: a match needs ~10 s, and every correction costs a filtered copy.
VARIANT_SECONDS = 120


@dataclass(frozen=True)
class Limits:
    """Binaries and bounds of one decode."""

    ffmpeg: str = "ffmpeg"
    fpcalc: str = "fpcalc"
    timeout_seconds: float = 60.0
    max_input_bytes: int = 200 * 1024 * 1024
    max_seconds: int = 600

    @classmethod
    def from_settings(cls, audio, reference: bool = False) -> Limits:
        """Limits from the ``audio`` settings section, for catalogue references or for queries."""
        seconds = audio.max_reference_seconds if reference else audio.max_query_seconds
        return cls(audio.ffmpeg_path, audio.fpcalc_path, audio.timeout_seconds, audio.max_input_bytes, seconds)


def _run(cmd: list[str], limits: Limits, cancel: Cancel | None) -> subprocess.CompletedProcess:
    return process.run(cmd, limits.timeout_seconds, cancel)


def _stderr(proc: subprocess.CompletedProcess) -> str:
    lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
    return lines[-1][:200] if lines else f"exit status {proc.returncode}"


def _input_file(source: Path | bytes, limits: Limits, tmp: Path) -> Path:
    """A regular file holding at most ``max_input_bytes`` of the source (seekable: MP4 needs it)."""
    if isinstance(source, bytes | bytearray):
        path = tmp / "input"
        path.write_bytes(bytes(source[: limits.max_input_bytes]))
        return path
    path = Path(source)
    if not path.is_file():
        raise AudioUnusable("not_audio", f"{path} is not a regular file")
    if path.stat().st_size <= limits.max_input_bytes:
        return path
    head = tmp / "input"
    with path.open("rb") as src:
        head.write_bytes(src.read(limits.max_input_bytes))
    return head


def decode_pcm(source: Path | bytes, limits: Limits, cancel: Cancel | None = None) -> bytes:
    """16-bit 11025 Hz mono PCM of the first ``max_seconds`` of ``source`` (whatever of a truncated file decodes)."""
    with tempfile.TemporaryDirectory(prefix="sw-audio-") as tmp:
        path = _input_file(source, limits, Path(tmp))
        cmd = [limits.ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-t", str(limits.max_seconds), "-i",
               str(path), "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "s16le", "pipe:1"]  # fmt: skip
        proc = _run(cmd, limits, cancel)
    pcm = proc.stdout
    if not pcm:
        raise AudioUnusable("not_audio", _stderr(proc))
    problem = pcm_problem(pcm)
    if problem:
        raise AudioUnusable(problem, f"{len(pcm) / 2 / SAMPLE_RATE:.1f} s decoded")
    return pcm


def _fpcalc(path: Path, limits: Limits, cancel: Cancel | None, chunk: int = 0) -> list[np.ndarray]:
    """Raw fingerprints of a s16le file: one, or one per ``chunk`` seconds (fpcalc restarts at each chunk)."""
    # fpcalc reads a file rather than stdin: on a pipe it reports end-of-file as an error (exit status 3); on a
    # file it reports it too, after printing every fingerprint, so the exit status is not the verdict.
    length = "0" if chunk else str(int(limits.max_seconds * 1.1) + 1)
    cmd = [limits.fpcalc, "-raw", "-format", "s16le", "-rate", str(SAMPLE_RATE), "-channels", "1", "-length",
           length, *(["-chunk", str(chunk)] if chunk else []), str(path)]  # fmt: skip
    proc = _run(cmd, limits, cancel)
    blocks = proc.stdout.decode("ascii", "replace").split("DURATION=")[1:]
    frames = [parse_fpcalc_raw(block) for block in blocks]
    if not frames or not len(frames[0]):
        raise AudioUnusable("no_fingerprint", _stderr(proc))
    return frames


def _variants(pcm_path: Path, limits: Limits, cancel: Cancel | None, seconds: float) -> Iterator[Fingerprint]:
    """Every correction of the decode's head, made by one ffmpeg and fingerprinted by one fpcalc (two processes
    instead of two per correction): ffmpeg splits the decode into one filtered output per correction; the outputs
    are laid end to end, each padded with silence to a whole chunk, and fpcalc's chunk mode fingerprints each
    chunk afresh."""
    tmp = pcm_path.parent
    graph = [f"[0:a]asplit={len(VARIANTS)}" + "".join(f"[s{i}]" for i in range(len(VARIANTS)))]
    graph += [f"[s{i}]{flt}[o{i}]" for i, (_name, flt) in enumerate(VARIANTS)]
    cmd = [limits.ffmpeg, "-nostdin", "-v", "error", "-y", "-f", "s16le", "-ar", str(SAMPLE_RATE), "-ac", "1",
           "-t", str(VARIANT_SECONDS), "-i", str(pcm_path), "-filter_complex", ";".join(graph)]  # fmt: skip
    for i in range(len(VARIANTS)):
        cmd += ["-map", f"[o{i}]", "-ar", str(SAMPLE_RATE), "-f", "s16le", str(tmp / f"variant{i}.raw")]
    proc = _run(cmd, limits, cancel)
    outputs = [tmp / f"variant{i}.raw" for i in range(len(VARIANTS))]
    if proc.returncode or not all(p.is_file() for p in outputs):
        return  # the corrections are a second chance, not a verdict: the plain fingerprint stands
    lengths = [p.stat().st_size // 2 for p in outputs]
    chunk = int(max(lengths) / SAMPLE_RATE) + 2
    joined_path = tmp / "variants.raw"
    with joined_path.open("wb") as joined:  # one correction in memory at a time
        for p, n in zip(outputs, lengths, strict=True):
            joined.write(p.read_bytes()[: n * 2])
            joined.write(bytes(2 * (chunk * SAMPLE_RATE - n)))
            p.unlink()
    try:
        frames = _fpcalc(joined_path, limits, cancel, chunk)
    except AudioUnusable as exc:
        if exc.reason == "cancelled":
            raise
        return
    for (name, _flt), n, fp in zip(VARIANTS, lengths, frames, strict=False):
        fp = fp[: int(n / SAMPLE_RATE / FRAME_SECONDS)]  # drop the frames of the silent padding
        if len(fp) >= MIN_FRAMES:
            yield Fingerprint(fp, name, seconds)


def fingerprints(
    source: Path | bytes, limits: Limits, variants: bool = False, cancel: Cancel | None = None
) -> Iterator[Fingerprint]:
    """The fingerprint of ``source`` and then, when ``variants``, one per speed correction (lazily: the corrections
    are only made when iteration goes on past the plain one). Raises :class:`AudioUnusable` when the plain decode
    fails (or ``cancel`` is set); corrections that fail are left out."""
    pcm = decode_pcm(source, limits, cancel)
    seconds = len(pcm) / 2 / SAMPLE_RATE
    with tempfile.TemporaryDirectory(prefix="sw-fp-") as tmp:
        pcm_path = Path(tmp) / "pcm.raw"
        pcm_path.write_bytes(pcm)
        yield Fingerprint(_fpcalc(pcm_path, limits, cancel)[0], "", seconds)
        if variants:
            yield from _variants(pcm_path, limits, cancel, seconds)


def fingerprint_file(source: Path | bytes, limits: Limits, cancel: Cancel | None = None) -> Fingerprint:
    """The plain fingerprint of ``source`` (catalogue references)."""
    return next(fingerprints(source, limits, cancel=cancel))
