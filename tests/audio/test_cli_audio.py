"""`scrapewatch catalogue index` and `scrapewatch audio match` end to end: catalogue with relative audio paths,
re-indexing only what changed, JSON answers for matches, non-matches and unusable files."""

from __future__ import annotations

import json

from click.testing import CliRunner

from monitor.cli import main
from tests.helpers.audio_files import MUSIC, REFERENCES


def _run(config, *args):
    return CliRunner().invoke(main, [*args, "--config", str(config)], catch_exceptions=False)


def test_index_then_match(tmp_path, queries, negatives):
    refs = tmp_path / "refs"
    refs.mkdir()
    rows = ["id,permalink,media_tokens,title,artist,no_ai,canary,audio"]
    for tid, name in REFERENCES.items():
        (refs / name).symlink_to(MUSIC / name)
        rows.append(f"{tid},,,t{tid},a,false,{'true' if tid == '1001' else 'false'},refs/{name}")
    (tmp_path / "catalogue.csv").write_text("\n".join(rows) + "\n")
    config = tmp_path / "config.yaml"
    config.write_text(
        f"storage: {{data_dir: {tmp_path / 'data'}}}\ncatalogue: {{path: {tmp_path / 'catalogue.csv'}}}\n"
        "audio: {max_reference_seconds: 120, max_query_seconds: 60}\n"
    )
    first = _run(config, "catalogue", "index")
    assert first.exit_code == 0 and "3 indexed, 0 unchanged, 0 failed" in first.output, first.output
    assert "[3/3]" in first.stderr
    again = _run(config, "catalogue", "index", "--quiet")
    assert "0 indexed, 3 unchanged" in again.output

    files = [queries[("1001", "opus_16k")], queries[("1002", "tempo_minus_4")], negatives[1], tmp_path / "config.yaml"]
    out = _run(config, "audio", "match", "--json", *map(str, files))
    assert out.exit_code == 0, out.output
    answers = json.loads(out.stdout)
    assert [a["track"] for a in answers] == ["1001", "1002", None, None]
    assert answers[0]["file"] == str(files[0]) and 30 < answers[0]["offset_seconds"] < 50
    assert answers[0]["matched_seconds"] > 5 and answers[0]["score"] > 0.7
    assert answers[3]["reason"] == "not_audio" and "reason" not in answers[2]

    # a changed reference file is fingerprinted again; the others are not
    (refs / "music006.ogg").unlink()
    (refs / "music006.ogg").symlink_to(MUSIC / "music008.ogg")
    changed = _run(config, "catalogue", "index", "--quiet")
    assert "1 indexed, 2 unchanged" in changed.output
    now = json.loads(_run(config, "audio", "match", "--json", str(negatives[1])).stdout)
    assert now[0]["track"] == "1003"  # music008 is now the reference of 1003
