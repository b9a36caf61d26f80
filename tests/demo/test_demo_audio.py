"""The demo's audio material: made from planetblupi-music-ogg when installed; without it, no audio and a reason."""

from __future__ import annotations

from monitor.demo.audio_sites import BEAT_PATH, RIP_HOST, demo_audio
from monitor.demo.sites import demo_sites
from monitor.signatures import load_catalogue, read_tags


def test_without_the_music_package_the_demo_has_no_audio_and_says_why(tmp_path):
    audio, line = demo_audio(tmp_path / "work", demo_sites(), music=tmp_path / "no-such-dir")
    assert audio is None and "planetblupi-music-ogg is not installed" in line
    assert not (tmp_path / "work").exists()


def test_with_the_music_the_catalogue_names_reference_audio_and_the_sites_serve_untagged_copies(tmp_path):
    sites = demo_sites()
    audio, line = demo_audio(tmp_path, sites)
    assert audio is not None and "audio matching on" in line
    cat = load_catalogue(audio.catalogue)
    assert {t.id for t in cat.tracks if t.audio} == {"1234567890", "1234500001"}
    beat = audio.sites["reupload.example"].routes[BEAT_PATH].body
    assert BEAT_PATH.encode() in audio.sites["reupload.example"].routes["/"].body
    ripped = audio.sites[RIP_HOST].routes["/get/track.mp3"].body
    for body in (beat, ripped):
        tags = read_tags(body, content_type="audio/mpeg")
        assert tags.format == "mp3" and not tags.frames and not tags.has_id3
    assert BEAT_PATH not in sites["reupload.example"].routes  # the shared demo registry is left alone
