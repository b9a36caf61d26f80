"""The demo's audio, when Debian's planetblupi-music-ogg is installed: the catalogue names reference audio from it,
the re-upload site also serves a re-encoded, untagged excerpt of the no-AI track, and a downloader answers the
canary with an untagged MP3 of the canary's audio. Only a fingerprint can tell what those files are.

Without the package (or ffmpeg) the demo runs without audio matching, and the one line returned says why.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from monitor.demo.model import Response, Site, html
from monitor.demo.scraping_config import demo_catalogue_path

MUSIC = Path("/usr/share/planetblupi/music")
CANARY_ID, NO_AI_ID = "1234567890", "1234500001"
REFERENCES = {CANARY_ID: "music004.ogg", NO_AI_ID: "music005.ogg"}
RIP_HOST = "rip-plain.example"
BEAT_PATH = "/uploads/beat.mp3"
_FORM = '<form action="/rip" method="post"><input name="url" type="url"><button>Rip</button></form>'
# The result names neither the canary's id nor its permalink, and the file has no tags: yesterday's blind spot.
_RESULT = '<div class="result"><h2>Done!</h2><a href="/get/track.mp3" download>Download MP3</a></div>'


@dataclass
class DemoAudio:
    """What the demo adds when it has music: a catalogue with reference audio, sites, a downloader recipe."""

    catalogue: Path
    sites: dict[str, Site] = field(default_factory=dict)
    recipe: dict = field(default_factory=dict)


def _untagged_mp3(source: Path, start: int, out: Path) -> bytes:
    """A 20 s excerpt re-encoded at 96 kbit/s with every tag stripped (made once; kept in the data directory)."""
    if not out.is_file():
        cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-ss", str(start), "-t", "20", "-i", str(source),
               "-map_metadata", "-1", "-id3v2_version", "0", "-write_id3v1", "0", "-b:a", "96k", str(out)]  # fmt: skip
        subprocess.run(cmd, check=True, timeout=60, capture_output=True)
    return out.read_bytes()


def demo_audio(workdir: Path, sites: dict[str, Site], music: Path = MUSIC) -> tuple[DemoAudio | None, str]:
    """The demo's audio material made in ``workdir`` (``sites``: the demo internet, whose re-upload site is
    extended), and the line to log; None when the music or ffmpeg is missing."""
    missing = [name for name in REFERENCES.values() if not (music / name).is_file()]
    if missing:
        return None, f"demo: no audio matching: planetblupi-music-ogg is not installed ({music}/{missing[0]} missing)"
    if shutil.which("ffmpeg") is None:
        return None, "demo: no audio matching: ffmpeg is not installed"
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        rip = _untagged_mp3(music / REFERENCES[CANARY_ID], 40, workdir / "canary-rip.mp3")
        beat = _untagged_mp3(music / REFERENCES[NO_AI_ID], 60, workdir / "beat.mp3")
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"demo: no audio matching: cannot make the demo's audio files ({exc})"
    data = yaml.safe_load(demo_catalogue_path().read_text())
    for track in data["tracks"]:
        if str(track["id"]) in REFERENCES:
            track["audio"] = str(music / REFERENCES[str(track["id"])])
    catalogue = workdir / "catalogue.yaml"
    catalogue.write_text(yaml.safe_dump(data, sort_keys=False))
    mp3 = "audio/mpeg"
    out = DemoAudio(catalogue)
    out.sites[RIP_HOST] = Site(
        host=RIP_HOST,
        routes={"/": html(_FORM), "/rip": html(_RESULT), "/get/track.mp3": Response(body=rip, content_type=mp3)},
    )
    reupload = sites["reupload.example"]
    home = reupload.routes["/"]
    assert isinstance(home, Response)
    link = f'<p><a href="{BEAT_PATH}">new beat (no tags, 96k)</a></p>\n</body>'
    routes = {
        **reupload.routes,
        "/": html(home.body.decode().replace("</body>", link)),
        BEAT_PATH: Response(body=beat, content_type=mp3),
    }
    out.sites["reupload.example"] = Site(host=reupload.host, routes=routes, aliases=reupload.aliases)
    out.recipe = {"name": "rip-plain", "kind": "form", "url": f"http://{RIP_HOST}/", "field": "url",
                  "result_selector": ".result"}  # fmt: skip
    return out, f"demo: audio matching on: reference audio from {music} ({', '.join(REFERENCES.values())})"
