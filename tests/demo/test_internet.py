"""The simulated internet, driven by plain stdlib clients through its proxy on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import http.client
import socket
import ssl
import time
import tracemalloc
import urllib.error
import urllib.request

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from monitor.demo.internet import BackgroundInternet, FakeInternet
from monitor.demo.model import Site, by_host, text
from monitor.demo.sites import HUGE_BYTES, RESET_SENT_BYTES, demo_sites, register

TIMEOUT = 5


@pytest.fixture(scope="module")
def net():
    with BackgroundInternet() as running:
        yield running


@pytest.fixture(autouse=True)
def _no_proxy_bypass(monkeypatch):
    # urllib skips even an explicit ProxyHandler for hosts in NO_PROXY: that would reach the real site.
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def internet(net):
    net.internet.set_phase(0)
    net.internet.clear_requests()
    yield net.internet
    net.internet.set_phase(0)


def proxy_get(net: BackgroundInternet, url: str, method: str = "GET") -> tuple[int, dict, bytes]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": net.url, "https": net.url}))
    try:
        with opener.open(urllib.request.Request(url, method=method), timeout=TIMEOUT) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def tunnel(net: BackgroundInternet, host: str, context: ssl.SSLContext | None = None):
    conn = http.client.HTTPSConnection(
        "127.0.0.1", net.internet.port, context=context or net.internet.client_ssl_context(), timeout=TIMEOUT
    )
    conn.set_tunnel(host, 443)
    return conn


def raw_exchange(net: BackgroundInternet, data: bytes) -> bytes:
    """Send bytes on a fresh connection and read until the server closes it."""
    with socket.create_connection(("127.0.0.1", net.internet.port), timeout=TIMEOUT) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_http_through_proxy_serves_soundcloud_robots(net, internet):
    status, headers, body = proxy_get(net, "http://soundcloud.com/robots.txt")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain")
    assert int(headers["Content-Length"]) == len(body)
    robots = body.decode()
    assert "User-agent: GPTBot\nDisallow: /\n" in robots
    for agent in ("ClaudeBot", "CCBot", "Google-Extended", "anthropic-ai", "PerplexityBot", "Bytespider"):
        assert f"User-agent: {agent}\n" in robots
    assert "Content-Signal: search=yes, ai-train=no\nDisallow: /search\n" in robots
    assert "Sitemap: https://soundcloud.com/sitemap.xml" in robots
    assert len(internet.requests) == 1
    entry = internet.requests[0]
    assert (entry.method, entry.host, entry.path, entry.via, entry.status) == (
        "GET",
        "soundcloud.com",
        "/robots.txt",
        "proxy",
        200,
    )


def test_https_through_connect_with_verified_certificate(net, internet):
    conn = tunnel(net, "www.soundcloud.com")
    try:
        conn.request("GET", "/ai.txt")
        resp = conn.getresponse()
        body = resp.read().decode()
        cert = conn.sock.getpeercert()
        der = conn.sock.getpeercert(binary_form=True)
    finally:
        conn.close()
    assert resp.status == 200
    assert "User-Agent: *\n" in body and "Disallow: *.mp3\n" in body
    assert ("DNS", "www.soundcloud.com") in cert["subjectAltName"]
    spki = (
        x509.load_der_x509_certificate(der).public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    )
    assert base64.b64encode(hashlib.sha256(spki).digest()).decode() == net.internet.leaf_spki_sha256
    assert [(r.method, r.host, r.via, r.status) for r in internet.requests] == [
        ("CONNECT", "www.soundcloud.com", "connect", 200),
        ("GET", "www.soundcloud.com", "connect", 200),
    ]
    assert internet.requests[1].path == "/ai.txt"


def test_tls_is_rejected_without_the_fake_ca(net, tmp_path):
    with pytest.raises(ssl.SSLCertVerificationError):
        tunnel(net, "soundcloud.com", ssl.create_default_context()).request("GET", "/robots.txt")
    # Trusting the written CA file works, and the hostname check stays on.
    trusting = ssl.create_default_context(cafile=str(net.internet.write_ca(tmp_path / "ca" / "ca.pem")))
    assert trusting.check_hostname
    conn = tunnel(net, "soundcloud.com", trusting)
    conn.request("HEAD", "/robots.txt")
    assert conn.getresponse().status == 200
    conn.close()


def test_keep_alive_serves_two_requests_on_one_connection(net, internet):
    conn = http.client.HTTPConnection("127.0.0.1", net.internet.port, timeout=TIMEOUT)
    conn.request("GET", "http://soundcloud.com/robots.txt")
    first = conn.getresponse()
    first.read()
    sock = conn.sock
    conn.request("GET", "http://api-v2.soundcloud.com/robots.txt")
    second = conn.getresponse()
    assert second.read() == b"User-agent: *\nDisallow: /\n"
    assert (first.status, second.status) == (200, 200)
    assert sock is not None and conn.sock is sock, "the server closed a keep-alive connection"
    conn.close()


def test_http10_keep_alive_is_opt_in(net):
    with socket.create_connection(("127.0.0.1", net.internet.port), timeout=TIMEOUT) as sock:
        sock.sendall(b"GET http://api-v2.soundcloud.com/robots.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        first = sock.recv(65536)
        sock.sendall(b"GET http://api-v2.soundcloud.com/robots.txt HTTP/1.0\r\n\r\n")
        rest = b""
        while chunk := sock.recv(65536):
            rest += chunk
    assert b"\r\nConnection: keep-alive\r\n" in first and first.endswith(b"Disallow: /\n")
    assert b"\r\nConnection: close\r\n" in rest and rest.endswith(b"Disallow: /\n")


def test_connection_close_is_honoured_and_head_has_no_body(net):
    reply = raw_exchange(
        net, b"HEAD http://soundcloud.com/robots.txt HTTP/1.1\r\nHost: soundcloud.com\r\nConnection: close\r\n\r\n"
    )
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert b"\r\nConnection: close" in head
    length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
    assert length == len(proxy_get(net, "http://soundcloud.com/robots.txt")[2])
    assert body == b""


def test_unknown_host_is_a_bad_gateway(net, internet):
    status, _, body = proxy_get(net, "http://no-such-host.example/robots.txt")
    assert status == 502
    assert b"no-such-host.example" in body
    conn = tunnel(net, "no-such-host.example")
    with pytest.raises(OSError, match="502"):
        conn.request("GET", "/")
    conn.close()
    assert [(r.method, r.status) for r in internet.requests] == [("GET", 502), ("CONNECT", 502)]


def test_phase_one_weakens_gptbot_group(net, internet):
    before = proxy_get(net, "http://soundcloud.com/robots.txt")[2].decode()
    internet.set_phase(1)
    after = proxy_get(net, "http://soundcloud.com/robots.txt")[2].decode()
    assert internet.phase == 1
    assert "User-agent: GPTBot\nDisallow: /\n" in before
    assert "User-agent: GPTBot\nAllow: /\n" in after
    # Only the GPTBot group changed: the rest of the file is the same.
    assert before.split("# AI training")[1] == after.split("# AI training")[1]
    # Phase 1 reuses phase 0 content where nothing changed.
    assert proxy_get(net, "http://m.soundcloud.com/robots.txt")[0] == 200


def test_sibling_hosts(net, internet):
    assert proxy_get(net, "http://m.soundcloud.com/ai.txt")[0] == 503
    internet.set_phase(3)
    assert proxy_get(net, "http://m.soundcloud.com/ai.txt")[0] == 503
    status, _, body = proxy_get(net, "http://m.soundcloud.com/robots.txt")
    assert status == 200 and b"User-agent: GPTBot" in body
    status, _, body = proxy_get(net, "http://api-v2.soundcloud.com/robots.txt")
    assert (status, body) == (200, b"User-agent: *\nDisallow: /\n")
    assert proxy_get(net, "http://api-v2.soundcloud.com/ai.txt")[0] == 404
    status, headers, body = proxy_get(net, "http://html-robots.test/robots.txt")
    assert status == 200 and headers["Content-Type"].startswith("text/html") and b"<html>" in body


def test_redirect_loop_points_at_itself(net):
    reply = raw_exchange(net, b"GET http://redirect-loop.test/robots.txt HTTP/1.0\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 302 ")
    assert b"\r\nLocation: http://redirect-loop.test/robots.txt\r\n" in reply


def test_direct_origin_form_request_uses_host_header(net, internet):
    reply = raw_exchange(
        net, b"GET /robots.txt HTTP/1.1\r\nHost: API-V2.soundcloud.com:80\r\nConnection: close\r\n\r\n"
    )
    assert reply.startswith(b"HTTP/1.1 200 ") and reply.endswith(b"\r\n\r\nUser-agent: *\nDisallow: /\n")
    logged = [(r.host, r.path, r.via) for r in internet.requests]
    assert logged == [("api-v2.soundcloud.com", "/robots.txt", "direct")]


@pytest.mark.parametrize(
    ("junk", "status"),
    [
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)) + b"\r\n\r\n", b"400"),
        (b"GET /robots.txt HTTP/1.1\r\nHost: soundcloud.com\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n", b"431"),
        (b"GET / HTTP/1.1\r\nHost: soundcloud.com\r\n" + b"X-A: b\r\n" * 200 + b"\r\n", b"431"),
        (b"GET / HTTP/2.0\r\nHost: soundcloud.com\r\n\r\n", b"505"),
        (b"GET / HTTP/1.1\r\nHost soundcloud.com\r\n\r\n", b"400"),
        (b"POST http://soundcloud.com/ HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", b"413"),
        (b"GET http://[::1/robots.txt HTTP/1.1\r\n\r\n", b"400"),
        (b"POST http://soundcloud.com/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", b"400"),
    ],
    ids=["tls-hello-as-http", "huge-header", "many-headers", "http2", "no-colon", "huge-body", "bad-url", "bad-chunk"],
)
def test_garbage_is_refused_and_the_server_keeps_serving(net, junk, status):
    reply = raw_exchange(net, junk)
    assert reply.startswith(b"HTTP/1.1 " + status + b" ")
    assert b"\r\nConnection: close\r\n" in reply
    assert proxy_get(net, "http://soundcloud.com/robots.txt")[0] == 200


def test_client_vanishing_mid_request_does_not_hurt(net):
    for junk in (b"GET http://soundcloud.com/ HTTP/1.1\r\nHost: so", b"\x00" * 10, b""):
        with socket.create_connection(("127.0.0.1", net.internet.port)) as sock:
            sock.sendall(junk)
    assert proxy_get(net, "http://soundcloud.com/robots.txt")[0] == 200


def test_request_bodies_are_read_so_the_connection_stays_usable(net):
    chunked = b"POST http://soundcloud.com/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    sized = b"POST http://soundcloud.com/x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
    last = b"GET http://api-v2.soundcloud.com/robots.txt HTTP/1.1\r\nConnection: close\r\n\r\n"
    reply = raw_exchange(net, chunked + sized + last)
    assert reply.count(b"HTTP/1.1 404 ") == 2
    assert reply.endswith(b"Disallow: /\n")


def test_huge_body_is_streamed_lazily(net, internet):
    tracemalloc.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", net.internet.port, timeout=TIMEOUT)
        conn.request("GET", "http://huge.test/dataset.mp3")
        resp = conn.getresponse()
        received = 0
        while received < 1024 * 1024:
            received += len(resp.read1(65536))
        time.sleep(0.2)  # time for an eager server to have produced far more than was read
        _, peak = tracemalloc.get_traced_memory()
        conn.close()
    finally:
        tracemalloc.stop()
    assert resp.status == 200
    assert int(resp.headers["Content-Length"]) == HUGE_BYTES
    assert peak < 16 * 1024 * 1024, f"peak {peak} bytes while reading 1 MB of a {HUGE_BYTES}-byte body"
    assert internet.requests[-1].host == "huge.test"


def test_reset_host_breaks_the_response_midway(net):
    conn = http.client.HTTPConnection("127.0.0.1", net.internet.port, timeout=TIMEOUT)
    conn.request("GET", "http://reset.test/track.mp3")
    resp = conn.getresponse()
    assert resp.status == 200
    with pytest.raises((http.client.IncompleteRead, ConnectionResetError)) as caught:
        resp.read()
    if isinstance(caught.value, http.client.IncompleteRead):
        assert len(caught.value.partial) == RESET_SENT_BYTES
    conn.close()


def test_slow_host_makes_the_client_time_out(net, internet):
    conn = http.client.HTTPConnection("127.0.0.1", net.internet.port, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        conn.request("GET", "http://slow.test/robots.txt")
        conn.getresponse()
    assert time.monotonic() - started >= 0.45
    conn.close()
    assert [(r.host, r.status) for r in internet.requests] == [("slow.test", 0)]
    assert proxy_get(net, "http://soundcloud.com/robots.txt")[0] == 200


def test_header_timeout_answers_408_to_a_silent_client():
    with BackgroundInternet(header_timeout=0.3) as quick:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", quick.internet.port), timeout=TIMEOUT) as sock:
            sock.sendall(b"GET http://soundcloud.com/ HTTP/1.1\r\n")
            reply = sock.recv(4096)
        assert reply.startswith(b"HTTP/1.1 408 ")
        assert time.monotonic() - started < 2


def test_custom_sites_and_registration():
    site = Site(host="blog.test", aliases=("www.blog.test",), routes={"/": {0: text("v0"), 2: text("v2")}})
    with pytest.raises(ValueError, match=r"soundcloud\.com"):
        register(Site(host="soundcloud.com"))
    with pytest.raises(ValueError, match="twice"):
        by_host([site, Site(host="WWW.blog.test")])
    assert {"soundcloud.com", "www.soundcloud.com", "m.soundcloud.com", "slow.test"} <= set(demo_sites())
    with BackgroundInternet(by_host([site])) as custom:
        phases = []
        for phase in (0, 1, 2, 5):
            custom.internet.set_phase(phase)
            phases.append(proxy_get(custom, "http://www.blog.test/")[2])
        assert phases == [b"v0", b"v0", b"v2", b"v2"]
        assert proxy_get(custom, "http://soundcloud.com/robots.txt")[0] == 502


def test_stop_closes_connections_and_frees_the_port():
    running = BackgroundInternet().start()
    port = running.internet.port
    stalled = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    stalled.sendall(b"GET http://slow.test/ HTTP/1.1\r\n\r\n")
    time.sleep(0.1)
    started = time.monotonic()
    running.stop()
    assert time.monotonic() - started < 3
    assert stalled.recv(10) == b""
    stalled.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)


def test_fake_internet_runs_on_the_callers_loop_too():
    async def scenario() -> bytes:
        internet = FakeInternet()
        await internet.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", internet.port)
            writer.write(b"GET http://api-v2.soundcloud.com/robots.txt HTTP/1.0\r\n\r\n")
            reply = await reader.read()
            writer.close()
            return reply
        finally:
            await internet.stop()

    assert asyncio.run(scenario()).endswith(b"\r\n\r\nUser-agent: *\nDisallow: /\n")
