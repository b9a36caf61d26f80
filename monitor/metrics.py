"""Every Prometheus metric scrapewatch exports, and the collector that reads SQLite at scrape time."""

from __future__ import annotations

import logging
import platform
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, ProcessCollector
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from monitor import __version__
from monitor.metrics_sql import alert_metrics as _alert_metrics
from monitor.metrics_sql import case_metrics as _case_metrics
from monitor.metrics_sql import policy_metrics as _policy_metrics

log = logging.getLogger(__name__)

# One registry for the process: tests build their own daemon in-process, so the default global registry
# (which would also carry Python process metrics of the test runner) is not used for our metrics.
REGISTRY = CollectorRegistry(auto_describe=True)

ProcessCollector(namespace="scrapewatch", registry=REGISTRY)  # memory and CPU of the daemon

BUILD_INFO = Info("scrapewatch_build", "scrapewatch version and Python runtime.", registry=REGISTRY)
BUILD_INFO.info({"version": __version__, "python": platform.python_version()})

# Blackbox-exporter style: the outcome of the latest probe of each (probe, domain).
PROBE_SUCCESS = Gauge(
    "scrapewatch_probe_success",
    "1 if the latest probe of this file on this domain got a usable answer (2xx or 4xx), else 0.",
    ["probe", "domain"],
    registry=REGISTRY,
)
PROBE_DURATION = Gauge(
    "scrapewatch_probe_duration_seconds",
    "Duration of the latest probe of this file on this domain.",
    ["probe", "domain"],
    registry=REGISTRY,
)
PROBE_STATUS = Gauge(
    "scrapewatch_probe_http_status_code",
    "HTTP status of the latest probe (0 when no response arrived).",
    ["probe", "domain"],
    registry=REGISTRY,
)
PROBES = Counter(
    "scrapewatch_probes_total",
    "Probes by outcome: 'success' or a bounded error kind (timeout, dns, refused, tls, http_5xx, ...).",
    ["probe", "outcome"],
    registry=REGISTRY,
)
PROBE_LATENCY = Histogram(
    "scrapewatch_probe_request_duration_seconds",
    "Distribution of probe request durations.",
    ["probe"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
POLICY_SNAPSHOTS = Counter(
    "scrapewatch_policy_versions_total",
    "New versions (content or state changes) of policy files recorded.",
    ["probe", "domain"],
    registry=REGISTRY,
)
INCIDENTS_OPENED = Counter(
    "scrapewatch_incidents_opened_total",
    "Incidents opened or reopened.",
    ["kind", "severity"],
    registry=REGISTRY,
)
INCIDENT_TRANSITIONS = Counter(
    "scrapewatch_incident_transitions_total",
    "Incident transitions written by probes (opened, updated, escalated, reopened, resolved).",
    ["action"],
    registry=REGISTRY,
)
JOB_RUNS = Counter(
    "scrapewatch_job_runs_total",
    "Scheduled job executions by result (ok, error).",
    ["job", "result"],
    registry=REGISTRY,
)
JOB_ERRORS = Counter(
    "scrapewatch_scheduler_job_errors_total",
    "Scheduled jobs that raised (logged, counted, and the daemon kept running).",
    ["job"],
    registry=REGISTRY,
)
JOB_LAST_SUCCESS = Gauge(
    "scrapewatch_job_last_success_timestamp_seconds",
    "Unix time of the last run of a job that completed without raising.",
    ["job"],
    registry=REGISTRY,
)
JOB_LAG = Histogram(
    "scrapewatch_scheduler_lag_seconds",
    "How late a scheduled job started compared with its planned time.",
    buckets=(0.01, 0.1, 0.5, 1, 5, 15, 60, 300),
    registry=REGISTRY,
)
EVENT_LOOP_LAG = Histogram(
    "scrapewatch_event_loop_lag_seconds",
    "How late the event loop woke a task that slept 0.5 s: the time the loop was blocked by other work.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
EVENT_LOOP_LAG_MAX = Gauge(
    "scrapewatch_event_loop_lag_max_seconds",
    "The largest event-loop lag observed in the last minute.",
    registry=REGISTRY,
)
DB_WRITE_SECONDS = Histogram(
    "scrapewatch_db_write_duration_seconds",
    "Duration of one probe-result transaction.",
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5),
    registry=REGISTRY,
)
# Exposure hunt: what the signature engine saw (info matches included: legitimate embeds are counted, not alerted).
EXPOSURE_MATCHES = Counter(
    "scrapewatch_exposure_matches_total",
    "Signature matches on third-party pages, by reference signature id and final severity.",
    ["signature", "severity"],
    registry=REGISTRY,
)
EXPOSURE_PAGES = Counter(
    "scrapewatch_exposure_pages_total",
    "Watch-target pages scanned (ok) or that did not answer (failed).",
    ["target", "outcome"],
    registry=REGISTRY,
)
EXPOSURE_BYTES = Counter(
    "scrapewatch_exposure_bytes_total",
    "Bytes received from watch targets by resource kind (page, script, playlist, audio, sitemap); a rendered page "
    "counts its serialised DOM.",
    ["target", "kind"],
    registry=REGISTRY,
)
EXPOSURE_RENDER_SECONDS = Histogram(
    "scrapewatch_exposure_render_seconds",
    "Time to render one watch-target page in Chromium (navigation, settling, screenshot, DOM), failed renders "
    "included.",
    ["target"],
    buckets=(0.25, 0.5, 1, 2, 4, 8, 15, 30, 60),
    registry=REGISTRY,
)
EXPOSURE_AUDIO_FILES = Counter(
    "scrapewatch_exposure_audio_files_total",
    "Audio files inspected on watch targets by outcome (tagged, untagged, not_audio, error).",
    ["target", "outcome"],
    registry=REGISTRY,
)
EXPOSURE_TARGET_UP = Gauge(
    "scrapewatch_exposure_target_up",
    "1 if at least one page of the latest crawl of this watch target answered, else 0.",
    ["target"],
    registry=REGISTRY,
)
ALERTS_SENT = Counter(
    "scrapewatch_alerts_sent_total",
    "Messages a channel accepted (a grouped message counts once; dry runs are not counted).",
    ["channel"],
    registry=REGISTRY,
)
ALERTS_FAILED = Counter(
    "scrapewatch_alerts_failed_total",
    "Send attempts a channel did not accept (error answer, refused connection, timeout).",
    ["channel"],
    registry=REGISTRY,
)
ALERTS_MUTED = Counter(
    "scrapewatch_alerts_muted_total",
    "Alerts recorded but not sent because a mute held them.",
    ["channel"],
    registry=REGISTRY,
)
JOB_INTERVAL = Gauge(
    "scrapewatch_job_interval_seconds",
    "Configured interval of a scheduled job (for 'no success in two intervals' alert rules).",
    ["job"],
    registry=REGISTRY,
)

# Scraping probes (labels: service = a configured downloader, source = wayback | common_crawl | the hub's name).
CANARY_PROBES = Counter(
    "scrapewatch_canary_probes_total",
    "Canary probes of downloader services by outcome (delivered, delivered_unknown, not_delivered, recipe_broken).",
    ["service", "outcome"],
    registry=REGISTRY,
)
ARCHIVE_CAPTURES = Counter(
    "scrapewatch_archive_captures_found_total",
    "Archive captures of SoundCloud audio or of downloader pages handling SoundCloud links, new to the store.",
    ["source"],
    registry=REGISTRY,
)
DATASET_ROWS = Counter(
    "scrapewatch_dataset_rows_found_total",
    "Growth of the SoundCloud track references counted in hub datasets (new listings count in full).",
    ["source"],
    registry=REGISTRY,
)
SCRAPING_API_ERRORS = Counter(
    "scrapewatch_scraping_api_errors_total",
    "Archive and dataset API problems by kind (rate_limited, http_5xx, timeout, malformed_json, bad_encoding, "
    "truncated, pagination_loop, ...).",
    ["source", "kind"],
    registry=REGISTRY,
)


# Coordinator / workers on Redis (distributed.redis_url). Queue gauges are refreshed by the coordinator every second.
_R = {"registry": REGISTRY}
QUEUE_DEPTH = Gauge("scrapewatch_queue_depth", "Crawl jobs in the Redis stream (waiting or taken).", **_R)
QUEUE_TAKEN = Gauge("scrapewatch_queue_taken", "Crawl jobs taken by a worker and not yet finished.", **_R)
QUEUE_OLDEST_AGE = Gauge("scrapewatch_queue_oldest_job_age_seconds", "Age of the oldest job in the stream.", **_R)
QUEUE_SUBMITTED = Counter("scrapewatch_queue_jobs_submitted_total", "Crawl jobs the coordinator queued.", **_R)
QUEUE_RESUBMITTED = Counter(
    "scrapewatch_queue_jobs_resubmitted_total", "Jobs queued again because Redis lost them (a restart).", **_R
)
QUEUE_RESULTS = Counter(
    "scrapewatch_queue_results_total",
    "Results read by the coordinator: applied (handed to its run), failed, deadline, dead_letter, duplicate, "
    "malformed.",
    ["outcome"],
    **_R,
)
WORKER_TAKEN = Counter("scrapewatch_worker_jobs_taken_total", "Jobs this worker took (new or reclaimed).", **_R)
WORKER_RECLAIMED = Counter(
    "scrapewatch_worker_jobs_reclaimed_total", "Jobs this worker took over from a worker that went silent.", **_R
)
WORKER_RUNNING = Gauge("scrapewatch_worker_jobs_running", "Jobs this worker is running now.", **_R)
WORKER_FAILED = Counter(
    "scrapewatch_worker_jobs_failed_total",
    "Jobs that failed on this worker, by reason: error, deadline, too_large, dead_letter.",
    ["reason"],
    **_R,
)
WORKER_JOB_SECONDS = Histogram(
    "scrapewatch_worker_job_duration_seconds",
    "Seconds per job on this worker by spider (lease wait excluded).",
    ["spider"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
    **_R,
)
WORKER_LEASE_WAIT = Histogram(
    "scrapewatch_worker_lease_wait_seconds", "Seconds a job waited for its domains' politeness leases.", **_R
)
WORKER_CHROMIUM_STARTS = Counter(
    "scrapewatch_worker_chromium_restarts_total",
    "Chromium started for a rendered job (each rendered job starts a fresh browser, so a crash never outlives it).",
    **_R,
)


def count_transitions(transitions: Iterable[Any]) -> None:
    """Count incident transitions a probe (or the probe-health check) wrote, and the incidents they opened."""
    for t in transitions:
        INCIDENT_TRANSITIONS.labels(t.action).inc()
        if t.action in ("opened", "reopened") and t.finding is not None:
            INCIDENTS_OPENED.labels(t.finding.kind, t.severity).inc()


class StoreCollector(Collector):
    """Reads incident and outbox state from SQLite at scrape time; a database problem yields
    ``scrapewatch_store_up 0`` instead of an exception (a scrape must never fail)."""

    def __init__(self, open_connection: Callable[[], sqlite3.Connection]):
        self._open = open_connection

    def describe(self) -> list:
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("scrapewatch_store_up", "1 if the database could be read at scrape time.")
        open_incidents = GaugeMetricFamily(
            "scrapewatch_incidents_open",
            "Incidents that are open or acknowledged, by kind and severity.",
            labels=["kind", "severity"],
        )
        outbox = GaugeMetricFamily(
            "scrapewatch_alert_outbox_pending", "Alert rows waiting in the outbox to be delivered."
        )
        allowed = GaugeMetricFamily(
            "scrapewatch_policy_crawl_allowed",
            "1 if robots.txt lets this AI agent crawl this path class on this domain (current verdict).",
            labels=["domain", "agent", "path_class"],
        )
        restriction = GaugeMetricFamily(
            "scrapewatch_policy_restriction",
            "How restricted an AI agent is on a domain: 0 none, 1 partial, 2 full (every path class disallowed).",
            labels=["domain", "agent"],
        )
        contradictions = GaugeMetricFamily(
            "scrapewatch_policy_contradictions",
            "Verdict cells whose usage signals contradict each other, per domain.",
            labels=["domain"],
        )
        last_change = GaugeMetricFamily(
            "scrapewatch_policy_last_change_timestamp_seconds",
            "Unix time of the latest change of the verdict matrix of a domain.",
            labels=["domain"],
        )
        present = GaugeMetricFamily(
            "scrapewatch_policy_signal_present",
            "1 if the latest fetch of this policy file on this domain returned it (2xx).",
            labels=["domain", "signal"],
        )
        depth = GaugeMetricFamily(
            "scrapewatch_alert_outbox_depth",
            "Alerts waiting to be sent: pending deliveries plus outbox rows not yet routed to channels.",
        )
        oldest = GaugeMetricFamily(
            "scrapewatch_alert_outbox_oldest_pending_seconds",
            "Seconds since the incident change of the oldest alert still waiting to be sent was committed (0: none).",
        )
        dead = GaugeMetricFamily(
            "scrapewatch_alert_dead_letters",
            "Deliveries that exhausted their attempts (see `scrapewatch alerts list --failed`), by channel.",
            labels=["channel"],
        )
        try:
            conn = self._open()
            try:
                for kind, severity, n in conn.execute(  # counts kept by triggers (migration 0012)
                    "SELECT kind, severity, sum(n) FROM incident_counts "
                    "WHERE status IN ('open', 'acknowledged') GROUP BY kind, severity"
                ):
                    open_incidents.add_metric([kind, severity], n)
                (pending,) = conn.execute("SELECT count(*) FROM alert_outbox WHERE status = 'pending'").fetchone()
                outbox.add_metric([], pending)
                _alert_metrics(conn, depth, oldest, dead)
                _policy_metrics(conn, allowed, restriction, contradictions, last_change, present)
                cases = _case_metrics(conn)
            finally:
                conn.close()
            up.add_metric([], 1)
        except Exception as exc:  # a scrape must never fail because of the database
            log.warning("metrics: cannot read the database: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        yield up
        yield open_incidents
        yield outbox
        yield depth
        yield oldest
        yield dead
        yield allowed
        yield restriction
        yield contradictions
        yield last_change
        yield present
        yield from cases
