"""Per-case alert mode against real webhook receivers on loopback: a case-mode channel hears once per case
opened / escalated / reappeared, an incident-mode channel keeps one message per incident."""

from __future__ import annotations

import asyncio

from monitor.alerts.sender import AlertSender
from monitor.db import open_db
from monitor.incidents import Finding
from monitor.runtime.components import case_options
from monitor.store import case_actions
from monitor.store.core import Store
from tests.alerts.receivers import WebhookReceiver
from tests.alerts.support import alert_settings, rows
from tests.cases.support import finding, run


def drain(sender: AlertSender):
    return asyncio.run(sender.drain())


def channels(cases_url: str, team_url: str) -> list[dict]:
    common = {"min_severity": "info", "rate_limit_per_minute": 0}
    return [{"name": "cases", "url": cases_url, "mode": "case", **common}, {"name": "team", "url": team_url, **common}]


def bodies(hook: WebhookReceiver) -> list[dict]:
    return [r.body["scrapewatch"] for r in hook.received]


def test_case_mode_channel_gets_one_message_per_case_change(tmp_path):
    with WebhookReceiver() as by_case, WebhookReceiver() as by_incident:
        settings = alert_settings(tmp_path, channels(by_case.url, by_incident.url), group_threshold=50,
                                  api_base_url="https://sw.example")  # fmt: skip
        store = Store(open_db(tmp_path / "a.db"), case_options=case_options(settings))
        sender = AlertSender(store, settings)
        low = finding("a.example", "mirror", "medium")
        policy = Finding("policy_breach:soundcloud.com", "policy_breach", "high", "soundcloud.com", "AI policy")
        run(store, [low, finding("a.example", "proxy", "medium"), finding("b.example", "mirror", "low")])
        run(store, [policy], scope="policy")
        drain(sender)
        got = bodies(by_case)
        assert sorted((a["transition"], a["domain"]) for a in got) == [
            ("case_opened", "a.example"), ("case_opened", "b.example"), ("opened", "soundcloud.com")
        ]  # fmt: skip
        opened = next(a for a in got if a["domain"] == "a.example")
        assert opened["kind"] == "case" and opened["severity"] == "medium" and opened["occurrences"] == 2
        assert opened["links"]["incident"] == f"https://sw.example/api/cases/{opened['case_id']}"
        assert by_case.received[0].body["title"].startswith("[MEDIUM] Case opened: case #")
        assert sorted(a["transition"] for a in bodies(by_incident)) == ["opened"] * 4  # unchanged per incident
        # More of the same case at the same severity: no case message; a critical one escalates the case.
        run(store, [low, finding("a.example", "file-tags", "low")])
        drain(sender)
        assert len(by_case.received) == 3 and len(by_incident.received) == 5
        run(store, [low, finding("a.example", "downloader", "critical")])
        drain(sender)
        assert [(a["transition"], a["severity"]) for a in bodies(by_case)[3:]] == [("case_escalated", "critical")]
        drain(sender)  # nothing is sent twice
        assert len(by_case.received) == 4 and len(set(by_case.keys())) == 4
        # Taken down, then the material shows again: the case reappears, one message.
        case_actions.change_status(store, opened["case_id"], "taken_down", "alice")
        run(store, [low])
        drain(sender)
        assert [a["transition"] for a in bodies(by_case)[4:]] == ["case_reappeared"]
        assert len(by_incident.received) == 6  # the incident-mode channel heard of the new critical incident only
        filtered = rows(store, "SELECT channel, detail FROM alert_deliveries WHERE status = 'filtered'")
        assert {f["detail"] for f in filtered if f["channel"] == "team"} == {"the channel alerts per incident"}
        assert {f["detail"] for f in filtered if f["channel"] == "cases"} == {"the channel alerts per case"}
        store.db.close()


def test_without_a_case_mode_channel_no_case_alert_is_written(tmp_path):
    with WebhookReceiver() as hook:
        settings = alert_settings(tmp_path, [{"name": "team", "url": hook.url, "min_severity": "info"}])
        store = Store(open_db(tmp_path / "b.db"), case_options=case_options(settings))
        run(store, [finding("a.example"), finding("a.example", "proxy")])
        drain(AlertSender(store, settings))
        assert sorted(a["transition"] for a in bodies(hook)) == ["opened", "opened"]
        assert rows(store, "SELECT count(*) AS n FROM alert_outbox WHERE transition LIKE 'case_%'") == [{"n": 0}]
        assert rows(store, "SELECT count(*) AS n FROM cases") == [{"n": 1}]  # cases are kept all the same
        store.db.close()


def test_a_mute_holds_case_alerts_too(tmp_path):
    with WebhookReceiver() as by_case, WebhookReceiver() as by_incident:
        settings = alert_settings(tmp_path, channels(by_case.url, by_incident.url),
                                  mutes=[{"domain": "a.example", "until": "2999-01-01T00:00:00Z"}])  # fmt: skip
        store = Store(open_db(tmp_path / "c.db"), case_options=case_options(settings))
        run(store, [finding("a.example")])
        drain(AlertSender(store, settings))
        assert by_case.received == [] and by_incident.received == []
        assert {r["status"] for r in rows(store, "SELECT status FROM alert_deliveries WHERE channel = 'cases'")} == {
            "muted", "filtered"
        }  # fmt: skip
        store.db.close()
