"""The AI agent registry: the bundled list, validation errors, and the ``agents list`` / ``agents update`` commands."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from monitor import agents as agents_module
from monitor.agents import (
    Agent,
    RegistryError,
    decode_registry,
    diff_registries,
    fetch_registry,
    load_registry,
    parse_registry,
    write_registry,
)
from monitor.cli.agents import agents
from monitor.errors import ScrapewatchError
from tests.helpers.http_servers import FakeSite, RawServer, Reply, redirect

HEADER = "token,operator,function,respects_robots,respect_source\n"
GPT_ROW = "GPTBot,OpenAI,AI Data Scrapers,Yes,https://platform.openai.com/docs/bots\n"
SMALL = HEADER + GPT_ROW + "NewBot,Example Corp,AI Assistants,No,\n"


@pytest.fixture(scope="module")
def bundled():
    return load_registry()


def test_bundled_registry_is_large_and_has_the_well_known_crawlers(bundled):
    assert len(bundled) >= 150
    for token in ("GPTBot", "ClaudeBot", "CCBot", "Google-Extended", "Bytespider", "PerplexityBot"):
        assert token in bundled
        assert bundled.get(token).token == token
    assert len(bundled.tokens()) == len({t.lower() for t in bundled.tokens()})


def test_lookup_ignores_case(bundled):
    assert bundled.get("gptbot") is bundled.get("GPTBOT") is bundled.get("GPTBot")
    assert bundled.get("no-such-bot") is None


def test_bundled_facts(bundled):
    claude = bundled.get("ClaudeBot")
    assert claude.operator == "Anthropic" and claude.respects_robots is True
    assert bundled.get("Bytespider").respects_robots is False
    assert bundled.get("GPTBot").rfc9309_valid
    assert not bundled.get("AI2Bot").rfc9309_valid
    groups = bundled.by_category()
    assert sum(len(v) for v in groups.values()) == len(bundled)
    assert all(a.category == "AI Data Scrapers" for a in groups["AI Data Scrapers"])


def test_bundled_file_round_trips_byte_for_byte(bundled):
    assert bundled.to_csv() == agents_module.BUNDLED_PATH.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("token", "valid"),
    [("GPTBot", True), ("Google-Extended", True), ("my_bot", True), ("AI2Bot", False), ("iaskspider/2.0", False),
     ("panscient.com", False), ("ChatGPT Agent", False)],
)  # fmt: skip
def test_rfc9309_validity(token, valid):
    assert Agent(token, "x", "y", None).rfc9309_valid is valid


def test_json_input_is_accepted_with_parsed_or_published_respects_robots():
    text = json.dumps(
        [
            {"token": "GPTBot", "operator": "OpenAI", "function": "AI Data Scrapers", "respects_robots": True},
            {"token": "XBot", "operator": "X", "function": "AI Agents", "respects_robots": None},
            {"token": "YBot", "operator": "Y", "function": "AI Agents", "respects_robots": "No."},
        ]
    )
    registry = parse_registry(text, "new.json")
    assert [a.respects_robots for a in registry] == [True, None, False]
    assert registry.get("xbot").respects_robots_note == "Unclear at this time."


def test_whitespace_is_normalised():
    registry = parse_registry(HEADER + '" Spaced   Bot ",  Op  ,"AI\n Agents", yes ,\n', "s.csv")
    agent = registry.get("spaced bot")
    assert (agent.token, agent.operator, agent.function) == ("Spaced Bot", "Op", "AI Agents")
    assert agent.respects_robots is True


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("token,operator,function\nGPTBot,OpenAI,x\n", "line 1: column 'respects_robots': missing column"),
        (SMALL + "gptbot,Other,x,No,\n", "line 4: column 'token': duplicate token 'gptbot' (first at line 2)"),
        (SMALL + ",Other,x,No,\n", "line 4: column 'token': empty value"),
        (SMALL + "Bad,Other,x,No\n", "line 4: expected 5 fields, found 4"),
        (SMALL + "Bad;Bot,Other,x,No,\n", "line 4: column 'token': token contains ';'"),
        (SMALL + "Bad,Other,x,No,javascript:alert(1)\n", "line 4: column 'respect_source': expected an http(s) URL"),
        (HEADER.replace("operator", "owner"), "line 1: column 'operator': missing column"),
        ("", "line 1: empty file"),
        ("[]", "non-empty JSON list"),
        ('[{"token": "A"}, ', "line 1: invalid JSON"),
        ('[{"token": " ", "operator": "o", "function": "f", "respects_robots": "Yes"}]', "item 1: column 'token'"),
        ('[{"token": "A", "function": "f", "respects_robots": "Yes"}]', "item 1: column 'operator': missing"),
        ('[{"token": "A", "operator": 3, "function": "f", "respects_robots": "Yes"}]', "column 'operator': expected a"),
        ('[{"token": "A", "operator": "o", "function": "f", "respects_robots": "Yes", "x": 1}]', "unknown field(s) x"),
        ('[{"token": "A", "operator": "o", "function": "f", "respects_robots": "Yes"},\n'
         ' {"token": "a", "operator": "o", "function": "f", "respects_robots": "Yes"}]', "item 2: column 'token': dup"),
    ],
)  # fmt: skip
def test_bad_input_names_line_and_column(text, expected):
    with pytest.raises(RegistryError) as info:
        parse_registry(text, "bad.csv")
    assert str(info.value).startswith("bad.csv: ")
    assert expected in str(info.value)
    assert isinstance(info.value, ScrapewatchError)


def test_binary_garbage_is_rejected_with_its_line():
    with pytest.raises(RegistryError, match=r"g.bin: line 4: not UTF-8 text \(byte 0xff\)"):
        decode_registry(SMALL.encode() + b"\xff\xfe\x00\x01garbage", "g.bin")
    with pytest.raises(RegistryError, match=r"line 2: binary data"):
        decode_registry(HEADER.encode() + b"A\x00B,o,f,Yes,\n", "nul.csv")


def test_diff_by_token():
    old = parse_registry(SMALL)
    new = parse_registry(
        HEADER + "GPTBot,OpenAI,AI Data Scrapers,No,https://platform.openai.com/docs/bots\nZBot,Z,f,No,\n"
    )
    diff = diff_registries(old, new)
    assert [a.token for a in diff.added] == ["ZBot"]
    assert [a.token for a in diff.removed] == ["NewBot"]
    assert [(new.token, cols) for _old, new, cols in diff.changed] == [("GPTBot", {"respects_robots": ("Yes", "No")})]
    assert not diff_registries(old, old)


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path):
    target = tmp_path / "sub" / "agents.csv"
    write_registry(parse_registry(SMALL), target)
    assert load_registry(target).tokens() == ["GPTBot", "NewBot"]
    assert os.listdir(target.parent) == ["agents.csv"]


# --- CLI ---


def run(*args: str):
    return CliRunner().invoke(agents, list(args), catch_exceptions=False)


def test_list_json_and_table(bundled):
    out = run("list", "--json")
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)
    assert len(rows) == len(bundled)
    gpt = next(r for r in rows if r["token"] == "GPTBot")
    assert gpt["operator"] == "OpenAI" and gpt["respects_robots"] is True and gpt["rfc9309_valid"] is True
    scrapers = json.loads(run("list", "--category", "ai data scrapers", "--json").output)
    assert scrapers and {r["category"] for r in scrapers} == {"AI Data Scrapers"}
    table = run("list").output
    assert "rfc9309-valid" in table and "ClaudeBot" in table and f"{len(bundled)} of {len(bundled)} agents" in table
    assert run("list", "--category", "nope").exit_code == 2


def test_update_from_file_prints_diff_and_writes(tmp_path):
    target = tmp_path / "agents.csv"
    target.write_text(SMALL)
    new = tmp_path / "new.csv"
    new.write_text(HEADER + "GPTBot,OpenAI,AI Data Scrapers,No,https://platform.openai.com/docs/bots\nZBot,Z,f,No,\n")
    out = run("update", "--from", str(new), "--to", str(target))
    assert out.exit_code == 0, out.output
    assert "+ ZBot (Z)" in out.output and "- NewBot (Example Corp)" in out.output
    assert "~ GPTBot: respects_robots: 'Yes' -> 'No'" in out.output
    assert load_registry(target).tokens() == ["GPTBot", "ZBot"]
    assert sorted(os.listdir(tmp_path)) == ["agents.csv", "new.csv"]  # the temp file was renamed, not left behind
    again = json.loads(run("update", "--from", str(new), "--to", str(target), "--json").output)
    assert again["added"] == again["removed"] == again["changed"] == [] and again["agents"] == 2


def test_update_default_target_is_under_the_current_directory(tmp_path, monkeypatch):
    new = tmp_path / "new.json"
    new.write_text(json.dumps([{"token": "OnlyBot", "operator": "o", "function": "f", "respects_robots": "Yes"}]))
    cwd = tmp_path / "work"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    out = CliRunner().invoke(agents, ["update", "--from", str(new)])
    assert out.exit_code == 0, out.output
    assert "+ OnlyBot" in out.output and "- GPTBot" in out.output  # diffed against the bundled list
    assert load_registry(cwd / "data" / "ai_agents.csv").tokens() == ["OnlyBot"]


@pytest.mark.parametrize("bad", [SMALL + "gptbot,x,y,No,\n", "\x89PNG\r\n\x1a\n\x00\x00garbage", SMALL + ",x,y,No,\n"])
def test_bad_update_changes_nothing_and_exits_2(tmp_path, bad):
    target = tmp_path / "agents.csv"
    target.write_text(SMALL)
    before = target.stat().st_mtime_ns
    new = tmp_path / "bad.csv"
    new.write_bytes(bad.encode("latin-1"))
    out = CliRunner().invoke(agents, ["update", "--from", str(new), "--to", str(target)])
    assert out.exit_code == 2
    assert "error: " in out.output and "line " in out.output
    assert target.read_text() == SMALL and target.stat().st_mtime_ns == before
    assert sorted(os.listdir(tmp_path)) == ["agents.csv", "bad.csv"]


def test_update_from_missing_file_exits_2(tmp_path):
    out = run("update", "--from", str(tmp_path / "absent.csv"), "--to", str(tmp_path / "t.csv"))
    assert out.exit_code == 2 and "cannot read" in out.output
    assert not (tmp_path / "t.csv").exists()


def test_update_from_loopback_url(tmp_path):
    target = tmp_path / "agents.csv"
    target.write_text(SMALL)
    new = HEADER + "GPTBot,OpenAI,AI Data Scrapers,Yes,https://platform.openai.com/docs/bots\nWebBot,W,f,Yes,\n"
    with FakeSite({"/agents.csv": Reply(200, new.encode(), {"Content-Type": "text/csv"})}) as site:
        out = run("update", "--from", site.url("/agents.csv"), "--to", str(target))
    assert out.exit_code == 0, out.output
    assert "+ WebBot (W)" in out.output and "- NewBot" in out.output
    assert load_registry(target).tokens() == ["GPTBot", "WebBot"]
    assert site.requests[0].headers.get("User-Agent") == "scrapewatch"


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://127.0.0.1/agents.csv", "data:text/csv,token", "gopher://127.0.0.1/"]
)
def test_non_http_urls_are_refused(tmp_path, url):
    out = CliRunner().invoke(agents, ["update", "--from", url, "--to", str(tmp_path / "t.csv")])
    assert out.exit_code == 2 and "only http:// and https:// URLs are accepted" in out.output
    assert not (tmp_path / "t.csv").exists()


def test_oversize_and_failing_urls_are_refused(tmp_path):
    target = tmp_path / "t.csv"
    huge = (SMALL + "".join(f"Bot-{'x' * 40}{i:07d},o,f,No,\n" for i in range(25_000))).encode()
    assert len(huge) > agents_module.MAX_REGISTRY_BYTES
    routes = {
        "/huge.csv": Reply(200, huge),
        "/missing.csv": Reply(404, b"no"),
        "/to-file": redirect("file:///etc/passwd"),
        "/to-ftp": redirect("ftp://127.0.0.1/agents.csv"),
    }
    with FakeSite(routes) as site:
        out = run("update", "--from", site.url("/huge.csv"), "--to", str(target))
        assert out.exit_code == 2 and "the limit is 1048576" in out.output
        out = run("update", "--from", site.url("/missing.csv"), "--to", str(target))
        assert out.exit_code == 1 and "HTTP 404" in out.output
        out = run("update", "--from", site.url("/to-ftp"), "--to", str(target))
        assert out.exit_code == 2 and "refusing redirect to non-http(s) URL ftp://" in out.output
        out = run("update", "--from", site.url("/to-file"), "--to", str(target))
        assert out.exit_code == 1 and "HTTP 302" in out.output  # urllib itself refuses file: redirects
    assert not target.exists()
    # Without a Content-Length the cap is enforced on the bytes actually read.
    with RawServer(b"HTTP/1.0 200 OK\r\nContent-Type: text/csv\r\n\r\n" + SMALL.encode()) as raw:
        assert len(fetch_registry(raw.url("/agents.csv"))) == 2
        with pytest.raises(RegistryError, match="larger than the limit of 100 bytes"):
            fetch_registry(raw.url("/agents.csv"), max_bytes=100)
