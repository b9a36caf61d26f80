"""Rendered pages reach only their own hosts: no sockets to loopback, no names resolving to it, no Chromium chatter."""

from __future__ import annotations

import socket
import threading

import pytest
from helpers.watch_run import CHROMIUM, crawl

from monitor.demo.internet import BackgroundInternet
from spiders.rendering import playwright_settings

pytestmark = pytest.mark.browser


class Listener:
    """Counts connections to one port on both loopback addresses (127.0.0.1 and ::1)."""

    def __init__(self) -> None:
        self.accepted: list[str] = []
        self._v4 = socket.create_server(("127.0.0.1", 0))
        self.port = self._v4.getsockname()[1]
        self._v6 = socket.create_server(("::1", self.port), family=socket.AF_INET6)
        for sock in (self._v4, self._v6):
            sock.settimeout(0.05)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._accept, args=(s,), daemon=True) for s in (self._v4, self._v6)]

    def _accept(self, sock: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted.append(peer[0])
            conn.close()

    def __enter__(self) -> Listener:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)
        self._v4.close()
        self._v6.close()


@pytest.fixture(scope="module")
def net():
    with BackgroundInternet() as running:
        yield running


def test_a_rendered_page_reaches_only_its_own_host(net, fake_dns):
    # intranet.example bypasses the proxy and resolves to loopback, for Chromium and for the egress check alike.
    fake_dns.table["intranet.example"] = "127.0.0.1"
    browser = playwright_settings(
        CHROMIUM, net.url, net.internet.leaf_spki_sha256, no_proxy=["intranet.example"], timeout_seconds=20
    )
    args = browser["PLAYWRIGHT_LAUNCH_OPTIONS"]["args"]
    # Chromium reads one --host-resolver-rules: add to ours.
    (rules,) = [n for n, arg in enumerate(args) if arg.startswith("--host-resolver-rules=")]
    args[rules] += ", MAP intranet.example 127.0.0.1"
    net.internet.clear_requests()
    with Listener() as loopback:
        target = {
            "name": "trap",
            "start_urls": [f"http://trap.example/sockets?port={loopback.port}"],
            "render": True,
            "follow_sitemap": False,
            "max_depth": 0,
        }
        (page,) = crawl(net, target, **browser)
    dom = page.body.decode()
    assert (page.status, page.rendered) == (200, True), page.error_detail
    assert loopback.accepted == []  # neither sockets nor the no_proxy name nor x.localhost. reached loopback
    assert "ws 127.0.0.1: SecurityError" in dom and "ws [::1]: SecurityError" in dom
    assert "iframe ws: SecurityError" in dom and "rtc: SecurityError" in dom
    assert "worker ws: SecurityError" in dom
    # The recording proxy saw the page's own host and nothing else: no googleapis.com, gvt1.com, 127.0.0.1, ...
    assert {r.host for r in net.internet.requests} == {"trap.example"}, net.internet.requests
    assert "intranet.example" in fake_dns.lookups  # checked by resolving, as Chromium would connect directly
    refused = {r.url.split("/")[2] for r in page.requests if r.failure}
    assert {f"intranet.example:{loopback.port}", f"x.localhost.:{loopback.port}"} <= refused, page.requests
