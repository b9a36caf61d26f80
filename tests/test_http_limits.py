"""The daemon's HTTP server under abuse, over raw sockets on 127.0.0.1: slow requests (slowloris), idle keep-alive
connections, oversized bodies (announced and chunked), unsupported methods, and tokens in URLs."""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from monitor.web.limits import HttpLimits
from tests.test_http_evidence import TOKEN, events, request, seed, serving

CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
LIMITS = HttpLimits(request_timeout_seconds=1.0, idle_timeout_seconds=1.5, max_request_bytes=65_536)


@pytest.fixture
def served(tmp_path) -> Iterator[tuple[str, int, object]]:
    seeded = seed(tmp_path / "data")
    with serving(seeded.db, seeded.evidence, TOKEN, LIMITS) as base:
        yield base, urlsplit(base).port, seeded


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def read_until_closed(sock: socket.socket, timeout: float = 10) -> bytes:
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def parse(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def assert_styled(headers: dict[str, str]) -> None:
    assert headers["Content-Security-Policy"] == CSP
    assert headers["X-Frame-Options"] == "DENY" and headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["Cache-Control"] == "no-store"


# ---- slow and idle connections -----------------------------------------------------------------------------


def test_slowloris_connections_are_closed_and_do_not_stop_other_requests(served):
    base, port, _ = served
    slow = [connect(port) for _ in range(60)]
    opened = time.monotonic()
    for sock in slow:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    answers: dict[socket.socket, bytes] = {}
    # Trickle one header byte per connection every 0.2 s: each byte resets Twisted's own idle timeout.
    while len(answers) < len(slow) and time.monotonic() - opened < 8:
        for sock in slow:
            if sock not in answers:
                try:
                    sock.sendall(b"X")
                except OSError:
                    answers[sock] = b""
        assert request(f"{base}/healthz")[0] == 200  # a normal request is served meanwhile
        readable, _, _ = select.select([s for s in slow if s not in answers], [], [], 0.2)
        for sock in readable:
            answers[sock] = read_until_closed(sock, 2)
    elapsed = time.monotonic() - opened
    assert len(answers) == len(slow), f"{len(slow) - len(answers)} slow connection(s) still open after {elapsed:.1f}s"
    status, headers, body = parse(next(a for a in answers.values() if a))
    assert status == 408 and b"did not arrive within 1 s" in body
    assert_styled(headers)
    for sock in slow:
        sock.close()


def test_a_slow_body_is_cut_off_too(served):
    _, port, _ = served
    with connect(port) as sock:
        sock.sendall(f"POST /api/incidents/1/actions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                     "Content-Length: 100\r\n\r\n{".encode())  # fmt: skip
        started = time.monotonic()
        raw = read_until_closed(sock)
    assert parse(raw)[0] == 408 and time.monotonic() - started < 5
    assert parse(raw)[1]["Content-Type"] == "application/json"


def test_idle_keep_alive_connections_are_closed(served):
    _, port, _ = served
    with connect(port) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(5)
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        assert read_until_closed(sock) == b""  # closed by the server, nothing more sent
    assert 1.0 < time.monotonic() - started < 6


def test_keep_alive_serves_several_requests_before_the_idle_timeout(served):
    _, port, _ = served
    with connect(port) as sock:
        sock.settimeout(5)
        for _ in range(3):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
            time.sleep(0.6)  # each pause is below the idle timeout and between requests (no deadline runs)


# ---- large bodies ------------------------------------------------------------------------------------------


def push_body(sock: socket.socket, total: int) -> tuple[int, bytes]:
    """Send up to ``total`` body bytes while reading the answer; (bytes the server accepted, the answer)."""
    sock.setblocking(False)
    sent, answer, chunk = 0, b"", b"x" * 65536
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        readable, writable, _ = select.select([sock], [sock] if sent < total else [], [], 1)
        if readable:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            answer += data
        if writable:
            try:
                sent += sock.send(chunk[: total - sent])
            except (BrokenPipeError, ConnectionResetError):
                break
    return sent, answer


def test_an_announced_200_mb_post_is_refused_with_413_before_it_is_read(served):
    _, port, seeded = served
    before = events(seeded.db, seeded.critical_id)
    with connect(port) as sock:
        head = (f"POST /api/incidents/{seeded.critical_id}/actions HTTP/1.1\r\nHost: x\r\n"
                f"Content-Length: 200000000\r\nContent-Type: application/json\r\n\r\n")  # fmt: skip
        sock.sendall(head.encode())
        sock.settimeout(5)
        first = sock.recv(65536)  # the answer comes before a single body byte is sent
        status, headers, body = parse(first)
        assert status == 413 and headers["Connection"] == "close"
        assert json.loads(body) == {"error": "the request body is limited to 65536 bytes"}
        assert_styled(headers)
        sent, _ = push_body(sock, 200_000_000)
    # The server stopped reading: what it took is what the kernel's socket buffers hold, not 200 MB.
    assert sent < 32 * 1024 * 1024, sent
    assert events(seeded.db, seeded.critical_id) == before


@pytest.mark.parametrize(
    ("auth", "status"), [("", 401), ("Authorization: Bearer wrong-token-0123456789\r\n", 403), ("", 400)]
)
@pytest.mark.parametrize("framing", ["Content-Length: 10000000", "Transfer-Encoding: chunked"])
def test_an_api_post_without_the_token_is_refused_before_its_body_is_read(tmp_path, auth, status, framing):
    # A body cap far above the body: only the token check can refuse it before it is read.
    seeded = seed(tmp_path / "data")
    limits = HttpLimits(request_timeout_seconds=10, max_request_bytes=16 * 1024 * 1024)
    query = "?token=x" if status == 400 else ""
    before = events(seeded.db, seeded.critical_id)
    with serving(seeded.db, seeded.evidence, TOKEN, limits) as base, connect(urlsplit(base).port) as sock:
        head = (f"POST /api/incidents/{seeded.critical_id}/actions{query} HTTP/1.1\r\nHost: x\r\n{auth}"
                f"Content-Type: application/json\r\n{framing}\r\n\r\n")  # fmt: skip
        sock.sendall(head.encode())
        sock.settimeout(5)
        answer, headers, body = parse(sock.recv(65536))  # the answer comes before a single body byte is sent
        assert answer == status and headers["Connection"] == "close", (answer, body)
        assert_styled(headers)
        if status == 401:
            assert headers["WWW-Authenticate"] == 'Bearer realm="scrapewatch"'
        sent, _ = push_body(sock, 10_000_000)
    assert sent < 8 * 1024 * 1024, sent  # the kernel's socket buffers, not the 10 MB
    assert events(seeded.db, seeded.critical_id) == before


def test_expect_100_continue_gets_413_instead_of_continue(served):
    _, port, _ = served
    with connect(port) as sock:
        sock.sendall(b"POST /triage/incidents/1/action HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                     b"Content-Length: 70000\r\n\r\n")  # fmt: skip
        status, headers, body = parse(read_until_closed(sock))
    assert status == 413 and headers["Content-Type"].startswith("text/html") and b"limited to 65536" in body
    assert_styled(headers)


def test_an_oversized_chunked_body_is_refused_as_it_arrives(served):
    _, port, seeded = served
    with connect(port) as sock:
        sock.sendall(f"POST /api/incidents/{seeded.critical_id}/actions HTTP/1.1\r\nHost: x\r\n"
                     f"Authorization: Bearer {TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n".encode())  # fmt: skip
        sock.setblocking(False)
        chunk, sent, answer = b"4000\r\n" + b"x" * 0x4000 + b"\r\n", 0, b""
        deadline = time.monotonic() + 20
        while not answer and time.monotonic() < deadline and sent < 200 * 1024 * 1024:
            readable, writable, _ = select.select([sock], [sock], [], 1)
            if readable:
                answer = sock.recv(65536)
                break
            if writable:
                try:
                    sock.sendall(chunk)
                    sent += len(chunk)
                except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                    continue
    status, headers, body = parse(answer)
    assert status == 413 and b"limited to 65536" in body
    assert sent < 32 * 1024 * 1024, sent
    assert_styled(headers)


def test_a_small_chunked_body_is_still_accepted(served):
    _, port, seeded = served
    payload = json.dumps({"action": "acknowledged", "note": "chunked"}).encode()
    with connect(port) as sock:
        sock.sendall(f"POST /api/incidents/{seeded.critical_id}/actions HTTP/1.1\r\nHost: x\r\n"
                     f"Authorization: Bearer {TOKEN}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                     f"{len(payload):x}\r\n".encode() + payload + b"\r\n0\r\n\r\n")  # fmt: skip
        status, _, body = parse(read_until_closed(sock))
    assert status == 200 and json.loads(body)["status"] == "acknowledged"


# ---- methods, malformed requests and tokens in URLs ----------------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "get"])
@pytest.mark.parametrize("path", ["/api/incidents/1/actions", "/triage", "/metrics", "/nowhere", "/api/nowhere"])
def test_other_methods_are_405_with_allow_and_the_security_headers(served, method, path):
    base, _, _ = served
    status, headers, body = request(base + path, method, b"{}" if method in ("PUT", "PATCH") else None)
    assert status == 405, (status, body[:200])
    assert headers["Allow"] in ("GET, HEAD", "GET, HEAD, POST")
    assert_styled(headers)
    assert b"Huh" not in body and b"not allowed" in body


@pytest.mark.parametrize("path", ["/nowhere", "/api/nowhere", "/api/incidents/999999", "/triage/incidents/999999"])
def test_not_found_has_the_security_headers(served, path):
    base, _, _ = served
    status, headers, _ = request(base + path)
    assert status == 404
    assert_styled(headers)


def test_malformed_requests_and_too_many_headers_get_a_styled_400(served):
    _, port, _ = served
    many = "".join(f"X-H{i}: v\r\n" for i in range(LIMITS.max_headers + 1))
    for raw in (b"NONSENSE\r\n\r\n", f"GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n".encode()):
        with connect(port) as sock:
            sock.sendall(raw)
            status, headers, _ = parse(read_until_closed(sock))
        assert status == 400
        assert_styled(headers)


@pytest.mark.parametrize("query", [f"token={TOKEN}", "token=wrong-token-0123456789", "token=", "token", "api_token=x"])
def test_a_token_in_the_url_is_400_whatever_else_is_sent(served, query):
    base, _, seeded = served
    before = events(seeded.db, seeded.critical_id)
    payload = json.dumps({"action": "acknowledged"}).encode()
    api = f"{base}/api/incidents/{seeded.critical_id}/actions?{query}"
    for headers in ({}, {"Authorization": f"Bearer {TOKEN}"}):
        status, _, body = request(api, "POST", payload, {"Content-Type": "application/json", **headers})
        assert status == 400 and b"never in the URL" in body
    form = f"action=acknowledged&token={TOKEN}".encode()
    status, headers, body = request(f"{base}/triage/incidents/{seeded.critical_id}/action?{query}", "POST", form,
                                    {"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert status == 400 and b"never in the URL" in body
    assert_styled(headers)
    assert events(seeded.db, seeded.critical_id) == before
