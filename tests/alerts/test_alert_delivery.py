"""The sender against real receivers on loopback: webhook JSON, email over SMTP, failures, retries, dead letters,
bursts, rate limits, mutes, dry run, restarts. Real SQLite files; the clock is injected where backoff matters."""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import UTC, datetime, timedelta

from monitor import metrics
from monitor.alerts.channels import IDEMPOTENCY_HEADER
from monitor.alerts.sender import AlertSender
from monitor.db import open_db
from monitor.metrics import REGISTRY, StoreCollector
from monitor.store import alerts as store_alerts
from monitor.store.core import Store
from tests.alerts.receivers import SmtpReceiver, WebhookReceiver
from tests.alerts.support import alert_settings, finding, rows, write_findings


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def drain(sender: AlertSender):
    return asyncio.run(sender.drain())


def test_webhook_receives_the_alert_json_with_its_idempotency_key(tmp_path, store):
    write_findings(store, [finding(1, severity="critical", track="https://soundcloud.com/forss/flickermood")])
    with WebhookReceiver() as hook:
        settings = alert_settings(tmp_path, [{"name": "hook", "url": hook.url}], api_base_url="https://sw.example")
        before = sample("scrapewatch_alerts_sent_total", channel="hook")
        report = drain(AlertSender(store, settings))
    assert report.messages_sent == 1
    (got,) = hook.received
    (delivery,) = rows(store, "SELECT * FROM alert_deliveries")
    key = delivery["idempotency_key"]
    assert key == f"{rows(store, 'SELECT idempotency_key FROM alert_outbox')[0]['idempotency_key']}:hook"
    assert got.headers[IDEMPOTENCY_HEADER] == key and got.body["idempotency_key"] == key
    assert got.body["title"] == "[CRITICAL] Opened: Finding 1 on downloader.example"
    alert = got.body["scrapewatch"]
    assert alert["kind"] == "exposed_audio" and alert["domain"] == "downloader.example"
    assert alert["track"] == "https://soundcloud.com/forss/flickermood" and alert["occurrences"] == 1
    assert alert["links"]["incident"] == f"https://sw.example/api/incidents/{alert['incident_id']}"
    for needle in ("Severity:   critical", "Kind:       exposed_audio", "Site:       downloader.example",
                   "Track:      https://soundcloud.com/forss/flickermood", "First seen: ", "Last seen:  ",
                   "Count:      1", f"Idempotency key: {key}"):  # fmt: skip
        assert needle in got.body["message"], needle
    assert delivery["status"] == "sent" and delivery["attempts"] == 1 and delivery["message_key"] == key
    assert rows(store, "SELECT status FROM alert_outbox") == [{"status": "sent"}]
    assert sample("scrapewatch_alerts_sent_total", channel="hook") == before + 1


def test_email_arrives_over_smtp_with_subject_text_and_html(tmp_path, store):
    write_findings(store, [finding(7, domain="mirror.example", severity="high")])
    with SmtpReceiver() as smtp:
        settings = alert_settings(tmp_path, [{"name": "mail", "url": smtp.url()}])
        assert drain(AlertSender(store, settings)).messages_sent == 1
    (msg,) = smtp.messages
    (delivery,) = rows(store, "SELECT idempotency_key, status FROM alert_deliveries")
    assert msg["Subject"] == "[HIGH] Opened: Finding 7 on mirror.example"
    assert msg["To"] == "tns@example.org" and msg["X-Scrapewatch-Idempotency-Key"] == delivery["idempotency_key"]
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    for needle in ("Severity", "high", "exposed_audio", "mirror.example", "Count", "detail 7"):
        assert needle in text and needle in html, needle
    assert '<a href="http://127.0.0.1:9410/api/incidents/1">#1</a>' in html
    assert delivery["status"] == "sent"


def test_a_failing_receiver_gets_retries_with_backoff_then_a_dead_letter(tmp_path, store, clock):
    write_findings(store, [finding(1)])
    with WebhookReceiver(status=500) as hook:
        settings = alert_settings(tmp_path, [{"name": "hook", "url": hook.url}], max_attempts=4,
                                  retry_base_seconds=60, retry_max_seconds=3600)  # fmt: skip
        sender = AlertSender(store, settings, clock=clock, rng=random.Random(1))
        failed_before = sample("scrapewatch_alerts_failed_total", channel="hook")
        delays = []
        for attempt in range(1, 5):
            report = drain(sender)
            assert report.failures == 1 and len(hook.received) == attempt
            (d,) = rows(store, "SELECT * FROM alert_deliveries")
            assert d["attempts"] == attempt and "error=500" in d["last_error"]
            if attempt < 4:
                assert d["status"] == "pending"
                wait = (_t(d["next_attempt_at"]) - _t(d["last_attempt_at"])).total_seconds()
                delays.append(wait)
                clock.advance(wait / 2)
                assert drain(sender).failures == 0 and len(hook.received) == attempt  # not due yet
                clock.advance(wait)
        assert d["status"] == "dead" and report.dead == 1
        assert [60 / 2 <= delays[0] <= 60, 60 <= delays[1] <= 120, 120 <= delays[2] <= 240] == [True] * 3
        assert len({r.key for r in hook.received}) == 1  # every retry carries the same key
        assert sample("scrapewatch_alerts_failed_total", channel="hook") == failed_before + 4
        assert rows(store, "SELECT status FROM alert_outbox") == [{"status": "dead"}]
        assert drain(sender).failures == 0 and len(hook.received) == 4  # a dead letter is left alone
        assert _scrape(store)["scrapewatch_alert_dead_letters"] == [({"channel": "hook"}, 1.0)]
        # Retried by hand once the receiver is healthy again: delivered.
        hook.status = 200
        store_alerts.retry(store, d["id"], clock())
        assert drain(sender).messages_sent == 1 and len(hook.received) == 5
    assert _scrape(store)["scrapewatch_alert_dead_letters"] == [({"channel": "hook"}, 0.0)]


def _t(text):
    return datetime.fromisoformat(text)


def _scrape(store: Store) -> dict[str, list]:
    db_path = store.db.execute("PRAGMA database_list").fetchone()[2]
    families = StoreCollector(lambda: open_db(db_path, migrate=False).conn).collect()
    return {f.name: [(s.labels, s.value) for s in f.samples] for f in families}


def test_a_burst_on_one_site_is_one_grouped_message(tmp_path, store):
    store.storm_threshold = 0  # the sender's per-channel grouping, without the store's storm control before it
    write_findings(store, [finding(n, domain="burst.example") for n in range(50)]
                   + [finding(n, domain="quiet.example") for n in range(2)])  # fmt: skip
    with WebhookReceiver() as hook:
        settings = alert_settings(tmp_path, [{"name": "hook", "url": hook.url}], group_threshold=5)
        report = drain(AlertSender(store, settings))
    assert report.messages_sent == 3 and report.deliveries_sent == 52
    grouped = [r for r in hook.received if r.body["scrapewatch"]["transition"] == "grouped"]
    (g,) = grouped
    assert g.body["title"] == "[HIGH] 50 alerts on burst.example"
    assert g.body["scrapewatch"]["count"] == 50 and len(g.body["scrapewatch"]["alerts"]) == 50
    assert "…and 25 more" in g.body["message"]
    member_keys = {a["idempotency_key"] for a in g.body["scrapewatch"]["alerts"]}
    sent = rows(store, "SELECT * FROM alert_deliveries WHERE domain = 'burst.example'")
    assert {r["idempotency_key"] for r in sent} == member_keys
    assert {r["message_key"] for r in sent} == {g.key} and {r["status"] for r in sent} == {"sent"}
    assert sorted(r.body["scrapewatch"]["domain"] for r in hook.received if r is not g) == ["quiet.example"] * 2


def test_rate_limit_holds_the_rest_for_the_next_drain(tmp_path, store):
    write_findings(store, [finding(n, domain=f"site{n}.example") for n in range(5)])
    with WebhookReceiver() as hook:
        settings = alert_settings(tmp_path, [{"name": "hook", "url": hook.url, "rate_limit_per_minute": 2}])
        sender = AlertSender(store, settings)
        report = drain(sender)
        assert report.messages_sent == 2 and report.rate_limited == 3 and len(hook.received) == 2
        pending = rows(store, "SELECT attempts FROM alert_deliveries WHERE status = 'pending'")
        assert len(pending) == 3 and all(r["attempts"] == 0 for r in pending)  # waiting is not failing
        sender._window["hook"].clear()  # a minute later
        assert drain(sender).messages_sent == 2


def test_a_muted_domain_sends_nothing(tmp_path, store, clock):
    write_findings(store, [finding(1, domain="m.soundcloud.com", kind="policy_file_unreachable"),
                           finding(2, domain="other.example")])  # fmt: skip
    mute = {"domain": "soundcloud.com", "until": (clock() + timedelta(hours=1)).isoformat(), "reason": "CDN work"}
    with WebhookReceiver() as hook:
        settings = alert_settings(tmp_path, [{"name": "hook", "url": hook.url}], mutes=[mute])
        muted_before = sample("scrapewatch_alerts_muted_total", channel="hook")
        drain(AlertSender(store, settings, clock=clock))
    assert [r.body["scrapewatch"]["domain"] for r in hook.received] == ["other.example"]
    muted = rows(store, "SELECT status, detail FROM alert_deliveries WHERE domain = 'm.soundcloud.com'")
    assert muted[0]["status"] == "muted" and "configured mute (domain=soundcloud.com)" in muted[0]["detail"]
    assert sample("scrapewatch_alerts_muted_total", channel="hook") == muted_before + 1


def test_dry_run_logs_instead_of_sending(tmp_path, store, caplog):
    write_findings(store, [finding(1)])
    with WebhookReceiver() as hook, caplog.at_level(logging.WARNING, "scrapewatch.alerts"):
        settings = alert_settings(tmp_path, [{"name": "hook", "url": hook.url}], dry_run=True)
        drain(AlertSender(store, settings))
    assert hook.received == []
    assert "DRY RUN: would send to hook (json://***/***): [HIGH] Opened: Finding 1" in caplog.text
    assert rows(store, "SELECT status, detail FROM alert_deliveries") == [{"status": "sent", "detail": "dry run"}]


def test_without_channels_alerts_go_to_the_log(tmp_path, store, caplog):
    write_findings(store, [finding(1)])
    with caplog.at_level(logging.WARNING, "scrapewatch.alerts"):
        drain(AlertSender(store, alert_settings(tmp_path)))
    (d,) = rows(store, "SELECT channel, status, idempotency_key FROM alert_deliveries")
    assert d["channel"] == "log" and d["status"] == "sent"
    line = f"ALERT [HIGH] opened exposed_audio: Finding 1 on downloader.example (incident #1, {d['idempotency_key']})"
    assert line in caplog.text


def test_a_slow_receiver_times_out_and_is_retried(tmp_path, store, clock):
    write_findings(store, [finding(1)])
    with WebhookReceiver(delay=2.0) as hook:
        settings = alert_settings(tmp_path, [{"name": "hook", "url": hook.url}], send_timeout_seconds=0.5)
        report = drain(AlertSender(store, settings, clock=clock))
    assert report.failures == 1
    (d,) = rows(store, "SELECT status, attempts, last_error FROM alert_deliveries")
    assert d["status"] == "pending" and d["attempts"] == 1 and d["last_error"]


def test_stop_lets_the_send_in_flight_finish_and_sends_nothing_more(tmp_path, store):
    write_findings(store, [finding(n, domain=f"s{n}.example") for n in range(3)])
    with WebhookReceiver(delay=0.5) as hook:
        sender = AlertSender(store, alert_settings(tmp_path, [{"name": "hook", "url": hook.url}]))

        async def scenario():
            task = asyncio.create_task(sender.drain())
            while not hook.received:
                await asyncio.sleep(0.01)
            await sender.stop()  # SIGTERM arrives while the first message is on the wire
            assert task.done()
            return await task

        report = asyncio.run(scenario())
    assert report.messages_sent == 1 and len(hook.received) == 1
    statuses = [r["status"] for r in rows(store, "SELECT status FROM alert_deliveries ORDER BY id")]
    assert statuses == ["sent", "pending", "pending"]  # recorded; the rest waits for the next start


def test_committed_alerts_survive_a_restart_and_are_sent_once(tmp_path):
    path = tmp_path / "data" / "scrapewatch.db"
    first = Store(open_db(path))
    write_findings(first, [finding(1), finding(2, domain="b.example")])
    first.db.close()  # the process dies after the commit, before any drain
    with WebhookReceiver() as hook:
        settings = alert_settings(tmp_path, [{"name": "hook", "url": hook.url}])
        second = Store(open_db(path))
        drain(AlertSender(second, settings))
        drain(AlertSender(second, settings))  # and again after another restart: nothing twice
    assert sorted(hook.keys()) == sorted(set(hook.keys())) and len(hook.keys()) == 2


def test_a_removed_channel_turns_its_pending_deliveries_into_dead_letters(tmp_path, store, clock):
    write_findings(store, [finding(1)])
    store_alerts.route_new(store, {"old": None}, [], clock())  # routed while "old" was configured
    with WebhookReceiver() as hook:
        drain(AlertSender(store, alert_settings(tmp_path, [{"name": "hook", "url": hook.url}])))
    (d,) = rows(store, "SELECT channel, status, last_error FROM alert_deliveries")
    assert d == {"channel": "old", "status": "dead", "last_error": "channel old is no longer configured"}


def test_probe_recovery_is_sent_even_where_resolutions_are_not(tmp_path, store):
    from tests.alerts.test_alert_store import _run

    job = "policy_snapshot:m.soundcloud.com"
    with WebhookReceiver() as hook:
        settings = alert_settings(tmp_path, [{"name": "hook", "url": hook.url, "send_resolved": False}],
                                  probe_failures=2)  # fmt: skip
        sender = AlertSender(store, settings)
        for outcome in ("failure", "failure", "failure", "success"):
            _run(store, job, outcome)
            drain(sender)
    assert [(r.body["scrapewatch"]["kind"], r.body["scrapewatch"]["transition"]) for r in hook.received] == [
        ("probe_health", "opened"), ("probe_health", "resolved")
    ]  # fmt: skip
    assert hook.received[1].body["title"].startswith("[RESOLVED] ")


def test_digest_goes_to_digest_channels_once_per_period(tmp_path, store):
    write_findings(store, [finding(1, severity="critical"), finding(2, severity="low")])
    with WebhookReceiver() as digest_hook, WebhookReceiver() as plain_hook:
        settings = alert_settings(tmp_path, [{"name": "digest", "url": digest_hook.url, "digest": True},
                                             {"name": "plain", "url": plain_hook.url}])  # fmt: skip
        sender = AlertSender(store, settings)
        assert asyncio.run(sender.enqueue_digest()) == 1
        assert asyncio.run(sender.enqueue_digest()) == 0
    digests = [r for r in digest_hook.received if r.body["scrapewatch"]["transition"] == "digest"]
    (d,) = digests
    assert d.body["title"] == "scrapewatch digest: 2 open incident(s)"
    assert d.body["scrapewatch"]["by_severity"] == {"critical": 1, "low": 1}
    assert "Open incidents: 1 critical, 1 low" in d.body["message"]
    assert not [r for r in plain_hook.received if r.body["scrapewatch"]["transition"] == "digest"]
    assert metrics.ALERTS_SENT.labels("digest")._value.get() >= 1


def test_backlog_metrics_count_from_the_commit_of_the_incident_change(tmp_path, store, clock):
    write_findings(store, [finding(1), finding(2, domain="b.example")])
    store.db.execute(
        "UPDATE alert_outbox SET created_at = ?", [(datetime.now(UTC) - timedelta(minutes=10)).isoformat()]
    )
    scraped = _scrape(store)
    assert scraped["scrapewatch_alert_outbox_depth"] == [({}, 2.0)]  # committed, not yet routed
    assert 590 < scraped["scrapewatch_alert_outbox_oldest_pending_seconds"][0][1] < 700
    with WebhookReceiver(status=503) as hook:
        drain(AlertSender(store, alert_settings(tmp_path, [{"name": "hook", "url": hook.url}]), clock=clock))
    scraped = _scrape(store)  # routed, failed once, waiting for the retry: still the age of the commit
    assert scraped["scrapewatch_alert_outbox_depth"] == [({}, 2.0)]
    assert 590 < scraped["scrapewatch_alert_outbox_oldest_pending_seconds"][0][1] < 700
    assert scraped["scrapewatch_alert_outbox_pending"] == [({}, 2.0)]
