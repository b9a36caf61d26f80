"""The evidence API and the incident actions API over real HTTP on 127.0.0.1, against a real SQLite file.

The site is built in-process and served on an ephemeral port while the reactor's loop runs in a thread; the
database is filled through Store, the evidence files through EvidenceFiles. The helpers here (serving, seed,
PNG encode/decode) are shared with tests/test_triage.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import sqlite3
import struct
import threading
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from monitor.db import open_db
from monitor.incidents import Evaluation, Evidence, Finding
from monitor.store.core import ProbeRun, Store
from monitor.store.files import EvidenceFiles
from monitor.web.server import build_site

TOKEN = "triage-test-token-0123456789abcdef"
HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
HOSTILE_BODY = b"<html><body><script>alert(document.domain)</script><a href='https://cf-media.sndcdn.com/a.mp3'>"


# ---- PNG without Pillow ----------------------------------------------------------------------------------


def png(width: int, height: int) -> bytes:
    """A real RGB PNG with a gradient (so that it is not blank)."""
    raw = b"".join(
        b"\x00" + bytes(c for x in range(width) for c in (x * 255 // width, y * 255 // height, 128))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def decode_png(data: bytes) -> tuple[int, int, list[list[tuple[int, ...]]]]:
    """(width, height, rows of pixels) of an 8-bit, non-interlaced RGB/RGBA/grey PNG (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        assert zlib.crc32(kind + body) == struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])[0]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and interlace == 0 and colour in (0, 2, 4, 6), (depth, colour, interlace)
    bpp = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[list[tuple[int, ...]]] = []
    previous = bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = previous[i]
            c = previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append([tuple(line[x * bpp : x * bpp + min(bpp, 3)]) for x in range(width)])
        previous = line
    return width, height, rows


def test_png_helpers_round_trip():
    width, height, rows = decode_png(png(40, 30))
    assert (width, height) == (40, 30)
    assert rows[0][0] == (0, 0, 128) and rows[29][39] == (39 * 255 // 40, 29 * 255 // 30, 128)
    with pytest.raises(AssertionError):
        decode_png(b"GIF89a")


# ---- serving the real site in-process --------------------------------------------------------------------


_reactor_users = 0
_reactor_lock = threading.Lock()
_reactor_thread: threading.Thread | None = None


@contextlib.contextmanager
def _reactor_running() -> Iterator[asyncio.AbstractEventLoop]:
    """The reactor's asyncio loop running in a thread for as long as any user needs it (users may nest)."""
    global _reactor_users, _reactor_thread
    from monitor.runtime import reactor

    loop = reactor.loop()  # installs the asyncio reactor, which must come before importing twisted's
    with _reactor_lock:
        if _reactor_users == 0:
            _reactor_thread = threading.Thread(target=loop.run_forever, name="reactor", daemon=True)
            _reactor_thread.start()
        _reactor_users += 1
    try:
        yield loop
    finally:
        with _reactor_lock:
            _reactor_users -= 1
            if _reactor_users == 0 and _reactor_thread is not None:
                loop.call_soon_threadsafe(loop.stop)
                _reactor_thread.join(10)
                _reactor_thread = None


@contextlib.contextmanager
def serving(db_path: Path, evidence_root: Path | None, token: str | None, limits=None, **site) -> Iterator[str]:
    """Serve build_site() on 127.0.0.1:<ephemeral> while the reactor's asyncio loop runs in a thread."""
    with _reactor_running() as loop:
        from twisted.internet import reactor as twisted_reactor

        stores = lambda: Store(open_db(db_path, migrate=False))  # noqa: E731
        site = build_site(stores, lambda: (True, {}), evidence_root, token, limits, **site)

        async def listen():
            return twisted_reactor.listenTCP(0, site, interface="127.0.0.1")

        port = asyncio.run_coroutine_threadsafe(listen(), loop).result(10)
        try:
            yield f"http://127.0.0.1:{port.getHost().port}"
        finally:

            async def stop():
                stopped = port.stopListening()
                if stopped is not None:
                    await stopped.asFuture(loop)

            asyncio.run_coroutine_threadsafe(stop(), loop).result(10)


@dataclass
class Seeded:
    db: Path
    evidence: Path
    critical_id: int  # an exposure incident with two evidence rows, a screenshot and a hostile title
    policy_id: int  # a policy_file_changed incident with a diff, no evidence
    body_sha: str
    binary_sha: str
    shot_sha: str
    requests_sha: str


RUN = ProbeRun("exposure_watch:dl", "exposure_watch", "dl", "2026-11-26T10:00:00+00:00",
               "2026-11-26T10:00:05+00:00", "success", None, 5.0)  # fmt: skip


def seed(data_dir: Path, extra_low: int = 0) -> Seeded:
    """A database and evidence directory as the exposure probes would leave them (plus ``extra_low`` incidents)."""
    db_path = data_dir / "scrapewatch.db"
    files = EvidenceFiles(data_dir / "evidence")
    # Storm control off: these are many incidents to page through, not a storm to summarise.
    store = Store(open_db(db_path), EvidenceFiles(data_dir / "evidence"), storm_threshold=0)
    try:
        body = files.put(HOSTILE_BODY, "body", "text/html; charset=utf-8")
        binary = files.put(b"ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x00" * 8, "body", "audio/mpeg")
        shot = files.put(png(64, 48), "screenshot", "image/png")
        log = json.dumps([{"url": "https://cf-media.sndcdn.com/a.mp3", "frame": "main", "status": 200}])
        requests = files.put(log.encode(), "requests", "application/json")
        orphan = files.put(b"written, then the run crashed before its commit", "body", "text/plain")
        assert orphan  # on disk, never recorded: must not be served
        critical = Finding(
            "exposure:dl.example:downloader:-",
            "exposure_downloader",
            "critical",
            "dl.example",
            f"Downloader serves SoundCloud audio {HOSTILE}",
            f"detail {HOSTILE}",
            {"target": "dl"},
        )
        policy = Finding(
            "policy:robots:soundcloud.com",
            "policy_file_changed",
            "medium",
            "soundcloud.com",
            "robots.txt changed on soundcloud.com",
            "robots.txt now has a different body.",
            {"file": "robots.txt", "diff": "--- before\n+++ after\n-Disallow: /\n+Allow: /\n"},
        )
        lows = [
            Finding(
                f"exposure:mirror{i}:-:-",
                "exposure_mirror",
                "low",
                f"mirror{i % 3}.example",
                f"Mirror page {i:03d} links a track",
            )
            for i in range(extra_low)
        ]
        evidence = [
            Evidence(critical.dedupe_key, "https://dl.example/get?u=x", "https://dl.example/", "SC-DL-PAGE",
                     "critical", f"the page offers MP3 downloads {HOSTILE}", f"<form>{HOSTILE}</form>",
                     {"content-type": ["text/html"]}, files.get(body.sha256), "text/html; charset=utf-8",
                     files.get(shot.sha256), files.get(requests.sha256), {"matched": HOSTILE}, "application/json"),
            Evidence(critical.dedupe_key, "https://cf-media.sndcdn.com/a.128.mp3", "https://dl.example/",
                     "SC-CDN-PROGRESSIVE", "high", "progressive MP3 link", "cf-media.sndcdn.com/a.128.mp3",
                     body=files.get(binary.sha256), body_type="audio/mpeg"),
        ]  # fmt: skip
        applied = store.apply(RUN, Evaluation("exposure:dl", [critical, policy, *lows]), evidence=evidence)
        return Seeded(db_path, data_dir / "evidence", applied.incident_ids[critical.dedupe_key],
                      applied.incident_ids[policy.dedupe_key], body.sha256, binary.sha256, shot.sha256,
                      requests.sha256)  # fmt: skip
    finally:
        store.db.close()


def request(url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None):
    """(status, headers, body) without following redirects or using a proxy; HTTP errors are returned."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirect())
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with opener.open(req, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def events(db: Path, incident_id: int) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(
            "SELECT action, actor, from_status, to_status, note FROM incident_events WHERE incident_id = ? ORDER BY id",
            [incident_id],
        ).fetchall()
    finally:
        conn.close()


@pytest.fixture
def seeded(tmp_path) -> Seeded:
    return seed(tmp_path / "data")


@pytest.fixture
def base(seeded) -> Iterator[str]:
    with serving(seeded.db, seeded.evidence, TOKEN) as url:
        yield url


# ---- the evidence API ------------------------------------------------------------------------------------


def test_incident_json_lists_evidence_newest_first_with_links(base, seeded):
    status, _, body = request(f"{base}/api/incidents/{seeded.critical_id}")
    incident = json.loads(body)
    assert status == 200 and incident["triage_url"] == f"/triage/incidents/{seeded.critical_id}"
    assert [e["signature"] for e in incident["evidence"]] == ["SC-CDN-PROGRESSIVE", "SC-DL-PAGE"]
    page = incident["evidence"][1]
    assert page["url"] == "https://dl.example/get?u=x" and page["page_url"] == "https://dl.example/"
    assert page["severity"] == "critical" and page["snippet"] == f"<form>{HOSTILE}</form>"
    assert page["headers"] == {"content-type": ["text/html"]} and page["data"] == {"matched": HOSTILE}
    assert page["links"] == {
        "body": f"/api/evidence/{seeded.body_sha}",
        "screenshot": f"/api/evidence/{seeded.shot_sha}",
        "requests": f"/api/evidence/{seeded.requests_sha}",
    }
    assert incident["evidence"][0]["links"] == {"body": f"/api/evidence/{seeded.binary_sha}"}
    assert incident["events"][0]["action"] == "opened"
    listed = json.loads(request(f"{base}/api/incidents?kind=exposure_downloader")[2])["incidents"]
    assert [i["triage_url"] for i in listed] == [f"/triage/incidents/{seeded.critical_id}"]
    policy = json.loads(request(f"{base}/api/incidents/{seeded.policy_id}")[2])
    assert policy["evidence"] == []


def test_third_party_bodies_are_text_attachments_never_html(base, seeded):
    status, headers, body = request(f"{base}/api/evidence/{seeded.body_sha}")
    assert status == 200 and body == HOSTILE_BODY
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert headers["Content-Disposition"] == f'attachment; filename="{seeded.body_sha}.txt"'
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert headers["X-Evidence-Content-Type"] == "text/html; charset=utf-8"  # what the site said, as a fact
    status, headers, body = request(f"{base}/api/evidence/{seeded.binary_sha}")
    assert status == 200 and body.startswith(b"ID3")
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["Content-Disposition"].startswith("attachment;") and headers["X-Content-Type-Options"] == "nosniff"


def test_screenshots_are_png_and_request_logs_json(base, seeded):
    status, headers, body = request(f"{base}/api/evidence/{seeded.shot_sha}")
    assert status == 200 and headers["Content-Type"] == "image/png" and headers["X-Content-Type-Options"] == "nosniff"
    assert decode_png(body)[:2] == (64, 48) and hashlib.sha256(body).hexdigest() == seeded.shot_sha
    assert headers["Content-Disposition"].startswith("inline;")
    status, headers, body = request(f"{base}/api/evidence/{seeded.requests_sha}")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert json.loads(body)[0]["url"] == "https://cf-media.sndcdn.com/a.mp3"
    status, headers, _ = request(f"{base}/api/evidence/{seeded.shot_sha.upper()}", method="HEAD")
    assert status == 200 and headers["Content-Type"] == "image/png"


def test_a_screenshot_record_whose_file_is_not_a_png_is_not_served_as_an_image(base, seeded):
    fake = EvidenceFiles(seeded.evidence).put(b"<svg onload=alert(1)>", "screenshot", "image/png")
    conn = sqlite3.connect(seeded.db)
    with conn:
        conn.execute("INSERT INTO evidence_files VALUES (?, ?, 'screenshot', 'image/png', 't')", [fake.sha256, 20])
    conn.close()
    status, headers, _ = request(f"{base}/api/evidence/{fake.sha256}")
    assert status == 200 and headers["Content-Type"] == "text/plain; charset=utf-8"
    assert headers["Content-Disposition"].startswith("attachment;")


@pytest.mark.parametrize(
    "path",
    [
        "0" * 64,  # well-formed, unknown
        "../../etc/passwd",
        "..%2F..%2Fscrapewatch.db",
        "zz" * 32,
        "abc",
        "0" * 65,
        "%00" + "0" * 61,
        "",
    ],
)
def test_unknown_or_invalid_hashes_are_404_never_500(base, path):
    status, headers, body = request(f"{base}/api/evidence/{path}")
    assert status == 404, body
    assert headers["Content-Type"] == "application/json" and "error" in json.loads(body)


def test_files_that_are_on_disk_but_not_recorded_or_recorded_but_gone_are_404(base, seeded):
    orphan = hashlib.sha256(b"written, then the run crashed before its commit").hexdigest()
    assert (seeded.evidence / orphan[:2] / orphan).exists()
    assert request(f"{base}/api/evidence/{orphan}")[0] == 404
    (seeded.evidence / seeded.requests_sha[:2] / seeded.requests_sha).unlink()
    assert request(f"{base}/api/evidence/{seeded.requests_sha}")[0] == 404


def test_without_an_evidence_root_the_api_still_serves_incidents(seeded):
    with serving(seeded.db, None, None) as url:
        assert request(f"{url}/api/evidence/{seeded.body_sha}")[0] == 404
        assert request(f"{url}/api/incidents/{seeded.critical_id}")[0] == 200


# ---- POST /api/incidents/{id}/actions --------------------------------------------------------------------


def post_action(base: str, incident_id: int, payload, token: str | None = TOKEN, **headers: str):
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    hdrs = {"Content-Type": "application/json", **headers}
    if token is not None:
        hdrs["Authorization"] = f"Bearer {token}"
    return request(f"{base}/api/incidents/{incident_id}/actions", "POST", data, hdrs)


def test_actions_api_needs_the_right_bearer_token(base, seeded):
    before = events(seeded.db, seeded.critical_id)
    status, headers, body = post_action(base, seeded.critical_id, {"action": "acknowledged"}, token=None)
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer") and "Bearer" in json.loads(body)["error"]
    status, _, body = post_action(base, seeded.critical_id, {"action": "acknowledged"}, token=TOKEN + "x")
    assert status == 403 and "wrong API token" in json.loads(body)["error"]
    basic = {"Authorization": "Basic dXNlcjpwYXNz"}
    assert post_action(base, seeded.critical_id, {"action": "acknowledged"}, token=None, **basic)[0] == 401
    assert events(seeded.db, seeded.critical_id) == before  # nothing written
    status, _, body = post_action(base, seeded.critical_id, {"action": "acknowledged", "note": "on it", "actor": "bo"})
    incident = json.loads(body)
    assert status == 200 and incident["status"] == "acknowledged"
    assert incident["events"][-1]["actor"] == "bo" and incident["events"][-1]["note"] == "on it"
    assert incident["evidence"] and incident["triage_url"] == f"/triage/incidents/{seeded.critical_id}"
    assert events(seeded.db, seeded.critical_id)[-1] == ("acknowledged", "bo", "open", "acknowledged", "on it")


def test_actions_api_refuses_invalid_transitions_and_bad_bodies(base, seeded):
    status, _, body = post_action(base, seeded.policy_id, {"action": "reopened"})
    assert status == 409 and "it cannot become open" in json.loads(body)["error"]
    for payload in (b"{not json", b"[1, 2]", b"\xff\xfe", {"action": "acknowledge"}, {"action": 1},
                    {"action": "resolved", "note": ["x"]}, {"action": "resolved", "colour": "red"},
                    {"action": "resolved", "actor": "x" * 101}, {"note": "no action"}):  # fmt: skip
        status, _, body = post_action(base, seeded.policy_id, payload)
        assert status == 400, (payload, body)
        assert json.loads(body)["error"]
    assert status == 400 and "action must be one of acknowledged, resolved, false_positive, reopened" in body.decode()
    assert post_action(base, seeded.policy_id, b"x" * 70_000)[0] == 413
    assert post_action(base, 99999, {"action": "resolved"})[0] == 404
    assert [e[0] for e in events(seeded.db, seeded.policy_id)] == ["opened"]
    status, _, body = post_action(base, seeded.policy_id, {"action": "resolved"})
    assert status == 200 and json.loads(body)["events"][-1]["actor"] == "api"
    status, _, body = post_action(base, seeded.policy_id, {"action": "resolved"})
    assert status == 409 and "the incident is resolved" in json.loads(body)["error"]
    assert [e[0] for e in events(seeded.db, seeded.policy_id)] == ["opened", "resolved"]


def test_actions_api_refuses_cross_origin_callers_even_with_the_token(base, seeded):
    status, _, body = post_action(base, seeded.critical_id, {"action": "resolved"}, Origin="https://evil.example")
    assert status == 403 and "cross-origin" in json.loads(body)["error"]
    assert [e[0] for e in events(seeded.db, seeded.critical_id)] == ["opened"]
    status, _, _ = post_action(base, seeded.critical_id, {"action": "resolved"}, Origin=base)
    assert status == 200


def test_read_only_without_a_configured_token(seeded):
    with serving(seeded.db, seeded.evidence, None) as url:
        for token in (None, TOKEN, ""):
            status, _, body = post_action(url, seeded.critical_id, {"action": "acknowledged"}, token=token)
            assert status == 403 and "read-only" in json.loads(body)["error"]
        assert request(f"{url}/api/incidents/{seeded.critical_id}")[0] == 200
    assert [e[0] for e in events(seeded.db, seeded.critical_id)] == ["opened"]
