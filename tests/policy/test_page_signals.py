"""Page-level signals of sampled pages: parsing, the kept summary, and their place in the verdict matrix."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.policy.matrix import DomainSignals, compute
from monitor.policy.pages import is_page_file, page_file, parse_page, path_class_of, summary
from monitor.policy.robots import fetch_verdict
from monitor.policy.signals import parse_rsl

HTML = {"content-type": ["text/html; charset=utf-8"]}
TRACK = b"""<!DOCTYPE html><html><head><title>t</title>
<meta name="robots" content="index, follow">
<meta name="GPTBot" content="noai">
<meta name="tdm-reservation" content="1">
<meta name="description" content="noai is mentioned here but this is not a robots meta">
</head><body><p>%d plays</p></body></html>"""
CLASSES = {"home": ["/"], "track": ["/artist/track"]}
ROBOTS = b"User-agent: *\nAllow: /\n"


def page(plays: int = 1) -> bytes:
    return TRACK % plays


def test_page_file_names():
    assert page_file("track") == "page:track" and is_page_file("page:track") and not is_page_file("robots.txt")
    assert path_class_of("page:track") == "track"


def test_x_robots_tag_every_value_counts_and_agent_scoped_values_stay_scoped():
    headers = {**HTML, "x-robots-tag": ["noai", "otherbot: noindex"]}
    signals = parse_page(headers, b"")
    assert signals.usage_for("GPTBot").value("train-ai") == "no"
    assert signals.usage_for("GPTBot").value("search") is None  # otherbot's noindex is not GPTBot's
    assert signals.usage_for("otherbot").value("search") == "no"
    assert signals.named_agents == {"otherbot"}


def test_robots_meta_per_crawler_and_tdm_meta_from_the_head():
    signals = parse_page(HTML, page())
    assert signals.usage_for("GPTBot").value("train-ai") == "no"
    assert signals.usage_for("CCBot").value("train-ai") is None
    assert signals.tdm_meta.reservation == 1 and signals.tdm_header.reservation is None


def test_meta_is_not_read_from_a_body_that_is_not_html():
    signals = parse_page({"content-type": ["application/json"]}, page())
    assert signals.robots.directives == () and signals.tdm_meta.reservation is None


def test_content_usage_and_tdm_headers():
    signals = parse_page({"content-usage": ["train-ai=n"], "tdm-reservation": ["1"]}, b"")
    assert signals.usage_for("AnyBot").value("train-ai") == "no"
    assert signals.tdm_header.reservation == 1


def test_summary_keeps_signals_and_ignores_everything_else():
    headers = {**HTML, "x-robots-tag": ["noai, noimageai"], "set-cookie": ["sid=1"], "date": ["now"]}
    first, second = summary(200, headers, page(1)), summary(200, {**headers, "date": ["later"]}, page(2))
    assert first == second  # play counts, dates and cookies change; the signals did not
    text = first.decode()
    assert "x-robots-tag: noai, noimageai" in text and "meta gptbot: noai" in text
    assert "meta tdm-reservation: 1" in text and "description" not in text and "cookie" not in text
    weaker = summary(200, {**HTML}, page(3))
    assert weaker != first and "x-robots-tag" not in weaker.decode()


def test_summary_keeps_only_license_links():
    headers = {"link": ['<https://e.example/l.xml>; rel="license"', '</style.css>; rel="preload"']}
    text = summary(200, headers, b"").decode()
    assert "l.xml" in text and "style.css" not in text


@given(st.binary(max_size=4096), st.dictionaries(st.text(max_size=20), st.lists(st.text(max_size=50), max_size=3)))
def test_parse_and_summary_never_raise_and_are_deterministic(body, headers):
    assert summary(200, headers, body) == summary(200, headers, body)
    parse_page(headers, body).usage_for("GPTBot")


def test_huge_page_is_bounded():
    body = b"<html><head>" + b"<meta name='x' content='y'>" * 200_000 + b"</head></html>"
    assert len(summary(200, HTML, body)) < 100_000


def cells(pages=None, rsl=None, agents=("GPTBot", "CCBot")):
    signals = DomainSignals(fetch_verdict(200, ROBOTS), pages=pages or {}, rsl=rsl)
    return {(c.agent, c.path_class): c for c in compute("soundcloud.com", signals, agents, CLASSES)}


def test_page_signals_apply_to_their_path_class_only():
    m = cells({"track": parse_page({**HTML, "x-robots-tag": ["noai"]}, b"")})
    assert m[("GPTBot", "track")].train_ai == "no" and m[("GPTBot", "track")].train_ai_source == "x-robots-tag"
    assert m[("GPTBot", "home")].train_ai is None


def test_agent_scoped_page_meta_splits_agents_that_otherwise_share_a_row():
    body = b'<html><head><meta name="GPTBot" content="noai"></head></html>'
    m = cells({"track": parse_page(HTML, body)})
    assert m[("GPTBot", "track")].train_ai == "no" and m[("CCBot", "track")].train_ai is None


def test_tdm_headers_and_meta_resolve_after_the_site_file():
    from monitor.policy.signals import parse_tdmrep_json

    tdm = parse_tdmrep_json(b'[{"location": "/", "tdm-reservation": 0}]')
    page_signals = parse_page({"tdm-reservation": ["1"]}, b"")
    signals = DomainSignals(fetch_verdict(200, ROBOTS), None, tdm, {"track": page_signals})
    m = {(c.agent, c.path_class): c for c in compute("soundcloud.com", signals, ["GPTBot"], CLASSES)}
    assert m[("GPTBot", "track")].train_ai == "no" and m[("GPTBot", "track")].train_ai_source == "tdm-header"
    assert m[("GPTBot", "home")].train_ai == "yes"  # the file's reservation=0 stands where no page says more


@pytest.mark.parametrize(("xml", "expected"), [(b"prohibits", "no"), (b"permits", "yes")])
def test_rsl_license_document_decides_training(xml, expected):
    doc = parse_rsl(
        b'<rsl xmlns="https://rslstandard.org/rsl"><content url="/"><license>'
        b'<%s type="usage">ai-train</%s></license></content></rsl>' % (xml, xml)
    )
    m = cells(rsl=doc)
    assert m[("GPTBot", "track")].train_ai == expected and m[("GPTBot", "track")].train_ai_source == "rsl"
