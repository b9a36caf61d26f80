"""The cases API and pages over real HTTP (build_site on loopback, a real SQLite store): filters, keyset cursors,
bounded case answers, 404s, read-only methods and token rules, escaping of hostile case data, host intel shown or
absent, screenshots served from the evidence store."""

from __future__ import annotations

import json
import re
import sqlite3
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import pytest

from monitor.db import open_db
from monitor.incidents import Evidence
from monitor.store.core import Store
from monitor.store.files import EvidenceFiles
from tests.helpers.cases import at, finding, host_facts, insert_case, store_findings, track
from tests.test_http_evidence import HOSTILE, TOKEN, decode_png, png, request, serving

ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"
CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"


@dataclass
class Cases:
    db: Path
    evidence: Path
    hostile: int  # a case whose title, domain, note, owner, urls and host intel are hostile; with a screenshot
    plain: int  # a case without host intel
    big: int  # a case with 260 incidents and evidence rows
    others: list[int]
    shot_sha: str
    loose: int  # an incident in no case


def _seed(data: Path) -> Cases:
    files = EvidenceFiles(data / "evidence")
    store = Store(open_db(data / "scrapewatch.db"), files, storm_threshold=0)
    try:
        bad_domain = f"evil.example{HOSTILE}"
        f = finding(bad_domain, 1, "critical", {"catalogue_track": track("42", f"Song {HOSTILE}", no_ai=True)})
        f = type(f)(f.dedupe_key, f.kind, f.severity, f.domain, f"Downloader {HOSTILE}", f.detail, f.data)
        ev = Evidence(f.dedupe_key, f"https://evil.example/get?{HOSTILE}", "https://evil.example/", "SC-DL-PAGE",
                      "critical", f"offers {HOSTILE}", screenshot=png(32, 24))  # fmt: skip
        ids = store_findings(store, [f], [ev], minute=0)
        intel = host_facts(bad_domain, provider=f"Host {HOSTILE}")
        hostile = insert_case(store, bad_domain, list(ids.values()), title=f"Case {HOSTILE}", owner=f"ana{HOSTILE}",
                              severity="critical", minute=1, events=[(2, "note", f"note {HOSTILE}", {"x": HOSTILE})],
                              links=[("client_id", HOSTILE, bad_domain)], host_intel={bad_domain: intel})  # fmt: skip
        ids = store_findings(store, [finding("plain.example", 1)], minute=3)
        plain = insert_case(store, "plain.example", list(ids.values()), owner="bo", minute=3, status="investigating")
        big_findings = [finding("big.example", i, "low") for i in range(260)]
        big_ev = [Evidence(x.dedupe_key, f"https://big.example/{i}", "https://big.example/", "SC-X", "low")
                  for i, x in enumerate(big_findings)]  # fmt: skip
        ids = store_findings(store, big_findings, big_ev, minute=4)
        big = insert_case(store, "big.example", list(ids.values()), minute=4, status="taken_down",
                          taken_down_minute=90)  # fmt: skip
        others = []
        for i in range(7):
            ids = store_findings(store, [finding(f"o{i}.example", i)], minute=5)
            others.append(insert_case(store, f"o{i}.example", list(ids.values()), minute=5, severity="medium"))
        shot = store.case_evidence(hostile)[0]["screenshot_sha256"]
        (loose,) = store_findings(store, [finding("loose.example", 1)], minute=6).values()
        return Cases(data / "scrapewatch.db", data / "evidence", hostile, plain, big, others, shot, loose)
    finally:
        store.db.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    cases = _seed(tmp_path_factory.mktemp("cases") / "data")
    with serving(cases.db, cases.evidence, TOKEN) as url:
        yield url, cases


def get_json(url: str):
    status, headers, body = request(url)
    assert headers["Content-Type"] == "application/json", body
    return status, json.loads(body)


# ---- the API ---------------------------------------------------------------------------------------------


def test_api_lists_cases_with_filters(site):
    base, c = site
    status, answer = get_json(f"{base}/api/cases?limit=100")
    assert status == 200 and answer["next"] is None
    ids = [x["id"] for x in answer["cases"]]
    assert set(ids) == {c.hostile, c.plain, c.big, *c.others}
    assert ids[:7] == sorted(c.others, reverse=True)  # most recently seen first, ties by id
    assert answer["cases"][0]["case_url"] == f"/cases/{ids[0]}"
    for query, expected in (
        ("status=investigating", [c.plain]),
        ("status=taken_down", [c.big]),
        ("severity=critical", [c.hostile]),
        ("owner=bo", [c.plain]),
        ("domain=o3.example", [c.others[3]]),
        (urllib.parse.urlencode({"q": "Case <script>"}), [c.hostile]),
    ):
        status, answer = get_json(f"{base}/api/cases?{query}")
        assert status == 200 and [x["id"] for x in answer["cases"]] == expected, query
    status, answer = get_json(f"{base}/api/cases?status=active&limit=100")
    assert c.big not in [x["id"] for x in answer["cases"]] and len(answer["cases"]) == 9


@pytest.mark.parametrize(
    "query",
    ["status=closed", "severity=urgent", "limit=0", "limit=501", "limit=x", "after=garbage", "offset=10",
     "merged=maybe", "q=" + "x" * 201],
)  # fmt: skip
def test_api_refuses_bad_parameters(site, query):
    base, _ = site
    status, answer = get_json(f"{base}/api/cases?{query}")
    assert status == 400 and answer["error"]


def test_api_keyset_pages_are_stable(site):
    base, _ = site
    everything = [x["id"] for x in get_json(f"{base}/api/cases?limit=100")[1]["cases"]]
    seen, after, pages = [], None, 0
    while True:
        query = "limit=3" + (f"&after={after}" if after else "")
        status, answer = get_json(f"{base}/api/cases?{query}")
        assert status == 200
        seen += [x["id"] for x in answer["cases"]]
        pages += 1
        after = answer["next"]
        if after is None:
            break
    assert seen == everything and pages == 4  # 10 cases: 3 + 3 + 3 + 1, the last page says no next
    # The same cursor gives the same page again.
    first = get_json(f"{base}/api/cases?limit=3")[1]["next"]
    assert get_json(f"{base}/api/cases?limit=3&after={first}") == get_json(f"{base}/api/cases?limit=3&after={first}")


def test_api_case_facts_and_404(site):
    base, c = site
    status, facts = get_json(f"{base}/api/cases/{c.hostile}")
    assert status == 200 and facts["id"] == c.hostile and facts["title"] == f"Case {HOSTILE}"
    assert facts["tracks"][0]["track_id"] == "42" and facts["tracks"][0]["no_ai"] is True
    assert facts["host_intel"][f"evil.example{HOSTILE}"]["networks"][0]["hosting_provider"] == f"Host {HOSTILE}"
    assert facts["evidence"][0]["links"]["screenshot"] == f"/api/evidence/{c.shot_sha}"
    assert facts["more"] == {"incidents": None, "evidence": None, "timeline": None} and facts["merged_into"] is None
    assert [t["action"] for t in facts["timeline"]] == ["opened", "opened", "note"]
    for path in ("/api/cases/99999", "/api/cases/99999/evidence", "/api/cases/x", "/api/cases/1/other",
                 "/api/cases/1/evidence/2"):  # fmt: skip
        status, answer = get_json(base + path)
        assert status == 404 and answer["error"], path


def test_a_huge_case_answers_bounded_and_pages_its_sections(site):
    base, c = site
    status, _, body = request(f"{base}/api/cases/{c.big}")
    facts = json.loads(body)
    full = request(f"{base}/api/cases/{c.big}/evidence?limit=500")[2]
    assert len(body) < 300_000 and len(json.loads(full)["evidence"]) == 260  # bounded, whatever the case holds
    assert status == 200 and len(facts["incidents"]) == 100 and len(facts["evidence"]) == 100
    assert len(facts["timeline"]) == 100 and all(facts["more"].values())
    for section, total in (("incidents", 260), ("evidence", 260), ("timeline", 261)):
        got, after = list(facts[section]), facts["more"][section]
        while after:
            status, page = get_json(f"{base}/api/cases/{c.big}/{section}?limit=77&after={after}")
            assert status == 200
            got += page[section]
            after = page["next"]
        assert len(got) == total, section
        key = "at" if section == "timeline" else "id"
        assert len({json.dumps(x, sort_keys=True) for x in got}) == total and got == sorted(got, key=lambda x: x[key])
    assert get_json(f"{base}/api/cases/{c.big}/evidence?after=nope")[0] == 400
    assert get_json(f"{base}/api/cases/{c.big}?limit=5")[0] == 400


def test_cases_are_read_only_whatever_the_token(site):
    base, c = site
    for path in ("/api/cases", f"/api/cases/{c.plain}", "/cases", f"/cases/{c.plain}"):
        for method in ("POST", "PUT", "DELETE"):
            status, headers, _ = request(base + path, method, b"{}", {"Authorization": f"Bearer {TOKEN}"})
            # The case pages take POSTs only at their two actions (/cases/{id}/notice and /export).
            allow = "GET, HEAD, POST" if path.startswith("/cases") and method != "POST" else "GET, HEAD"
            assert status == 405 and headers["Allow"] == allow, (path, method)
    # Reads need no token, with one configured or not.
    assert request(f"{base}/api/cases")[0] == 200


def test_without_a_token_the_pages_say_read_only(tmp_path):
    cases = _seed(tmp_path / "data")
    with serving(cases.db, cases.evidence, None) as url:
        assert get_json(f"{url}/api/cases/{cases.plain}")[0] == 200
        html = request(f"{url}/cases/{cases.plain}")[2].decode()
        assert "read-only: http.api_token is not set" in html


# ---- the pages -------------------------------------------------------------------------------------------


def test_hostile_case_data_is_escaped_on_the_list_and_the_case_page(site):
    base, c = site
    for path in ("/cases?status=any", f"/cases/{c.hostile}"):
        status, headers, body = request(base + path)
        html = body.decode()
        assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
        assert headers["Content-Security-Policy"] == CSP and headers["X-Frame-Options"] == "DENY"
        assert ESCAPED in html and HOSTILE not in html, path
        assert "<script" not in html.lower() and "<img src=x" not in html
    html = request(f"{base}/cases/{c.hostile}")[2].decode()
    assert f"note {ESCAPED}" in html and f"ana{ESCAPED}" in html and f"Host {ESCAPED}" in html
    assert f"<code>https://evil.example/get?{ESCAPED}</code>" in html and 'href="https://evil' not in html
    # Filter values reflected into the form are escaped too.
    query = urllib.parse.urlencode({"q": HOSTILE, "domain": HOSTILE, "owner": HOSTILE})
    html = request(f"{base}/cases?{query}")[2].decode()
    assert f'name="q" value="{ESCAPED}"' in html and f'<option value="{ESCAPED}" selected>' in html
    assert "<script" not in html.lower()


def test_case_page_with_host_intel_tracks_and_screenshot(site):
    base, c = site
    html = request(f"{base}/cases/{c.hostile}")[2].decode()
    assert 'id="intel"' in html and "abuse@hosting.test" in html and "Example Registrar" in html
    assert "10.0.0.5 (private address)" in html and "<td>64500</td>" in html
    assert "<strong>no_ai</strong>" in html and "<code>42</code>" in html
    assert f'<img class="shot" src="/api/evidence/{c.shot_sha}"' in html
    status, headers, shot = request(f"{base}/api/evidence/{c.shot_sha}")
    assert status == 200 and headers["Content-Type"] == "image/png" and decode_png(shot)[:2] == (32, 24)
    assert 'href="/triage/incidents/' in html  # incidents and timeline entries lead to the triage page
    incident = re.search(r'href="/triage/incidents/(\d+)"', html).group(1)
    assert f'<a id="case" href="/cases/{c.hostile}">' in request(f"{base}/triage/incidents/{incident}")[2].decode()
    assert 'id="case"' not in request(f"{base}/triage/incidents/{c.loose}")[2].decode()


def test_case_page_without_host_intel(site):
    base, c = site
    status, _, body = request(f"{base}/cases/{c.plain}")
    html = body.decode()
    assert status == 200 and 'id="no-intel"' in html and 'id="intel"' not in html
    assert "no catalogue track named" in html and "no evidence recorded" in html


def test_case_list_filters_pages_and_links(site):
    base, c = site
    html = request(f"{base}/cases")[2].decode()
    listed = [int(i) for i in re.findall(r'<tr data-id="(\d+)">', html)]
    assert c.big not in listed and set(listed) == {c.hostile, c.plain, *c.others}  # default: needs work
    html = request(f"{base}/cases?status=taken_down")[2].decode()
    assert [int(i) for i in re.findall(r'<tr data-id="(\d+)">', html)] == [c.big]
    assert '<a href="/cases">cases</a>' in request(f"{base}/triage")[2].decode()  # linked from triage
    html = request(f"{base}/cases?owner=bo&utm=grafana")[2].decode()  # unknown parameters are ignored
    assert [int(i) for i in re.findall(r'<tr data-id="(\d+)">', html)] == [c.plain]
    status, _, body = request(f"{base}/cases?severity=urgent")
    assert status == 400 and "severity must be one of" in body.decode()
    status, _, body = request(f"{base}/cases/99999")
    assert status == 404 and 'href="/cases"' in body.decode()


def test_case_page_pages_long_sections(site):
    base, c = site
    html = request(f"{base}/cases/{c.big}")[2].decode()
    more = re.search(r'href="(/cases/\d+\?evidence_after=[^"#]+)#evidence"', html)
    assert more, "a 'more evidence' link"
    page2 = request(base + more.group(1).replace("&amp;", "&"))[2].decode()
    assert "https://big.example/100<" in page2 and "https://big.example/99<" not in page2


def test_merged_cases_are_hidden_and_lead_to_their_survivor(tmp_path):
    cases = _seed(tmp_path / "data")
    conn = sqlite3.connect(cases.db)
    with conn:
        conn.execute("UPDATE cases SET merged_into = ?, updated_at = ? WHERE id = ?", [cases.plain, at(9), cases.big])
    conn.close()
    with serving(cases.db, cases.evidence, None) as url:
        listed = [x["id"] for x in get_json(f"{url}/api/cases?limit=100")[1]["cases"]]
        assert cases.big not in listed
        assert cases.big in [x["id"] for x in get_json(f"{url}/api/cases?limit=100&merged=true")[1]["cases"]]
        assert get_json(f"{url}/api/cases/{cases.big}")[1]["merged_into"] == cases.plain
        assert (
            f'<a href="/cases/{cases.plain}">case #{cases.plain}</a>' in request(f"{url}/cases/{cases.big}")[2].decode()
        )


# ---- the actions -----------------------------------------------------------------------------------------


def post_form(url: str, fields: dict[str, str]):
    body = urllib.parse.urlencode(fields).encode()
    return request(url, "POST", body, {"Content-Type": "application/x-www-form-urlencoded"})


def test_case_actions_draft_a_notice_and_export_a_bundle_behind_the_token(tmp_path):
    from monitor.cases import bundle

    cases = _seed(tmp_path / "data")
    exports = tmp_path / "exports"
    with serving(cases.db, cases.evidence, TOKEN, case_actions={"exports_dir": exports}) as url:
        page = request(f"{url}/cases/{cases.hostile}")[2].decode()
        assert f'action="/cases/{cases.hostile}/notice"' in page and f'action="/cases/{cases.hostile}/export"' in page
        # Without the token, or with a wrong one, nothing is drafted or written.
        for token in ({}, {"token": TOKEN + "x"}):
            status, _, _ = post_form(f"{url}/cases/{cases.hostile}/notice", {"to": "hosting", **token})
            assert status in (401, 403)
            assert post_form(f"{url}/cases/{cases.hostile}/export", token)[0] in (401, 403)
        assert not exports.exists()
        status, headers, body = post_form(f"{url}/cases/{cases.hostile}/notice", {"to": "hosting", "token": TOKEN})
        assert status == 200 and "attachment" in headers["Content-Disposition"]
        assert b"abuse@hosting.test" in body and b"https://evil.example/" in body
        status, headers, body = post_form(
            f"{url}/cases/{cases.hostile}/notice", {"to": "registrar", "format": "eml", "token": TOKEN}
        )
        assert status == 200 and headers["Content-Type"].startswith("message/rfc822")
        assert b"To: abuse@registrar.test" in body
        assert post_form(f"{url}/cases/{cases.hostile}/notice", {"to": "nobody", "token": TOKEN})[0] == 400
        assert post_form(f"{url}/cases/999999/notice", {"to": "hosting", "token": TOKEN})[0] == 404
        status, _, body = post_form(f"{url}/cases/{cases.hostile}/export", {"token": TOKEN, "actor": "ana"})
        assert status == 200, body
        path = Path(body.decode().splitlines()[0].removeprefix("bundle: "))
        assert path.parent == exports and bundle.verify(path).ok
    conn = sqlite3.connect(cases.db)
    try:
        recorded = conn.execute(
            "SELECT chain_head, actor FROM case_exports WHERE case_id = ?", [cases.hostile]
        ).fetchall()
    finally:
        conn.close()
    assert recorded == [(bundle.verify(path).chain_head, "ana")]
