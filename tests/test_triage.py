"""The incident triage page: filters, escaping, headers and token-guarded actions over real HTTP, in a real
Chromium (Playwright), and served by the real daemon process against the demo internet."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import urllib.parse

import pytest

from monitor.demo.internet import BackgroundInternet
from tests.helpers.proc import COMMAND, clean_env, cli, free_port, get, wait_for, write_config
from tests.test_http_evidence import (
    HOSTILE,
    TOKEN,
    decode_png,
    events,
    post_action,
    request,
    seed,
    serving,
)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"


def rows(html: bytes) -> list[int]:
    return [int(i) for i in re.findall(rb'<tr data-id="(\d+)">', html)]


def form_post(base: str, incident_id: int, fields: dict[str, str], query: str = "", **headers: str):
    body = urllib.parse.urlencode(fields).encode()
    hdrs = {"Content-Type": "application/x-www-form-urlencoded", **headers}
    return request(f"{base}/triage/incidents/{incident_id}/action{query}", "POST", body, hdrs)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """60 low mirror incidents, one critical downloader with evidence, one policy incident with a diff."""
    seeded = seed(tmp_path_factory.mktemp("triage") / "data", extra_low=60)
    with serving(seeded.db, seeded.evidence, TOKEN) as url:
        yield url, seeded


@pytest.fixture
def fresh(tmp_path):
    """A site of its own, for tests that change incidents."""
    seeded = seed(tmp_path / "data")
    with serving(seeded.db, seeded.evidence, TOKEN) as url:
        yield url, seeded


# ---- pages over HTTP -------------------------------------------------------------------------------------


def test_hostile_titles_details_and_snippets_are_escaped(site):
    base, seeded = site
    for path in ("/triage?severity=critical", f"/triage/incidents/{seeded.critical_id}"):
        status, headers, body = request(base + path)
        html = body.decode()
        assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
        assert ESCAPED in html and HOSTILE not in html
        assert "<script" not in html.lower() and "<img src=x" not in html and '"><img src=x' not in html
    # Filter values are reflected into attributes (input value, option value): escaped there too.
    query = urllib.parse.urlencode({"q": HOSTILE, "kind": HOSTILE, "domain": HOSTILE})
    html = request(f"{base}/triage?{query}")[2].decode()
    assert f'name="q" value="{ESCAPED}"' in html and f'<option value="{ESCAPED}" selected>' in html
    assert "<script" not in html.lower() and '"><img src=x' not in html
    assert f'href="/triage?kind={urllib.parse.quote_plus(HOSTILE)}' not in html  # no pager: nothing matches
    html = request(f"{base}/triage/incidents/{seeded.critical_id}")[2].decode()
    assert f'<pre class="snippet">&lt;form&gt;{ESCAPED}&lt;/form&gt;</pre>' in html
    assert "<code>https://dl.example/get?u=x</code>" in html  # hostile URLs are text, never links
    assert 'href="https://dl.example' not in html


def test_pages_send_strict_security_headers(site):
    base, seeded = site
    for path in ("/triage", f"/triage/incidents/{seeded.critical_id}", "/triage/incidents/99999", "/triage?page=x"):
        status, headers, _ = request(base + path)
        assert headers["Content-Security-Policy"] == CSP, path
        assert headers["X-Frame-Options"] == "DENY" and headers["Referrer-Policy"] == "no-referrer"
        assert headers["X-Content-Type-Options"] == "nosniff" and headers["Cache-Control"] == "no-store"
    assert request(f"{base}/triage/incidents/99999")[0] == 404
    status, _, body = request(f"{base}/triage?page=x")
    assert status == 400 and b"page must be a positive number" in body


def test_list_filters_and_pagination(site):
    base, seeded = site
    status, _, body = request(f"{base}/triage")
    assert status == 200 and rows(body)[0] == seeded.critical_id  # most severe first
    assert len(rows(body)) == 50 and b"1-50 of 62 incident(s)" in body
    # The next link is a keyset cursor (as fast on page 500 as on page 1); ?page=N still works for old links.
    following = re.search(rb'rel="next" href="(/triage\?after=[A-Za-z0-9_-]+)"', body)
    assert following and b'rel="prev"' not in body and b'rel="first"' not in body
    page2 = request(f"{base}{following.group(1).decode()}")[2]
    assert len(rows(page2)) == 12 and not set(rows(page2)) & set(rows(body)) and b'rel="first"' in page2
    assert b'rel="next"' not in page2 and b"12 more of 62 incident(s)" in page2
    old_link = request(f"{base}/triage?page=2")[2]
    assert rows(old_link) == rows(page2) and b'rel="prev"' in old_link
    assert request(f"{base}/triage?after=bm90LWEtY3Vyc29y")[0] == 400  # not a cursor this list handed out
    assert rows(request(f"{base}/triage?severity=critical")[2]) == [seeded.critical_id]
    # Grafana panels link exactly like this (plus, maybe, a time range that the page ignores).
    mirror1 = request(f"{base}/triage?kind=exposure_mirror&domain=mirror1.example&from=now-6h&to=now")[2]
    assert len(rows(mirror1)) == 20 and b"1-20 of 20 incident(s)" in mirror1
    assert b'<option value="mirror1.example" selected>' in mirror1
    assert len(rows(request(f"{base}/triage?q=PAGE+007")[2])) == 1  # case-insensitive substring of the title
    assert rows(request(f"{base}/triage?q=%25")[2]) == []  # "%" is a character, not a wildcard
    assert rows(request(f"{base}/triage?kind=no_such_kind")[2]) == []
    # Paging keeps the filters.
    low = request(f"{base}/triage?severity=low&q=Mirror")[2]
    assert re.search(rb'href="/triage\?severity=low&amp;q=Mirror&amp;after=[A-Za-z0-9_-]+"', low)
    assert request(f"{base}/triage?severity=urgent")[0] == 400 and request(f"{base}/triage?status=gone")[0] == 400


def test_status_filter_defaults_to_open_and_acknowledged(fresh):
    base, seeded = fresh
    assert post_action(base, seeded.policy_id, {"action": "resolved"})[0] == 200
    assert seeded.policy_id not in rows(request(f"{base}/triage")[2])
    assert rows(request(f"{base}/triage?status=resolved")[2]) == [seeded.policy_id]
    assert seeded.policy_id in rows(request(f"{base}/triage?status=all")[2])
    assert post_action(base, seeded.critical_id, {"action": "acknowledged"})[0] == 200
    assert rows(request(f"{base}/triage")[2]) == [seeded.critical_id]


def test_detail_shows_timeline_diff_data_and_evidence(site):
    base, seeded = site
    html = request(f"{base}/triage/incidents/{seeded.policy_id}")[2].decode()
    assert '<pre id="diff">--- before\n+++ after\n-Disallow: /\n+Allow: /\n</pre>' in html
    assert "&quot;file&quot;: &quot;robots.txt&quot;" in html and "no evidence recorded" in html
    html = request(f"{base}/triage/incidents/{seeded.critical_id}")[2].decode()
    assert re.search(r"<td>opened</td><td>scrapewatch</td><td>— → open</td>", html)
    assert f'<img class="shot" src="/api/evidence/{seeded.shot_sha}"' in html
    assert f'request log: <a href="/api/evidence/{seeded.requests_sha}"' in html
    assert f'body: <a href="/api/evidence/{seeded.body_sha}"' in html
    assert html.index("SC-CDN-PROGRESSIVE") < html.index("SC-DL-PAGE")  # newest first


def test_form_actions_need_the_token_and_write_events(fresh):
    base, seeded = fresh
    incident = seeded.critical_id
    ack = {"action": "acknowledged", "note": "on it", "actor": "alice"}
    for fields, headers, status, message in (
        (ack, {}, 403, b"the API token is required"),
        ({**ack, "token": ""}, {}, 403, b"the API token is required"),
        ({**ack, "token": TOKEN[:-1]}, {}, 403, b"wrong API token"),
        ({**ack, "token": TOKEN}, {"Origin": "http://evil.example"}, 403, b"cross-origin"),
        ({**ack, "token": TOKEN}, {"Referer": "http://evil.example/x"}, 403, b"cross-origin"),
        ({**ack, "action": "ack", "token": TOKEN}, {}, 400, b"action must be one of"),
    ):
        code, headers_out, body = form_post(base, incident, fields, **headers)
        assert code == status and message in body, (fields, headers, body)
        assert headers_out["Content-Security-Policy"] == CSP and b'id="error"' in body
    code, _, body = form_post(base, incident, ack, query=f"?token={TOKEN}")
    assert code == 400 and b"never in the URL" in body
    assert events(seeded.db, incident) == [("opened", "scrapewatch", None, "open", None)]
    # Chromium sends Origin: null from a no-referrer page; the token decides.
    code, headers_out, body = form_post(base, incident, {**ack, "token": TOKEN}, Origin="null")
    assert code == 303 and headers_out["Location"] == f"/triage/incidents/{incident}" and body == b""
    assert events(seeded.db, incident)[-1] == ("acknowledged", "alice", "open", "acknowledged", "on it")
    code, _, body = form_post(base, incident, {"action": "resolved", "token": TOKEN}, Origin=base)
    assert code == 303 and events(seeded.db, incident)[-1] == ("resolved", "triage", "acknowledged", "resolved", None)
    code, _, body = form_post(base, incident, {"action": "resolved", "token": TOKEN})
    assert code == 409 and b"the incident is resolved; it cannot become resolved" in body
    assert f'href="/triage/incidents/{incident}"'.encode() in body  # the way back
    assert len(events(seeded.db, incident)) == 3
    html = request(f"{base}/triage/incidents/{incident}")[2].decode()
    assert 'value="reopened"' in html and 'value="false_positive"' in html and 'value="acknowledged"' not in html
    assert request(f"{base}/triage", "POST", b"")[0] == 405
    assert request(f"{base}/triage/incidents/99999/action", "POST", b"token=" + TOKEN.encode() + b"&action=resolved",
                   {"Content-Type": "application/x-www-form-urlencoded"})[0] == 404  # fmt: skip


def test_read_only_without_a_token_renders_no_forms_and_refuses_posts(tmp_path):
    seeded = seed(tmp_path / "data")
    with serving(seeded.db, seeded.evidence, None) as base:
        html = request(f"{base}/triage/incidents/{seeded.critical_id}")[2].decode()
        assert "<form" not in html and "read-only: http.api_token is not set" in html
        assert 'name="token"' not in html
        code, _, body = form_post(base, seeded.critical_id, {"action": "acknowledged", "token": TOKEN})
        assert code == 403 and b"read-only: no API token is configured (http.api_token)" in body
    assert len(events(seeded.db, seeded.critical_id)) == 1


def test_api_token_is_a_masked_secret_from_the_environment(tmp_path):
    out = cli("config", "check", "--json", cwd=tmp_path, env=clean_env(SCRAPEWATCH_HTTP__API_TOKEN=TOKEN))
    assert out.returncode == 0, out.stderr
    assert TOKEN not in out.stdout and json.loads(out.stdout)["http"]["api_token"] == "**********"
    assert json.loads(cli("config", "check", "--json", cwd=tmp_path).stdout)["http"]["api_token"] is None
    out = cli("config", "check", cwd=tmp_path, env=clean_env(SCRAPEWATCH_HTTP__API_TOKEN="short-secret"))
    assert out.returncode == 2 and "http.api_token" in out.stderr and "short-secret" not in out.stderr


# ---- the real daemon -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    """`scrapewatch run` with http.api_token from the environment, on a database that already holds exposure
    incidents with evidence, probing the demo internet's SoundCloud hosts (so real policy incidents appear)."""
    tmp = tmp_path_factory.mktemp("daemon")
    seeded = seed(tmp / "data", extra_low=3)
    port = free_port()
    domains = ["soundcloud.com", "m.soundcloud.com"]
    cfg = write_config(
        tmp / "scrapewatch.yaml",
        {
            "storage": {"data_dir": str(tmp / "data")},
            "http": {"listen": f"127.0.0.1:{port}", "timeout_seconds": 10, "retries": 0},
            "protected_domains": [{"domain": d, "interval_seconds": 5, "jitter_seconds": 0} for d in domains],
            "scheduler": {"shutdown_grace_seconds": 5},
        },
    )
    with BackgroundInternet() as net:
        env = clean_env(HTTPS_PROXY=net.url, SCRAPEWATCH_HTTP__API_TOKEN=TOKEN)
        proc = subprocess.Popen([*COMMAND, "run", "--config", str(cfg)], cwd=tmp, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:

            def healthy() -> bool:
                assert proc.poll() is None, f"the daemon exited: {proc.stderr.read()}"
                return get(f"{base}/healthz")[0] == 200

            wait_for(healthy, what="/healthz")
            wait_for(lambda: json.loads(get(f"{base}/api/incidents?kind=policy_file_unreachable")[1])["total"],
                     what="the first policy run's incidents")  # fmt: skip
            yield base, seeded, net
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise
            stderr = proc.stderr.read()
            assert code == 0, stderr
            assert TOKEN not in stderr


def test_daemon_serves_triage_evidence_and_actions(daemon):
    base, seeded, net = daemon
    # Real policy incidents from the daemon's own probes, reached the way a Grafana panel links.
    html = request(f"{base}/triage?kind=policy_file_unreachable&domain=m.soundcloud.com")[2].decode()
    (unreachable,) = rows(html.encode())
    assert "ai.txt" in html and 'class="sev sev-low"' in html
    # The evidence root is wired from storage.data_dir.
    status, headers, _ = request(f"{base}/api/evidence/{seeded.body_sha}")
    assert status == 200 and headers["Content-Type"] == "text/plain; charset=utf-8"
    assert headers["Content-Disposition"].startswith("attachment;")
    assert request(f"{base}/api/evidence/{seeded.shot_sha}")[1]["Content-Type"] == "image/png"
    # The JSON twin, with the token from SCRAPEWATCH_HTTP__API_TOKEN.
    assert post_action(base, unreachable, {"action": "acknowledged"}, token=None)[0] == 401
    assert post_action(base, unreachable, {"action": "acknowledged"}, token="x" * 20)[0] == 403
    status, _, body = post_action(base, unreachable, {"action": "acknowledged", "note": "proxy flaps", "actor": "ops"})
    assert status == 200 and json.loads(body)["status"] == "acknowledged", body
    assert post_action(base, unreachable, {"action": "acknowledged"})[0] == 409
    page = request(f"{base}/triage/incidents/{unreachable}")[2].decode()
    assert "<td>acknowledged</td><td>ops</td><td>open → acknowledged</td>" in page and "proxy flaps" in page
    # A change to robots.txt is picked up by the next run; its incident shows the diff.
    net.internet.set_phase(1)
    try:
        changed = wait_for(
            lambda: [
                i
                for i in json.loads(get(f"{base}/api/incidents?kind=policy_file_changed")[1])["incidents"]
                if i["id"] != seeded.policy_id and i["data"]["file"] == "robots.txt"  # not the seeded one
            ],
            timeout=40,
            what="a policy_file_changed incident from the daemon",
        )
    finally:
        net.internet.set_phase(0)
    page = request(base + changed[0]["triage_url"])[2].decode()
    diff = re.search(r'<pre id="diff">(.*?)</pre>', page, re.S)
    assert diff, page
    lines = diff.group(1).splitlines()
    assert lines[0].startswith("--- ") and "-Disallow: /" in lines and "+Allow: /" in lines, lines  # GPTBot's group


# ---- in a real Chromium ----------------------------------------------------------------------------------


def launch(pw):
    return pw.chromium.launch(
        executable_path=CHROMIUM,
        args=["--no-proxy-server", "--disable-background-networking", "--disable-component-update"],
    )


def assert_rendered(png: bytes, width: int, height: int) -> None:
    """A real screenshot: the viewport's size, many colours, the dark header bar and a critical badge."""
    w, h, pixels = decode_png(png)
    assert (w, h) == (width, height) and len(png) > 10_000
    colours = {p for row in pixels for p in row}
    assert len(colours) > 50, len(colours)
    assert pixels[5][5] == (0x22, 0x22, 0x22)  # the header's background: the inline CSS applied
    assert (0x8B, 0x00, 0x00) in colours  # a critical severity badge


@pytest.mark.browser
def test_triage_in_chromium_with_the_token(daemon, tmp_path):
    from playwright.sync_api import sync_playwright

    base, seeded, _ = daemon
    incident = seeded.critical_id
    dialogs: list[str] = []
    posts: list[str] = []
    csp_violations: list[str] = []
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 700})
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
            page.on("console", lambda m: csp_violations.append(m.text) if "Content Security Policy" in m.text else None)
            # The listener sees dialogs: the same payload, unescaped on a page without our CSP, raises two.
            page.set_content(f"<p>{HOSTILE}</p>")
            wait_for(lambda: len(dialogs) == 2, timeout=5, what="the control page's dialogs")
            dialogs.clear()
            page.goto(f"{base}/triage")
            assert page.title() == "Incidents · scrapewatch"
            assert page.locator("#incidents tbody tr").count() >= 6
            assert "policy_file_unreachable" in page.locator("#incidents").inner_text()  # the daemon's own
            page.select_option("select[name=severity]", "critical")
            page.click("button:text('Filter')")
            assert "severity=critical" in page.url
            badges = page.locator("#incidents tbody .sev").all_inner_texts()
            assert badges and set(badges) == {"critical"}
            shot = page.screenshot()
            assert_rendered(shot, 1100, 700)
            page.click(f'#incidents a[href="/triage/incidents/{incident}"] >> nth=1')
            assert page.url == f"{base}/triage/incidents/{incident}"
            assert page.locator("h1").inner_text() == f"#{incident} Downloader serves SoundCloud audio {HOSTILE}"
            assert page.locator("#events tbody tr").first.inner_text().split("\t")[1:3] == ["opened", "scrapewatch"]
            assert page.locator("#evidence tbody tr").count() == 2
            assert page.locator(".snippet").nth(1).inner_text() == f"<form>{HOSTILE}</form>"
            image = page.locator("img.shot")
            assert image.evaluate("i => i.complete && i.naturalWidth") == 64
            assert image.evaluate("i => i.naturalHeight") == 48
            assert page.evaluate("document.querySelectorAll('img[src=x], script').length") == 0
            assert "request log" in page.locator("#evidence").inner_text()

            # An empty token never leaves the page (the field is required) ...
            page.fill("textarea[name=note]", "on it")
            page.click("button[value=acknowledged]")
            assert page.url == f"{base}/triage/incidents/{incident}" and posts == []
            # ... and a wrong one is refused by the server, writing nothing.
            page.fill("input[name=token]", "not-the-token-0123456789")
            with page.expect_navigation():
                page.click("button[value=acknowledged]")
            assert page.locator("h1").inner_text() == "403"
            assert "wrong API token" in page.locator("#error").inner_text()
            assert events(seeded.db, incident) == [("opened", "scrapewatch", None, "open", None)]

            page.goto(f"{base}/triage/incidents/{incident}")
            page.fill("textarea[name=note]", "looking at the downloader — ticket T&S-42")
            page.fill("input[name=actor]", "alice")
            page.fill("input[name=token]", TOKEN)
            with page.expect_navigation():
                page.click("button[value=acknowledged]")
            assert page.url == f"{base}/triage/incidents/{incident}"
            assert page.locator("#status").inner_text() == "acknowledged"
            last = page.locator("#events tbody tr").last.inner_text().split("\t")
            assert last[1:4] == ["acknowledged", "alice", "open → acknowledged"]
            assert last[5] == "looking at the downloader — ticket T&S-42"
            assert page.locator("button[value=acknowledged]").count() == 0
            assert page.locator("button[value=resolved]").count() == 1
            detail_shot = page.screenshot(path=str(tmp_path / "detail.png"), full_page=True)
            assert decode_png(detail_shot)[0] == 1100 and len({p for r in decode_png(detail_shot)[2] for p in r}) > 50
        finally:
            browser.close()
    assert dialogs == [] and csp_violations == []
    assert events(seeded.db, incident)[-1] == (
        "acknowledged", "alice", "open", "acknowledged", "looking at the downloader — ticket T&S-42"
    )  # fmt: skip
    assert len(posts) == 2


@pytest.mark.browser
def test_triage_in_chromium_read_only(tmp_path):
    from playwright.sync_api import sync_playwright

    seeded = seed(tmp_path / "data")
    with serving(seeded.db, seeded.evidence, None) as base, sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page()
            page.goto(f"{base}/triage/incidents/{seeded.critical_id}")
            assert "read-only: http.api_token is not set" in page.locator("header").inner_text()
            assert page.locator("form.act").count() == 0 and page.locator("input[type=password]").count() == 0
            assert page.locator("#evidence img.shot").evaluate("i => i.naturalWidth") == 64
            response = page.request.post(
                f"{base}/triage/incidents/{seeded.critical_id}/action",
                form={"action": "acknowledged", "token": TOKEN},
            )
            assert response.status == 403 and "read-only" in response.text()
        finally:
            browser.close()
    assert events(seeded.db, seeded.critical_id) == [("opened", "scrapewatch", None, "open", None)]
