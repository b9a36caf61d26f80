"""Links in alerts work: a daemon listening on port 0 links to the port it bound, and that link answers with the
incident; a configured ``alerts.api_base_url`` wins over the bound address."""

from __future__ import annotations

import asyncio
import json
import signal
from urllib.parse import urlsplit

import pytest

from monitor.alerts.sender import AlertSender
from monitor.demo.internet import BackgroundInternet
from tests.alerts.receivers import WebhookReceiver
from tests.alerts.support import alert_settings, finding, write_findings
from tests.alerts.test_alert_daemon import config, start
from tests.helpers.proc import get, wait_for


@pytest.fixture(scope="module")
def internet():
    with BackgroundInternet() as net:
        yield net


def test_a_daemon_on_port_0_links_to_its_bound_port_and_the_link_answers(tmp_path, internet):
    with WebhookReceiver() as hook:
        cfg = config(tmp_path, hook.url, ["m.soundcloud.com"], port=0, group_threshold=50)
        proc = start(cfg, tmp_path, internet)
        try:
            wait_for(lambda: hook.received, timeout=60, what="an alert from the daemon")
            alert = hook.received[0].body["scrapewatch"]
            link = alert["links"]["incident"]
            url = urlsplit(link)
            assert (url.hostname, url.path) == ("127.0.0.1", f"/api/incidents/{alert['incident_id']}")
            assert url.port and url.port != 0
            status, body = get(link)
            assert status == 200, body
            incident = json.loads(body)
            assert (incident["id"], incident["title"]) == (alert["incident_id"], alert["title"])
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0, proc.stderr.read()
    assert f"HTTP server listening on http://127.0.0.1:{url.port}" in proc.stderr.read()


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        ("https://sw.example/base/", "https://sw.example/base/api/incidents/"),
        (None, "http://127.0.0.1:8123/api/incidents/"),
    ],
)
def test_a_configured_api_base_url_wins_over_the_bound_address(tmp_path, store, configured, expected):
    write_findings(store, [finding(1, severity="high")])
    with WebhookReceiver() as hook:
        settings = alert_settings(tmp_path, [{"name": "hook", "url": hook.url}], api_base_url=configured)
        settings.http.listen = "127.0.0.1:0"
        sender = AlertSender(store, settings)
        sender.listening_at("http://127.0.0.1:8123")
        assert asyncio.run(sender.drain()).messages_sent == 1
    alert = hook.received[0].body["scrapewatch"]
    assert alert["links"]["incident"] == f"{expected}{alert['incident_id']}"
