"""Decoding (ffmpeg) and fingerprinting (fpcalc) in subprocesses, each with a timeout and a bounded input.

Every failure becomes :class:`monitor.errors.AudioUnusable` with a reason from a small set: ``not_audio`` (the
decoder found no audio stream or could not decode any), ``too_short``, ``silence``, ``timeout``, ``too_large``
(never raised for files: a longer file is read from its head, like the watch spider's audio heads),
``unavailable`` (a binary is missing) and ``no_fingerprint``.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from monitor.audio.model import SAMPLE_RATE, Fingerprint, parse_fpcalc_raw, pcm_problem
from monitor.errors import AudioUnusable

# Speed corrections tried when the plain decode matches nothing. Re-uploaders speed tracks up or down to dodge
# fingerprinting: a resampled copy (pitch and tempo together, "nightcore") shifts every chroma bin and stretches
# time, so its frames agree with no reference frame; a tempo-only change stretches time (frames drift off the
# reference's grid); a pitch-only change shifts the chroma bins. Undoing the change before fingerprinting restores
# the frames. Steps of 2.5 % leave at most 1.25 % residual, which the matcher's per-window drift search and
# chroma's tolerance absorb, so changes of about +-6 % are covered.
_RATIOS = (0.95, 0.975, 1.025, 1.05)
VARIANTS: tuple[tuple[str, str], ...] = tuple(
    (f"{kind}{(ratio - 1) * 100:+.1f}%", flt)
    for ratio in _RATIOS
    for kind, flt in (
        ("speed", f"asetrate={SAMPLE_RATE}*{ratio},aresample={SAMPLE_RATE}"),
        ("tempo", f"atempo={ratio}"),
        ("pitch", f"asetrate={SAMPLE_RATE}*{ratio},aresample={SAMPLE_RATE},atempo={1 / ratio:.6f}"),
    )
)


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


def _run(cmd: list[str], limits: Limits) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, capture_output=True, timeout=limits.timeout_seconds, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:  # run() has killed the child
        raise AudioUnusable("timeout", f"{Path(cmd[0]).name} ran over {limits.timeout_seconds:g} s") from exc
    except OSError as exc:
        raise AudioUnusable("unavailable", f"cannot run {cmd[0]}: {exc.strerror or exc}") from exc


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


def decode_pcm(source: Path | bytes, limits: Limits) -> bytes:
    """16-bit 11025 Hz mono PCM of the first ``max_seconds`` of ``source`` (whatever of a truncated file decodes)."""
    with tempfile.TemporaryDirectory(prefix="sw-audio-") as tmp:
        path = _input_file(source, limits, Path(tmp))
        cmd = [limits.ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-t", str(limits.max_seconds), "-i",
               str(path), "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "s16le", "pipe:1"]  # fmt: skip
        proc = _run(cmd, limits)
    pcm = proc.stdout
    if not pcm:
        raise AudioUnusable("not_audio", _stderr(proc))
    problem = pcm_problem(pcm)
    if problem:
        raise AudioUnusable(problem, f"{len(pcm) / 2 / SAMPLE_RATE:.1f} s decoded")
    return pcm


def _filtered(pcm_path: Path, audio_filter: str, limits: Limits) -> bytes:
    cmd = [limits.ffmpeg, "-nostdin", "-v", "error", "-f", "s16le", "-ar", str(SAMPLE_RATE), "-ac", "1", "-i",
           str(pcm_path), "-af", audio_filter, "-ar", str(SAMPLE_RATE), "-f", "s16le", "pipe:1"]  # fmt: skip
    proc = _run(cmd, limits)
    if not proc.stdout:
        raise AudioUnusable("not_audio", _stderr(proc))
    return proc.stdout


def _fingerprint(pcm_path: Path, limits: Limits, variant: str, seconds: float) -> Fingerprint:
    # fpcalc reads a file rather than stdin: on a pipe it reports end-of-file as an error (exit status 3).
    length = str(int(limits.max_seconds * 1.1) + 1)
    cmd = [limits.fpcalc, "-raw", "-format", "s16le", "-rate", str(SAMPLE_RATE), "-channels", "1", "-length",
           length, str(pcm_path)]  # fmt: skip
    proc = _run(cmd, limits)
    frames = parse_fpcalc_raw(proc.stdout.decode("ascii", "replace"))
    if not len(frames):
        raise AudioUnusable("no_fingerprint", _stderr(proc))
    return Fingerprint(frames, variant, seconds)


def fingerprints(source: Path | bytes, limits: Limits, variants: bool = False) -> Iterator[Fingerprint]:
    """The fingerprint of ``source`` and then, when ``variants``, one per speed correction (lazily: stop iterating
    once matched). Raises :class:`AudioUnusable` when the plain decode fails; a failing variant is skipped."""
    pcm = decode_pcm(source, limits)
    seconds = len(pcm) / 2 / SAMPLE_RATE
    with tempfile.TemporaryDirectory(prefix="sw-fp-") as tmp:
        pcm_path = Path(tmp) / "pcm.raw"
        pcm_path.write_bytes(pcm)
        yield _fingerprint(pcm_path, limits, "", seconds)
        if not variants:
            return
        for name, audio_filter in VARIANTS:
            try:
                altered = Path(tmp) / "variant.raw"
                altered.write_bytes(_filtered(pcm_path, audio_filter, limits))
                yield _fingerprint(altered, limits, name, seconds)
            except AudioUnusable:
                continue


def fingerprint_file(source: Path | bytes, limits: Limits) -> Fingerprint:
    """The plain fingerprint of ``source`` (catalogue references)."""
    return next(fingerprints(source, limits))
