"""Tests for ``scrapewatch policy explain``: single verdicts, JSON output, batch mode over the reference vectors."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from monitor.cli.policy import policy
from tests.helpers.robots_vectors import VECTORS, VECTORS_PATH, expected_allowed

ROBOTS = "User-agent: *\nDisallow: /\n\nUser-agent: GPTBot\nDisallow: /private/\nSitemap: https://e/s\n"


def invoke(*args: str, input: str | None = None):
    return CliRunner().invoke(policy, ["explain", *args], input=input)


def test_batch_answers_all_reference_vectors(tmp_path: Path) -> None:
    result = invoke("--batch", str(VECTORS_PATH))
    assert result.exit_code == 0, result.output
    answers = [json.loads(line) for line in result.output.splitlines()]
    assert len(answers) == len(VECTORS) == 78
    for index, (case, answer) in enumerate(zip(VECTORS, answers, strict=True)):
        assert answer["allowed"] is expected_allowed(index), case["note"]
        assert answer["group"] in ("specific", "global", "none")


def test_batch_reports_rule_and_continues_after_bad_lines() -> None:
    good = json.dumps({"robots": ROBOTS, "agent": "GPTBot", "url": "https://soundcloud.com/private/1"})
    lines = [good, "{not json", "", json.dumps({"robots": ROBOTS, "agent": 5, "url": "/"}), "[1]", good]
    result = invoke("--batch", "-", input="\n".join(lines) + "\n")
    assert result.exit_code == 1
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["line"] for o in out] == [1, 2, 4, 5, 6]
    assert out[0] == {
        "line": 1,
        "allowed": False,
        "rule": {"line": 5, "directive": "disallow", "pattern": "/private/"},
        "group": "specific",
        "group_lines": [4],
    }
    assert ["error" in o for o in out] == [False, True, True, True, False]
    assert "agent" in out[2]["error"]
    assert "3 batch line(s) failed" in result.stderr


def test_batch_of_invalid_utf8_is_an_error_line_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"robots": "\xff", "agent": "a", "url": "/"}\n')
    result = invoke("--batch", str(path))
    assert result.exit_code == 1
    assert "error" in json.loads(result.stdout)


def test_explain_human(tmp_path: Path) -> None:
    robots = tmp_path / "robots.txt"
    robots.write_text(ROBOTS + "User-agent: AI2Bot\nDisallow: /\n")
    result = invoke("--agent", "GPTBot", "--url", "https://soundcloud.com/private/x", "--robots", str(robots))
    assert result.exit_code == 0, result.output
    assert "DISALLOWED" in result.output
    assert "line 5: disallow: /private/" in result.output
    assert "group: specific (user-agent lines 4)" in result.output
    assert "non-rfc-token" in result.output


def test_explain_json(tmp_path: Path) -> None:
    robots = tmp_path / "robots.txt"
    robots.write_text(ROBOTS)
    result = invoke("--agent", "ClaudeBot", "--url", "https://soundcloud.com/x", "--robots", str(robots), "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["allowed"] is False
    assert payload["rule"] == {"line": 2, "directive": "disallow", "pattern": "/"}
    assert (payload["group"], payload["group_lines"]) == ("global", [1])


def test_explain_without_robots_needs_an_absolute_url() -> None:
    result = invoke("--agent", "GPTBot", "--url", "/relative/path")
    assert result.exit_code == 2
    assert "--url must be an absolute http(s) URL" in result.output


def test_explain_with_robots_needs_agent_and_url(tmp_path: Path) -> None:
    robots = tmp_path / "robots.txt"
    robots.write_text(ROBOTS)
    result = invoke("--robots", str(robots), "--url", "https://soundcloud.com/")
    assert result.exit_code == 2


def test_batch_excludes_single_mode_options() -> None:
    result = invoke("--batch", "-", "--agent", "GPTBot", input="")
    assert result.exit_code == 2
