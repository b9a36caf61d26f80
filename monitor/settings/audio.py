"""Settings of audio matching: the decoder and fingerprinter binaries and their limits."""

from __future__ import annotations

from pydantic import Field

from monitor.settings.base import Section


class AudioSettings(Section):
    """Decoding (ffmpeg) and fingerprinting (fpcalc) of catalogue references and of audio found by probes."""

    ffmpeg_path: str = Field("ffmpeg", min_length=1, description="The ffmpeg binary that decodes audio.")
    fpcalc_path: str = Field("fpcalc", min_length=1, description="Chromaprint's fpcalc binary (fingerprints).")
    timeout_seconds: float = Field(60.0, gt=0, le=3600, description="Wall-clock limit of each ffmpeg/fpcalc run.")
    max_input_bytes: int = Field(
        209_715_200, ge=1024, description="Bytes of a file handed to the decoder; a longer file is read from its head."
    )
    max_reference_seconds: int = Field(
        1800, ge=10, le=14_400, description="Seconds of a catalogue reference that are fingerprinted."
    )
    max_query_seconds: int = Field(
        600, ge=10, le=14_400, description="Seconds of a queried file that are fingerprinted (a 2-hour file is cut)."
    )
    speed_variants: bool = Field(
        True,
        description="When a file matches nothing, also query speed corrections (1 % steps to ±6 %) and ±2.5/±5 % "
        "tempo and pitch corrections of its first 120 s.",
    )
    max_processes: int = Field(
        2,
        ge=1,
        le=64,
        description="ffmpeg/fpcalc processes running at once across all probes of the daemon (others wait).",
    )
