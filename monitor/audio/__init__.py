"""Audio matching: fingerprints of the protected catalogue and the matcher (pure given fingerprints), the decoder
(ffmpeg, fpcalc subprocesses) and the catalogue indexer."""

from monitor.audio.matcher import Matcher
from monitor.audio.model import FRAME_SECONDS, AudioMatch, AudioResult, Fingerprint

__all__ = ["FRAME_SECONDS", "AudioMatch", "AudioResult", "Fingerprint", "Matcher"]
