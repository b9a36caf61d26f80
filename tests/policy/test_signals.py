"""Usage-signal parsers: table tests from ai-signals.md, legacy vocabularies, garbage and bombs."""

import time

import pytest

from monitor.policy.robots import matches, path_key, pattern_of
from monitor.policy.signals import (
    Source,
    UsagePrefs,
    check,
    combine,
    is_cloudflare_managed,
    parse_content_signals,
    parse_content_usage_header,
    parse_content_usage_rules,
    parse_license_lines,
    parse_robots_meta,
    parse_rsl,
    parse_tdm_headers,
    parse_tdm_meta,
    parse_tdmrep_json,
    parse_usage_pref,
    parse_x_robots_tag,
    resolve_tdm,
    tdm_to_usage,
)
from monitor.policy.signals.htmlmeta import head_meta
from monitor.policy.signals.sfdict import parse_dictionary

SRC = Source("test")
BIG = b"\xff\xfe\x00<meta name=robots content=noai>" * (10 * 1024 * 1024 // 32)


# --- vocabulary ----------------------------------------------------------------------------------------------


def test_most_restrictive_wins_and_provenance():
    a = parse_usage_pref("train-ai=y", Source("a"))
    b = parse_usage_pref("train-ai=n", Source("b", 3))
    d = combine(a.prefs, b.prefs).get("train-ai")
    assert (d.value, d.source.signal, d.source.line, d.original_key) == ("no", "b", 3, "train-ai")


def test_legacy_hierarchy_inherits_only_when_asked():
    prefs = parse_usage_pref("bots=n", SRC).prefs
    assert prefs.value("train-genai") == "no"
    assert prefs.as_dict(inherit=True) == dict.fromkeys(("bots", "train-ai", "train-genai", "ai-input", "search"), "no")
    assert prefs.get("train-ai", inherit=False) is None


# --- Structured-Fields / Content-Usage header ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("train-ai=n, search=y", {"train-ai": "no", "search": "yes"}),
     ("train-ai=n;q=1, search=y", {"train-ai": "no", "search": "yes"}),  # parameters ignored
     ("train-ai=n, train-ai=y", {"train-ai": "yes"}),  # last duplicate wins
     ('train-ai="n"', {}), ("train-ai", {}), ("train-ai=?1", {}), ("train-ai=(n)", {}),  # not token y/n
     ("Train-AI=n", {}), ("train-ai=n,", {}), ("train-ai=n search=y", {}),  # parse failure: all unknown
     ("future-label=n, search=n", {"search": "no"}),  # unknown label ignored
     ("ai-use=n", {"ai-input": "no"}), ("ai=n, inference=n", {"train-ai": "no", "ai-input": "no"}),
     ("all=n", {"bots": "no"}),
     ("bots=y, train-ai=n", {"bots": "yes", "train-ai": "no"}),
     ("train-genai=n", {"train-genai": "no"}), ("ai-output=n", {"ai-input": "no"}),
     ("tdm=n, genai=y", {"bots": "no", "train-genai": "yes"})],
)  # fmt: skip
def test_usage_pref_table(value, expected):
    assert parse_usage_pref(value, SRC).prefs.as_dict() == expected


def test_usage_pref_records_original_key_and_errors():
    st = parse_usage_pref("ai-use=n", SRC)
    assert st.prefs.get("ai-input").original_key == "ai-use"
    assert parse_usage_pref("Train-AI=n", SRC).errors[0].code == "sf-parse"
    assert parse_usage_pref("x=y", SRC).ignored_keys == ("x",)


@pytest.mark.parametrize(
    "text",
    ['a="\\x"', 'a="unterminated', "a=:abc", "a=-", "a=1.2345", "a=(b", "a=@x", "a=?2", "1a=b", "a=b;", "a=%b"],
)
def test_sf_garbage_fails_cleanly(text):
    members, error = parse_dictionary(text)
    assert members is None and error


def test_sf_items():
    members, _ = parse_dictionary('a=1, b=-2.5, c="s\\"", d=:aGk=:, e=?0, f=(x y);p, g=@1, h=%"x"')
    assert [m.kind for m in members.values()] == [
        "integer", "decimal", "string", "bytes", "boolean", "inner-list", "date", "displaystring"
    ]  # fmt: skip


def test_content_usage_header_repeated_and_mixed_case():
    st = parse_content_usage_header([("content-usage", "search=y"), ("CONTENT-USAGE", "train-ai=n")])
    assert st.prefs.as_dict() == {"train-ai": "no", "search": "yes"}
    assert st.prefs.get("train-ai").source.signal == "content-usage-header"
    assert parse_content_usage_header({"Content-Usage": ["train-ai=y", "train-ai=n"]}).prefs.as_dict() == {
        "train-ai": "no"
    }
    assert parse_content_usage_header({}).prefs.as_dict() == {}


# --- Content-Usage robots.txt rule (attach draft example) ----------------------------------------------------

ATTACH = [(4, "train-ai=n", ("*",)), (5, "/ai-ok/ train-ai=y", ("*",)), (9, "train-ai=y", ("ExampleBot",))]


@pytest.mark.parametrize(
    ("agent", "path", "expected"),
    [("*", "/test", "no"), ("OtherBot", "/ai-ok/test", "yes"), ("examplebot", "/test", "yes"),
     ("*", "https://h/ai-ok/x?y=1", "yes")],
)  # fmt: skip
def test_content_usage_rules_attach_example(agent, path, expected):
    rules = parse_content_usage_rules(ATTACH)
    assert rules.prefs_for(agent, path).value("train-ai") == expected


def test_content_usage_rules_identical_paths_most_restrictive_and_provenance():
    rules = parse_content_usage_rules([(2, "/t/ train-ai=y", ("*",)), (3, "/t/ train-ai=n # why", ("*",))])
    d = rules.prefs_for("GPTBot", "/t/1").get("train-ai")
    assert (d.value, d.source.line, d.source.detail) == ("no", 3, "/t/")


def test_content_usage_rules_specific_group_without_rule_replaces_star():
    rules = parse_content_usage_rules([(2, "train-ai=n", ("*",))])
    assert rules.prefs_for("GPTBot", "/").value("train-ai") == "no"
    assert rules.prefs_for("GPTBot", "/", group_agents=[("*",), ("GPTBot",)]).value("train-ai") is None


def test_content_usage_rules_lints():
    rules = parse_content_usage_rules([(1, "train-ai=n", ()), (2, "/x", ("*",)), ("bad",), None])
    assert {e.code for e in rules.errors} >= {"ungrouped", "empty"}


# --- Content-Signal ------------------------------------------------------------------------------------------


def test_content_signal_cloudflare_example():
    res = parse_content_signals([(2, "search=yes, ai-train=no", ("*",))])
    prefs = res.for_agent("GPTBot")
    assert prefs.as_dict() == {"search": "yes", "train-ai": "no"}
    d = prefs.get("train-ai")
    assert (d.original_key, d.source.signal, d.source.line) == ("ai-train", "content-signal", 2)
    assert res.errors == ()


@pytest.mark.parametrize(
    ("value", "expected", "codes"),
    [("ai-input=no", {"ai-input": "no"}, set()), ("AI-Train=No", {"train-ai": "no"}, {"case"}),
     ("ai-train=maybe", {}, {"value"}), ("ai-train", {}, {"syntax"}), ("train-ai=no", {}, {"unknown-key"}),
     ("", {}, {"empty"}), ("search=yes, use=reference", {"search": "yes"}, set()), ("use=lots", {}, {"value"})],
)  # fmt: skip
def test_content_signal_table(value, expected, codes):
    res = parse_content_signals([(1, value, ("*",))])
    assert res.for_agent("x").as_dict() == expected
    assert {e.code for e in res.errors} == codes


def test_content_signal_groups_and_extras():
    res = parse_content_signals(
        [(1, "ai-train=yes", ()), (3, "ai-train=no, use=immediate", ("*",)), (6, "ai-train=yes", ("GPTBot", "CCBot"))]
    )
    assert res.for_agent("gptbot").value("train-ai") == "yes"
    assert res.for_agent("ClaudeBot").value("train-ai") == "no"
    assert res.extras_for("ClaudeBot") == {"use": "immediate"}
    assert any(e.code == "ungrouped" for e in res.errors)


def test_cloudflare_managed_marker():
    assert is_cloudflare_managed(b"# BEGIN Cloudflare Managed content\nUser-Agent: *\n")
    assert not is_cloudflare_managed("User-Agent: *\nContent-Signal: ai-train=no\n")


# --- TDMRep --------------------------------------------------------------------------------------------------

TDM_JSON = b"""[
  {"location": "/directory-a/", "tdm-reservation": 1},
  {"location": "/directory-b/html/", "tdm-reservation": 1, "tdm-policy": "https://provider.com/policies/policy.json"},
  {"location": "/directory-b/images/*.jpg", "tdm-reservation": 0},
  {"location": "/directory-b/", "tdm-reservation": 0}
]"""


@pytest.mark.parametrize(
    ("path", "reservation", "policy"),
    [("/directory-a/x", 1, None), ("/directory-b/html/p.html", 1, "https://provider.com/policies/policy.json"),
     ("/directory-b/images/a.jpg", 0, None), ("/directory-b/html", 0, None), ("/other", None, None),
     ("https://h/directory-a/", 1, None), ("/Directory-a/x", None, None)],
)  # fmt: skip
def test_tdmrep_file_first_match(path, reservation, policy):
    r = parse_tdmrep_json(TDM_JSON).lookup(path)
    assert (r.reservation, r.policy) == (reservation, policy)


def test_tdmrep_first_match_not_longest():
    f = parse_tdmrep_json(b'[{"location": "/", "tdm-reservation": 0}, {"location": "/music/", "tdm-reservation": 1}]')
    r = f.lookup("/music/a.mp3")
    assert r.reservation == 0 and r.source.detail == "[0] /"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'{"location": "/"}', "not-array"),
        (b"[1, {}]", "element"),
        (b'[{"location": "/", "tdm-reservation": 2}]', "reservation"),
        (b'[{"location": "/", "tdm-reservation": "1"}]', "reservation"),
        (b'[{"location": "/", "tdm-reservation": true}]', "reservation"),
        (b"\xff\xfe garbage", "json"),
        (b"[" * 100_000, "json"),
        (b" " * (2 * 1024 * 1024), "too-large"),
    ],
)
def test_tdmrep_bad_files(body, code):
    f = parse_tdmrep_json(body)
    assert code in {e.code for e in f.errors}
    assert f.lookup("/").reservation is None


def test_tdm_headers_and_meta_and_priority():
    file_r = parse_tdmrep_json(TDM_JSON).lookup("/directory-a/x")
    header = parse_tdm_headers({"TDM-Reservation": "0"})
    meta = parse_tdm_meta(
        b'<html><head><meta name="tdm-reservation" content="1">'
        b'<meta name="TDM-Policy" content="https://p/x.json"></head><body></body></html>'
    )
    assert (header.reservation, meta.reservation, meta.policy) == (0, 1, "https://p/x.json")
    assert resolve_tdm(file_r, header).reservation == 0
    final = resolve_tdm(file_r, header, meta)
    assert (final.reservation, final.policy, final.source.signal, final.source.line) == (
        1,
        "https://p/x.json",
        "tdm-meta",
        1,
    )
    # Absence at a later step never resets an earlier value.
    assert resolve_tdm(file_r, parse_tdm_headers({}), parse_tdm_meta(b"<p>")).reservation == 1


@pytest.mark.parametrize(
    ("headers", "reservation", "code"),
    [
        ([("tdm-reservation", "1"), ("Tdm-Reservation", "1")], 1, None),
        ([("tdm-reservation", "1"), ("tdm-reservation", "0")], None, "conflict"),
        ({"tdm-reservation": "yes"}, None, "reservation"),
        ({"tdm-reservation": " 1 "}, 1, None),
    ],
)
def test_tdm_headers_table(headers, reservation, code):
    r = parse_tdm_headers(headers)
    assert r.reservation == reservation
    assert ({e.code for e in r.errors} == {code}) if code else r.errors == ()


def test_tdm_to_usage():
    prefs = tdm_to_usage(parse_tdm_headers({"tdm-reservation": "1"}))
    assert prefs.as_dict()["train-ai"] == "no" and prefs.get("train-ai").original_key == "tdm-reservation=1"
    assert tdm_to_usage(parse_tdm_headers({})).as_dict() == {}


# --- RSL -----------------------------------------------------------------------------------------------------

RSL_GUIDE = b"""<rsl xmlns="https://rslstandard.org/rsl">
  <content url="/">
    <license>
      <permits type="usage">train-ai</permits>
      <payment type="subscription"><custom>https://your-website.com/contact-form.html</custom></payment>
    </license>
  </content>
  <content url="/tracks/*.mp3$" server="https://rsl.example/olp">
    <license>
      <permits type="usage">search, ai-index</permits>
      <prohibits type="usage">ai-train ai-input</prohibits>
      <prohibits type="geo">CN</prohibits>
    </license>
  </content>
</rsl>"""


def test_rsl_guide_example_and_content_patterns():
    doc = parse_rsl(RSL_GUIDE)
    assert doc.errors == ()
    assert doc.usage_for("/about").as_dict() == {"train-ai": "yes"}
    track = doc.usage_for("https://soundcloud.com/tracks/1.mp3")
    assert track.as_dict() == {"train-ai": "no", "ai-input": "no", "search": "yes"}
    assert doc.matching("/tracks/1.mp3")[0].server == "https://rsl.example/olp"
    assert doc.matching("/tracks/1.mp3")[0].licenses[0].prohibited("geo") == ("cn",)
    assert "subscription" in doc.usage_for("/").get("train-ai").source.detail


def test_rsl_full_url_content_and_missing_namespace():
    doc = parse_rsl(b'<rsl><content url="https://a.example/x/"><license><prohibits type="usage">all</prohibits>'
                    b"</license></content></rsl>")  # fmt: skip
    assert {e.code for e in doc.errors} == {"namespace"}
    assert doc.usage_for("https://a.example/x/1").value("search") == "no"
    assert doc.usage_for("https://b.example/x/1").as_dict() == {}


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<rsl xmlns="https://rslstandard.org/rsl"><content url="/"><license><permits type="usage">&lol9;</permits>
</license></content></rsl>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<rsl xmlns="https://rslstandard.org/rsl"><content url="/&x;"/></rsl>"""


@pytest.mark.parametrize("body", [BILLION_LAUGHS, XXE, b"<rsl", b"\x00\xff\xfe", b"", "<rsl>ü</rsl>", b"<a/>" * 10])
def test_rsl_hostile_documents(body):
    t0 = time.monotonic()
    doc = parse_rsl(body)
    assert time.monotonic() - t0 < 1
    assert doc.contents == () and doc.errors


def test_rsl_too_large():
    assert parse_rsl(b"<rsl>" + b" " * (2 * 1024 * 1024) + b"</rsl>").errors[0].code == "too-large"


def test_license_lines():
    refs, errors = parse_license_lines([(1, "https://example.com/license.xml # c", ()), (7, "/license.xml", ("*",))])
    assert [(r.line, r.url) for r in refs] == [(1, "https://example.com/license.xml")]
    assert errors[0].line == 7


# --- X-Robots-Tag and robots meta ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "agent", "names"),
    [({"X-Robots-Tag": "noai, noimageai"}, "GPTBot", {"noai", "noimageai"}),
     ([("x-robots-tag", "GPTBot: noindex"), ("X-ROBOTS-TAG", "NoAI")], "gptbot", {"noindex", "noai"}),
     ([("x-robots-tag", "GPTBot: noindex"), ("X-ROBOTS-TAG", "NoAI")], "CCBot", {"noai"}),
     ({"X-Robots-Tag": ["googlebot: noindex, nosnippet", "unavailable_after: 25 Jun 2010 15:00:00 PST"]}, "googlebot",
      {"noindex", "nosnippet", "unavailable_after"}),
     ({"X-Robots-Tag": "max-snippet:20, none"}, "x", {"max-snippet", "none"}),
     ({"Robots-Tag": "*=noindex, nosnippet; ExampleBot=;"}, "examplebot", {"noindex", "nosnippet"}),
     ({"Robots-Tag": "ExampleBot=noai"}, "other", set())],
)  # fmt: skip
def test_x_robots_tag_table(headers, agent, names):
    assert parse_x_robots_tag(headers).names_for(agent) == names


def test_x_robots_tag_usage_mapping():
    d = parse_x_robots_tag({"x-robots-tag": "noimageai, noindex"})
    prefs = d.usage_for("GPTBot")
    assert prefs.as_dict() == {"search": "no"}
    assert prefs.as_dict(media="image") == {"train-ai": "no", "ai-input": "no", "search": "no"}
    assert prefs.get("train-ai", media="image").original_key == "noimageai"
    bing = parse_x_robots_tag({"x-robots-tag": "noarchive"})
    assert bing.usage_for("bingbot").value("train-ai") == "no" and bing.usage_for("GPTBot").as_dict() == {}


def test_x_robots_tag_lints():
    d = parse_x_robots_tag({"x-robots-tag": "bad agent: noai, frobnicate"})
    assert {e.code for e in d.errors} == {"syntax", "unknown-directive"}


META_PAGE = b"""<!doctype html><html><head>
<meta charset="utf-8"><META NAME="Robots" CONTENT="noai, noimageai">
<!-- <meta name="robots" content="noindex"> -->
<script>var s = '<meta name="robots" content="nofollow">';</script>
<meta name="GPTBot" content='noindex'>
<meta name="description" content="noai is cool">
</head><body><meta name="robots" content="none"></body></html>"""


def test_robots_meta_head_only_scoped_and_lined():
    d = parse_robots_meta(META_PAGE)
    assert d.names_for("gptbot") == {"noai", "noimageai", "noindex"}
    assert d.names_for("CCBot") == {"noai", "noimageai"}
    d_noai = d.usage_for("CCBot").get("train-ai")
    assert (d_noai.source.signal, d_noai.source.line, d_noai.original_key) == ("robots-meta", 2, "noai")


@pytest.mark.parametrize(
    "doc",
    [
        b"<meta name=robots content=noai",
        b"<<<>>><meta",
        b"<!-- never closed <meta name=robots content=noai>",
        '<meta name="robots" content="noai\u0000">'.encode(),
        b"<script>" + b"<meta name=robots content=noai>" * 3,
    ],
)
def test_robots_meta_broken_html_never_raises(doc):
    parse_robots_meta(doc)


def test_robots_meta_unquoted_and_entities():
    assert parse_robots_meta(b"<meta name=robots content=noai>").names_for("x") == {"noai"}
    assert parse_robots_meta(b'<meta content="noai&#44; noimageai" name="robots">').names_for("x") == {
        "noai",
        "noimageai",
    }


def test_meta_byte_cap():
    doc = b"<head>" + b" " * 2000 + b'<meta name="robots" content="noai">'
    assert head_meta(doc, max_bytes=1000) == []
    assert parse_robots_meta(doc).names_for("x") == {"noai"}


# --- consistency ---------------------------------------------------------------------------------------------


def test_crawl_allowed_but_ai_train_no_is_not_a_contradiction():
    cs = parse_content_signals([(2, "search=yes, ai-train=no", ("*",))]).for_agent("GPTBot")
    findings = check([cs], crawl_allowed=True, crawl_source=Source("robots.txt", 5, "Allow: /"))
    assert findings and not any(f.is_contradiction for f in findings)
    assert [(f.kind, f.severity) for f in findings] == [("crawl-allowed-usage-restricted", "info")]
    raised = check([cs], crawl_allowed=True, agent_purposes={"train-ai"})
    assert raised[0].severity == "warning" and not raised[0].is_contradiction


def test_two_usage_signals_disagreeing_is_a_contradiction():
    cs = parse_content_signals([(2, "ai-train=no", ("*",))]).for_agent("GPTBot")
    tdm = tdm_to_usage(parse_tdm_headers({"tdm-reservation": "0"}))
    (f,) = [f for f in check([cs, tdm]) if f.is_contradiction]
    assert f.purpose == "train-ai" and {s.signal for s in f.sources} == {"content-signal", "tdm-header"}
    assert combine(cs, tdm).value("train-ai") == "no"


def test_blocked_but_search_yes_warns_and_no_is_redundant():
    cs = parse_content_signals([(2, "search=yes, ai-train=no", ("*",))]).for_agent("x")
    findings = check([cs], crawl_allowed=False)
    assert [(f.kind, f.purpose, f.severity) for f in findings] == [("preference-on-disallowed", "search", "warning")]


def test_same_signal_and_image_scope_not_contradictions():
    rules = parse_content_usage_rules([(2, "/t/ train-ai=y", ("*",)), (3, "/t/ train-ai=n", ("*",))])
    assert not any(f.is_contradiction for f in check([rules.prefs_for("x", "/t/1")]))
    img = parse_x_robots_tag({"x-robots-tag": "noimageai"}).usage_for("x")
    allow = parse_usage_pref("train-ai=y", Source("content-usage-header"))
    assert check([img, allow.prefs]) == ()
    assert check([img, allow.prefs], media="image")[0].is_contradiction
    assert check([UsagePrefs()]) == ()


# --- garbage and size bounds ---------------------------------------------------------------------------------


def test_ten_megabyte_inputs_are_bounded():
    text = BIG.decode("latin-1")
    t0 = time.monotonic()
    parse_robots_meta(BIG)
    parse_tdm_meta(BIG)
    parse_tdmrep_json(BIG)
    parse_rsl(BIG)
    parse_x_robots_tag({"x-robots-tag": text, "content-usage": text})
    parse_content_usage_header({"content-usage": text})
    parse_content_signals([(1, text, ("*",))] * 3)
    parse_content_usage_rules([(1, "/" + text, ("*",))])
    parse_license_lines([(1, text)])
    matches(pattern_of("/*a*b*c*d*e$"), path_key("/" + "a" * 10_000_000))
    assert time.monotonic() - t0 < 5


@pytest.mark.parametrize("junk", [b"\x00\x01\x02", b"\xc3\x28\xa0\xa1", "\udcff".encode("utf-8", "surrogatepass")])
def test_binary_and_invalid_utf8(junk):
    parse_content_signals([(1, junk.decode("latin-1"), ("*",))])
    parse_content_usage_header({b"Content-Usage": junk})
    parse_tdm_headers({"tdm-reservation": junk})
    parse_x_robots_tag([(b"x-robots-tag", junk)])
    parse_robots_meta(junk)
    parse_tdmrep_json(junk)
    parse_rsl(junk)
    assert matches(pattern_of("/\udcff"), path_key("/\udcff"))


def test_garbage_header_containers():
    for headers in (None, {}, [("x",)], [None], 42, {"x-robots-tag": None}, {"x-robots-tag": 5}):
        parse_x_robots_tag(headers)
        parse_tdm_headers(headers)
        parse_content_usage_header(headers)
