"""One table of RFC 9309 path-pattern and group-selection cases, driven through every signal that uses the engine:
robots.txt Allow/Disallow, ai.txt, Content-Usage lines, tdmrep.json locations and RSL content urls."""

from __future__ import annotations

import json
from collections.abc import Callable
from xml.sax.saxutils import quoteattr

import pytest

from monitor.policy.aitxt import may_use, parse_aitxt
from monitor.policy.matrix import DomainSignals, compute
from monitor.policy.robots import (
    compile_pattern,
    fetch_verdict,
    matches,
    normalise,
    parse,
    path_key,
    path_of,
    pattern_of,
    product_token,
)
from monitor.policy.signals import (
    GroupLine,
    parse_content_signals,
    parse_content_usage_rules,
    parse_rsl,
    parse_tdmrep_json,
)


def via_robots(pattern: str, path: str) -> bool:
    """Does `Disallow: <pattern>` cover path?"""
    return not parse(f"User-agent: *\nDisallow: {pattern}\n").match("AnyBot", "https://h" + path).allowed


def via_aitxt(pattern: str, path: str) -> bool:
    return not may_use(parse_aitxt(f"User-agent: *\nDisallow: {pattern}\n"), "AnyBot", path).allowed


def via_content_usage_line(pattern: str, path: str) -> bool:
    """Content-Usage as the robots.txt engine collects it: `Content-Usage: <pattern> train-ai=n` under `*`."""
    robots = parse(f"User-agent: *\nContent-Usage: {pattern} train-ai=n\nDisallow:\n")
    lines = [(r.line, r.value, robots.groups[r.group].tokens) for r in robots.records_for("content-usage")]
    return parse_content_usage_rules(lines).prefs_for("AnyBot", path).value("train-ai") == "no"


def via_tdmrep(pattern: str, path: str) -> bool:
    return parse_tdmrep_json(json.dumps([{"location": pattern, "tdm-reservation": 1}])).lookup(path).reservation == 1


def via_rsl(pattern: str, path: str) -> bool:
    doc = parse_rsl(
        f'<rsl xmlns="https://rslstandard.org/rsl"><content url={quoteattr(pattern)}><license>'
        "<prohibits type='usage'>ai-train</prohibits></license></content></rsl>"
    )
    return doc.usage_for("https://soundcloud.com" + path).value("train-ai") == "no"


def via_rsl_full_url(pattern: str, path: str) -> bool:
    """An RSL content url may be a full URL; its path is the pattern."""
    return via_rsl("https://soundcloud.com" + pattern, path)


SIGNALS: dict[str, Callable[[str, str], bool]] = {
    "robots.txt": via_robots,
    "ai.txt": via_aitxt,
    "content-usage": via_content_usage_line,
    "tdmrep": via_tdmrep,
    "rsl": via_rsl,
    "rsl-url": via_rsl_full_url,
}

# Content-Usage paths and the path of a full URL always start with '/'.
SLASH_ONLY = {"content-usage", "rsl-url"}

# (pattern as written in the file, request path as sent, covered?)
CASES = [
    # unreserved escapes are decoded on both sides (RFC 9309 §2.2.2)
    ("/%61udio", "/audio/x", True),
    ("/audio", "/%61udio/x", True),
    ("/foo/bar/%62%61%7A", "/foo/bar/baz", True),
    ("/%7Euser", "/~user/a", True),
    ("/%7euser", "/%7Euser", True),
    # reserved characters stay encoded: %2F is not /
    ("/a%2Fb", "/a/b", False),
    ("/a/b", "/a%2Fb", False),
    ("/a%2fb", "/a%2Fb", True),
    ("/p/file-%2A", "/p/file-x", False),
    ("/a%24", "/a$", False),
    # non-ASCII: UTF-8, percent-encoded, on either side
    ("/foo/bar/ツ", "/foo/bar/%E3%83%84", True),
    ("/foo/bar/%E3%83%84", "/foo/bar/ツ", True),
    ("/foo/bar/ツ", "/foo/bar/ツ", True),
    ("/müsik", "/m%c3%bcsik/1", True),
    ("/müsik", "/musik/1", False),
    # `*` and `$`
    ("/", "/x", True),
    ("/x/", "/X/y", False),
    ("/*.mp3$", "/a.mp3", True),
    ("/*.mp3$", "/a.mp3?dl=1", False),
    ("*.mp3", "/x.mp3s/y", True),
    ("/tracks/*/audio", "/tracks/1/audio.mp3", True),
    ("/tracks/*/audio", "/tracks/audio", False),
    ("/$", "/", True),
    ("/$", "/a", False),
    ("/a*b*c$", "/aXbYc", True),
    ("/a*b*c$", "/aXbYcd", False),
    ("/a$b", "/a$b/c", True),
    ("/*?", "/search?q=1", True),
    ("/*?", "/search", False),
    # characters that may not stand raw in a URI are compared encoded
    ("/a|b", "/a%7Cb", True),
]
IDS = [f"{p}~{u}" for p, u, _ in CASES]


@pytest.mark.parametrize("signal", list(SIGNALS))
@pytest.mark.parametrize(("pattern", "path", "covered"), CASES, ids=IDS)
def test_every_signal_matches_paths_alike(signal: str, pattern: str, path: str, covered: bool) -> None:
    if signal in SLASH_ONLY and not pattern.startswith("/"):
        pattern = "/" + pattern  # `*x` and `/*x` both match from the first octet
    assert SIGNALS[signal](pattern, path) is covered
    assert matches(pattern_of(pattern), path_key(path)) is covered


@pytest.mark.parametrize(
    ("value", "normal"),
    [("/%61udio", "/audio"), ("/a%2fb", "/a%2Fb"), ("/ツ", "/%E3%83%84"), (b"/a\xff", "/a%FF"), ("/%zz", "/%zz"),
     ("/a b", "/a%20b"), ("/%41%5a%30%2D%2e%5F%7E", "/AZ0-._~"), ("/%2541", "/%2541"), ("/*$", "/*$")],
)  # fmt: skip
def test_normalise(value: str | bytes, normal: str) -> None:
    assert normalise(value) == normal
    assert normalise(normal) == normal


@pytest.mark.parametrize("signal", ["robots.txt", "ai.txt", "tdmrep"])
def test_empty_pattern_covers_nothing(signal: str) -> None:
    """`Disallow:` restricts nothing; an empty tdmrep.json location is no location."""
    assert SIGNALS[signal]("", "/x") is False
    assert SIGNALS[signal]("/", "/x") is True


def test_content_usage_line_without_path_covers_everything() -> None:
    assert via_content_usage_line("", "/x") is True


# Group selection: (user-agent lines of two groups, agent asking, which group's rule applies: "a", "b" or None)
GROUP_CASES = [
    (("*", "GPTBot"), "GPTBot", "b"),
    (("*", "GPTBot"), "gptbot", "b"),
    (("*", "GPTBot"), "ClaudeBot", "a"),
    (("*", "GPTBot"), "Mozilla/5.0 (compatible; GPTBot/1.2; +https://openai.com/gptbot)", "b"),
    (("GPTBot", "CCBot"), "ClaudeBot", None),
    (("Claude", "X"), "ClaudeBot", None),  # exact token, not a prefix
    (("GPTBot", "gptbot"), "GPTBot", "ab"),  # every group naming the agent is merged
    (("*", "AI2Bot"), "AI2Bot", "b"),
]


def _group_file(agents: tuple[str, str], line: Callable[[str, str], str]) -> str:
    return "".join(f"User-agent: {agent}\n{line(name, agent)}\n\n" for name, agent in zip("ab", agents, strict=True))


@pytest.mark.parametrize(("agents", "agent", "expected"), GROUP_CASES)
def test_every_signal_selects_groups_alike(agents: tuple[str, str], agent: str, expected: str | None) -> None:
    robots = parse(_group_file(agents, lambda name, _: f"Disallow: /{name}"))
    crawl = "".join(n for n in "ab" if not robots.match(agent, f"/{n}").allowed) or None
    ai = parse_aitxt(_group_file(agents, lambda name, _: f"Disallow: /{name}"))
    ai_txt = "".join(n for n in "ab" if not may_use(ai, agent, f"/{n}").allowed) or None
    usage_file = parse(_group_file(agents, lambda name, _: f"Content-Usage: /{name} train-ai=n\nDisallow:"))
    lines = [(r.line, r.value, usage_file.groups[r.group].tokens) for r in usage_file.records_for("content-usage")]
    rules = parse_content_usage_rules(lines)
    usage = "".join(n for n in "ab" if rules.prefs_for(agent, f"/{n}").value("train-ai") == "no") or None
    assert crawl == ai_txt == usage == expected


def test_specific_group_without_extension_lines_replaces_star() -> None:
    """A group naming the agent wins even when only `*` carries a Content-Signal line (selection by the file)."""
    robots = parse("User-agent: *\nContent-Signal: ai-train=no\nDisallow:\n\nUser-agent: GPTBot\nDisallow: /x\n")
    records = robots.records_for("content-signal")
    result = parse_content_signals([(r.line, r.value, robots.groups[r.group].tokens) for r in records])
    assert result.for_agent("GPTBot").value("train-ai") == "no"  # not told about the GPTBot group
    assert result.for_agent("GPTBot", [g.tokens for g in robots.groups]).as_dict() == {}
    assert result.for_agent("CCBot", [g.tokens for g in robots.groups]).value("train-ai") == "no"
    indexed = parse_content_signals([GroupLine(r.line, r.value, (), r.group) for r in records])
    assert indexed.for_agent("GPTBot", robots.index).as_dict() == {}
    assert indexed.for_agent("CCBot", robots.index).value("train-ai") == "no"


def test_matrix_uses_the_robots_groups_for_content_signal() -> None:
    """The daemon hands over group indices, so Content-Signal follows exactly the Allow/Disallow group choice."""
    robots = fetch_verdict(
        200,
        b"User-agent: *\nContent-Signal: ai-train=no\nDisallow: /private\n\n"
        b"User-agent: Mozilla\nDisallow: /\n\nUser-agent: GPTBot\nContent-Signal: ai-train=yes\nDisallow:\n",
    )
    cells = compute(
        "h.example",
        DomainSignals(robots),
        ["GPTBot", "ClaudeBot", "Mozilla/5.0 (compatible; GPTBot/1.2)"],
        {"track": ["/t/1"]},
    )
    got = {c.agent: (c.crawl_allowed, c.group, c.train_ai) for c in cells}
    assert got == {
        "GPTBot": (True, "specific", "yes"),
        "ClaudeBot": (True, "global", "no"),
        "Mozilla/5.0 (compatible; GPTBot/1.2)": (True, "specific", "yes"),
    }


# --- the engine's pieces ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("http://h/a/b?c=d#f", "/a/b?c=d"),
        ("http://h", "/"),
        ("http://h#x", "/"),
        ("http://h?q=1", "/?q=1"),
        ("//h/a", "/a"),
        ("/a/b", "/a/b"),
        ("http://h/a;p?q", "/a;p?q"),
        ("h/a://b", "/a://b"),
        ("", "/"),
    ],
)
def test_path_of(url: str, path: str) -> None:
    assert path_of(url) == path


@pytest.mark.parametrize(
    ("raw", "pattern"),
    [(b"/a%2fb", "/a%2Fb"), ("/ツ".encode(), "/%E3%83%84"), (b"/%62", "/b"), (b"/a\xff", "/a%FF"), (b"/%zz", "/%zz"),
     (b"/%7e%7E", "/~~"), (b"/a b|c", "/a%20b%7Cc"), (b"/*.mp3$", "/*.mp3$"), (b"/%2A%24", "/%2A%24")],
)  # fmt: skip
def test_pattern_of(raw: bytes, pattern: str) -> None:
    assert pattern_of(raw) == pattern
    assert pattern_of(pattern) == pattern  # idempotent


@pytest.mark.parametrize(
    ("agent", "token"),
    [
        ("GPTBot", "GPTBot"),
        ("Foo Bar", "Foo Bar"),
        ("GPTBot/1.2", "GPTBot"),
        (
            "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; +claudebot@anthropic.com)",
            "ClaudeBot",
        ),
        (
            "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Googlebot",
        ),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120 Safari/537.36", ""),
    ],
)
def test_product_token(agent: str, token: str) -> None:
    assert product_token(agent) == token


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("/a*b*c$", "/axbxc", True),
        ("/a*b*c$", "/axbxcd", False),
        ("/a*bc$", "/abc", True),
        ("/ab*b$", "/ab", False),
        ("*", "/", True),
        ("$", "/", False),
        ("/*a*a*a*a*a*a*a*a*b", "/" + "a" * 5000, False),
    ],
)
def test_compile_pattern(pattern: str, path: str, expected: bool) -> None:
    assert compile_pattern(pattern)(path) is expected
