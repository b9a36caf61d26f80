"""The verdict matrix and the policy findings: pure functions over parsed signals."""

from __future__ import annotations

import pytest

from monitor.policy.aitxt import parse_aitxt
from monitor.policy.audit import Expectation, audit
from monitor.policy.matrix import DomainSignals, compute
from monitor.policy.robots import fetch_verdict

CLASSES = {"home": ["/"], "track": ["/artist/track"], "audio": ["/stream/a.mp3"]}
ROBOTS = b"""User-agent: GPTBot
Disallow: /

User-agent: ClaudeBot
Disallow: /artist/
Disallow: /stream/

User-agent: *
Content-Signal: search=yes, ai-train=no
Disallow: /search
"""
EXPECT = Expectation(None, ("track", "audio"), True)


def matrix(robots=ROBOTS, status=200, agents=("GPTBot", "ClaudeBot", "CCBot"), aitxt=None):
    signals = DomainSignals(fetch_verdict(status, robots), parse_aitxt(aitxt) if aitxt else None)
    return {(c.agent, c.path_class): c for c in compute("soundcloud.com", signals, agents, CLASSES)}


def test_crawl_verdicts_rules_groups_and_restriction():
    m = matrix()
    gpt = m[("GPTBot", "track")]
    assert not gpt.crawl_allowed and (gpt.rule_line, gpt.rule_directive, gpt.rule_pattern) == (2, "disallow", "/")
    assert gpt.group == "specific" and gpt.restriction == "full"
    claude_home, claude_track = m[("ClaudeBot", "home")], m[("ClaudeBot", "track")]
    assert claude_home.crawl_allowed and not claude_track.crawl_allowed and claude_track.restriction == "partial"
    cc = m[("CCBot", "track")]
    assert cc.crawl_allowed and cc.group == "global" and cc.rule_line is None and cc.restriction == "none"


def test_usage_verdicts_carry_their_source():
    cc = matrix()[("CCBot", "track")]
    assert cc.train_ai == "no" and cc.train_ai_source.startswith("content-signal")
    assert cc.search == "yes"
    assert matrix()[("GPTBot", "track")].train_ai is None  # its own group has no Content-Signal line


def test_ai_txt_reserves_audio_files_for_training():
    m = matrix(aitxt=b"User-Agent: *\nDisallow: *.mp3\n")
    assert m[("GPTBot", "audio")].train_ai == "no"
    assert m[("GPTBot", "audio")].train_ai_source.startswith("ai.txt")


@pytest.mark.parametrize(("status", "allowed", "group"), [(404, True, "unavailable"), (503, False, "unreachable")])
def test_fetch_states(status, allowed, group):
    m = matrix(status=status)
    assert all(c.crawl_allowed is allowed and c.group == group for c in m.values())


def test_breach_lists_agents_that_may_crawl_forbidden_classes():
    result = audit("soundcloud.com", list(matrix().values()), {}, EXPECT, [])
    (breach,) = [f for f in result.findings if f.kind == "policy_breach"]
    assert breach.data["crawling"] == ["CCBot"] and "GPTBot" in breach.data["unreserved"]
    assert breach.severity == "high"
    only_gpt = audit("soundcloud.com", list(matrix().values()), {}, Expectation(["GPTBot"], ("track",), False), [])
    assert not [f for f in only_gpt.findings if f.kind == "policy_breach"]
    assert "policy_breach:soundcloud.com" in only_gpt.cleared


def test_regression_when_an_agent_is_newly_allowed_and_event_when_newly_disallowed():
    before = matrix()
    weakened = ROBOTS.replace(b"User-agent: GPTBot\nDisallow: /", b"User-agent: GPTBot\nAllow: /")
    tightened = weakened.replace(b"User-agent: *\n", b"User-agent: *\nDisallow: /\n")
    after = matrix(weakened)
    result = audit("soundcloud.com", list(after.values()), before, EXPECT, [])
    (reg,) = [f for f in result.findings if f.kind == "policy_regression"]
    assert reg.dedupe_key == "policy_regression:soundcloud.com:GPTBot" and reg.severity == "high"
    assert reg.data["path_classes"] == ["home", "track", "audio"] and "now line 2 `allow: /`" in reg.detail
    again = audit("soundcloud.com", list(matrix(tightened).values()), after, EXPECT, [])
    assert not [f for f in again.findings if f.kind == "policy_regression"]
    assert {c.agent for c in again.newly_disallowed} == {"CCBot"}  # recorded, not alerted
    # A regression resolves once every path class it names is disallowed again (the audit is told which are open).
    opened = {"GPTBot": reg.data["path_classes"]}
    fixed = audit("soundcloud.com", list(before.values()), after, EXPECT, [], open_regressions=opened)
    assert "policy_regression:soundcloud.com:GPTBot" in fixed.cleared
    still = audit("soundcloud.com", list(after.values()), after, EXPECT, [], open_regressions=opened)
    assert "policy_regression:soundcloud.com:GPTBot" not in still.cleared
    assert not [f for f in still.findings if f.kind == "policy_regression"]  # unchanged: stays open, no news


def test_first_audit_is_a_baseline():
    result = audit("soundcloud.com", list(matrix().values()), {}, EXPECT, [])
    assert not [f for f in result.findings if f.kind == "policy_regression"]


def test_lints_become_a_low_incident_only_when_known():
    lints = [(3, "non-rfc-token", "token 'AI2Bot' is not RFC 9309"), (9, "long-line", "cosmetic")]
    result = audit("soundcloud.com", list(matrix().values()), {}, EXPECT, lints)
    (lint,) = [f for f in result.findings if f.kind == "policy_lint"]
    assert lint.severity == "low" and "line 3" in lint.detail and "cosmetic" not in lint.detail
    unknown = audit("soundcloud.com", list(matrix().values()), {}, EXPECT, None)
    assert "policy_lint:soundcloud.com:robots.txt" not in unknown.cleared


def test_tdmrep_reservation_reserves_training():
    from monitor.policy.signals import parse_tdmrep_json

    tdm = parse_tdmrep_json(b'[{"location": "/artist/*", "tdm-reservation": 1}]')
    signals = DomainSignals(fetch_verdict(200, ROBOTS), None, tdm)
    m = {(c.agent, c.path_class): c for c in compute("soundcloud.com", signals, ["GPTBot"], CLASSES)}
    assert m[("GPTBot", "track")].train_ai == "no" and m[("GPTBot", "track")].train_ai_source.startswith("tdmrep")
    assert m[("GPTBot", "home")].train_ai is None  # outside the reserved location
