"""Audio test material: three reference tracks and three unrelated ones from Debian's planetblupi-music-ogg, and
altered copies made with ffmpeg."""

from __future__ import annotations

import subprocess
from pathlib import Path

from monitor.audio.decode import Limits

MUSIC = Path("/usr/share/planetblupi/music")
REFERENCES = {"1001": "music004.ogg", "1002": "music005.ogg", "1003": "music006.ogg"}
# music007 shares a transposed theme with music005 (the matcher finds it under a -5 % correction): not a negative.
NEGATIVES = ("music000.ogg", "music008.ogg", "music009.ogg")
REFERENCE_LIMITS = Limits(max_seconds=120)  # keeps CI fast; queries come from the first two minutes
# name -> (ffmpeg output options, extension); every query starts 40 s in (intro: at 0) and lasts at most 20 s.
ALTERATIONS = {
    "mp3_32k": (["-ss", "40", "-t", "20", "-b:a", "32k"], "mp3"),
    "aac_32k": (["-ss", "40", "-t", "20", "-c:a", "aac", "-b:a", "32k"], "m4a"),
    "opus_16k": (["-ss", "40", "-t", "20", "-c:a", "libopus", "-b:a", "16k"], "opus"),
    "intro_15s": (["-t", "15", "-b:a", "64k"], "mp3"),
    "noise": (["-ss", "40", "-t", "20", "-af", "volume=0.8", "-b:a", "96k"], "noise.mp3"),
    "speed_plus_4": (["-ss", "40", "-t", "20", "-af", "asetrate=44100*1.04,aresample=44100", "-b:a", "96k"], "mp3"),
    "tempo_minus_4": (["-ss", "40", "-t", "20", "-af", "atempo=0.96", "-b:a", "96k"], "mp3"),
    "speed_plus_5": (["-ss", "40", "-t", "20", "-af", "asetrate=44100*1.05,aresample=44100", "-b:a", "96k"], "mp3"),
    "speed_minus_5": (["-ss", "40", "-t", "20", "-af", "asetrate=44100*0.95,aresample=44100", "-b:a", "96k"], "mp3"),
    "tempo_plus_5": (["-ss", "40", "-t", "20", "-af", "atempo=1.05", "-b:a", "96k"], "mp3"),
    "tempo_minus_5": (["-ss", "40", "-t", "20", "-af", "atempo=0.95", "-b:a", "96k"], "mp3"),
    "mono_8khz": (["-ss", "40", "-t", "20", "-ac", "1", "-ar", "8000"], "wav"),
}


def ffmpeg(*args: str) -> None:
    """Run ffmpeg quietly (fails the test on error)."""
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True, timeout=120)


def make_query(source: Path, name: str, out_dir: Path) -> Path:
    """An altered copy of ``source`` (see ALTERATIONS)."""
    options, ext = ALTERATIONS[name]
    out = out_dir / f"{source.stem}_{name}.{ext.rsplit('.', 1)[-1]}"
    if name == "noise":  # white noise at -22 dBFS mixed under the music
        ffmpeg("-ss", "40", "-t", "20", "-i", str(source), "-f", "lavfi", "-i", "anoisesrc=a=0.08:c=white:d=20",
               "-filter_complex", "[0:a][1:a]amix=inputs=2:duration=first", "-b:a", "96k", str(out))  # fmt: skip
    else:
        ffmpeg("-i", str(source), *options, str(out))
    return out
