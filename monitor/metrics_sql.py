"""The metric families the scrape-time collector reads from SQLite: cases, alert queues, the policy in force."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client.core import GaugeMetricFamily

from monitor.store.case_reads import case_counts
from monitor.store.verdicts import in_force_summary

__all__ = ["alert_metrics", "case_metrics", "policy_metrics"]


def case_metrics(conn) -> list:
    counts = case_counts(conn)
    by_status = GaugeMetricFamily("scrapewatch_cases", "Cases (not merged into another) by status.", labels=["status"])
    for status, n in counts["by_status"].items():
        by_status.add_metric([status], n)
    notices = GaugeMetricFamily(
        "scrapewatch_case_notices_sent", "Takedown notices recorded as sent, by recipient.", labels=["recipient"]
    )
    for recipient, n in counts["notices_sent"].items():
        notices.add_metric([recipient], n)
    takedowns = GaugeMetricFamily(
        "scrapewatch_case_takedowns_confirmed", "Cases whose takedown the re-check confirmed (taken_down_at set)."
    )
    takedowns.add_metric([], counts["takedowns_confirmed"])
    median = GaugeMetricFamily(
        "scrapewatch_case_time_to_takedown_seconds",
        "Median time from a case's first detection to its confirmed takedown (no sample before the first takedown).",
    )
    if counts["median_seconds"] is not None:
        median.add_metric([], counts["median_seconds"])
    return [by_status, notices, takedowns, median]


def alert_metrics(conn, depth, oldest, dead) -> None:
    (n, first) = conn.execute(
        "SELECT count(*), min(created_at) FROM ("
        "SELECT created_at FROM alert_outbox WHERE status = 'pending' AND routed_at IS NULL "
        "UNION ALL SELECT coalesce(o.created_at, d.created_at) FROM alert_deliveries d "
        "LEFT JOIN alert_outbox o ON o.id = d.outbox_id WHERE d.status = 'pending')"
    ).fetchone()
    depth.add_metric([], n)
    age = (datetime.now(UTC) - datetime.fromisoformat(first)).total_seconds() if first else 0.0
    oldest.add_metric([], max(0.0, age))
    for channel, count in conn.execute(
        "SELECT channel, sum(CASE WHEN status = 'dead' THEN n ELSE 0 END) FROM alert_delivery_counts GROUP BY channel"
    ):
        dead.add_metric([channel], count)


_RESTRICTION = {"none": 0, "partial": 1, "full": 2}


def policy_metrics(conn, allowed, restriction, contradictions, last_change, present) -> None:
    seen: set[tuple[str, str]] = set()
    per_domain: dict[str, int] = {}
    # A stored row of a group holds the verdicts of every agent of its set: one series per agent all the same.
    for domain, agent, path_class, ok, restr, contra in in_force_summary(conn):
        allowed.add_metric([domain, agent, path_class], ok)
        if (domain, agent) not in seen:
            seen.add((domain, agent))
            restriction.add_metric([domain, agent], _RESTRICTION[restr])
        per_domain[domain] = per_domain.get(domain, 0) + (1 if contra else 0)
    for domain, n in per_domain.items():
        contradictions.add_metric([domain], n)
    # One index seek per domain (a loose index scan over policy_verdicts_time), not a pass over the whole history.
    for domain, latest in conn.execute(
        "WITH RECURSIVE d(domain) AS (SELECT min(domain) FROM policy_verdicts UNION ALL "
        "SELECT (SELECT min(domain) FROM policy_verdicts WHERE domain > d.domain) FROM d WHERE d.domain IS NOT NULL) "
        "SELECT domain, (SELECT max(valid_from) FROM policy_verdicts p WHERE p.domain = d.domain) FROM d "
        "WHERE domain IS NOT NULL"
    ):
        last_change.add_metric([domain], datetime.fromisoformat(latest).timestamp())
    for domain, file, state in conn.execute(
        "SELECT domain, file, state FROM snapshots WHERE id IN (SELECT max(id) FROM snapshots GROUP BY domain, file)"
    ):
        present.add_metric([domain, file], 1 if state == "present" else 0)
