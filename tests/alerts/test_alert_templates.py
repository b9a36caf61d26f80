"""Message templates per channel style: every field present, HTML escaped, grouped and resolved forms."""

from __future__ import annotations

import pytest

from monitor.alerts import templates

ALERT = {
    "incident_id": 12,
    "transition": "opened",
    "kind": "policy_file_changed",
    "severity": "medium",
    "domain": "soundcloud.com",
    "title": "robots.txt changed on <soundcloud.com>",
    "detail": "robots.txt now has a different body & more",
    "first_seen": "2026-11-26T06:32:22.304726+00:00",
    "last_seen": "2026-11-26T07:02:22.304726+00:00",
    "occurrences": 3,
    "incident_data": {"diff": "--- before\n+++ after\n-Disallow: /\n+Allow: /", "track": "forss/flickermood"},
}
API = "https://sw.example/"


@pytest.mark.parametrize(("style", "fmt"), [("chat", "markdown"), ("email", "html"), ("webhook", "text"),
                                            ("text", "text")])  # fmt: skip
def test_every_style_carries_every_field(style, fmt):
    m = templates.render_alert(style, ALERT, "incident-12-event-40:c", API)
    assert m.body_format == fmt and m.idempotency_key == "incident-12-event-40:c"
    assert m.title == "[MEDIUM] Opened: robots.txt changed on <soundcloud.com>"
    for needle in ("medium", "policy_file_changed", "soundcloud.com", "forss/flickermood", "2026-11-26 06:32:22 UTC",
                   "2026-11-26 07:02:22 UTC", "3", "https://sw.example/api/incidents/12",
                   "https://sw.example/api/incidents/12#data", "incident-12-event-40:c", "Allow: /"):  # fmt: skip
        assert needle in m.body, (style, needle)
    assert m.data["links"]["incident"] == "https://sw.example/api/incidents/12" and m.data["occurrences"] == 3


def test_markdown_for_chat_and_escaped_html_for_email():
    chat = templates.render_alert("chat", ALERT, "k", API).body
    assert "- **Severity:** medium" in chat and "[#12](https://sw.example/api/incidents/12)" in chat
    assert "```\n--- before" in chat
    mail = templates.render_alert("email", ALERT, "k", API).body
    assert "&lt;soundcloud.com&gt;" in mail and "<soundcloud.com>" not in mail and "&amp; more" in mail
    assert '<a href="https://sw.example/api/incidents/12">#12</a>' in mail


def test_resolved_and_trackless_alerts():
    resolved = {**ALERT, "transition": "resolved", "incident_data": {}}
    m = templates.render_alert("text", resolved, "k", API)
    assert m.title == "[RESOLVED] robots.txt changed on <soundcloud.com>"
    assert "Track:      —" in m.body and m.data["track"] is None and "---" not in m.body


@pytest.mark.parametrize("style", ["chat", "email", "text"])
def test_grouped_message_lists_the_burst(style):
    alerts = [{**ALERT, "incident_id": n, "title": f"t{n}", "severity": "critical" if n == 3 else "low",
               "delivery_key": f"k{n}"} for n in range(30)]  # fmt: skip
    m = templates.render_group(style, alerts, "burst.example", "group-abc:c", API)
    assert m.title == "[CRITICAL] 30 alerts on burst.example"
    assert "t0" in m.body and "t24" in m.body and "t25" not in m.body and "and 5 more" in m.body
    assert "group-abc:c" in m.body and [a["idempotency_key"] for a in m.data["alerts"]] == [f"k{n}" for n in range(30)]
    small = templates.render_group(style, alerts[:6], "burst.example", "g", API)
    assert "more" not in small.body and small.data["count"] == 6
