"""Daemon health: process, probe duration quantiles and errors by kind, scheduler lag, alert delivery and outbox."""

from __future__ import annotations

from dashboards.generator.model import Dashboard, Link, Query, Row, or_zero, triage
from dashboards.generator.panels import GREEN, ORANGE, RED, bargauge, bars, stat, timeseries

PROBE_BUCKETS = "scrapewatch_probe_request_duration_seconds_bucket"
LAG_BUCKETS = "scrapewatch_scheduler_lag_seconds_bucket"
UP = {1: ("up", GREEN), 0: ("down", RED)}


def quantiles(buckets: str, by: str = "", qs: tuple[float, ...] = (0.5, 0.9, 0.99)) -> list[Query]:
    labels = f"le, {by}" if by else "le"
    legend = f"p{{q}} {{{{{by}}}}}" if by else "p{q}"
    return [
        Query(
            f"histogram_quantile({q}, sum by ({labels}) (rate({buckets}[$__rate_interval])))",
            legend.format(q=f"{q * 100:g}"),
        )
        for q in qs
    ]


def process_row() -> Row:
    return Row(
        "Process",
        [
            stat(
                "Scraped",
                "Whether Prometheus reached scrapewatch's /metrics at the last scrape (`up`, job scrapewatch). "
                "'not scraped' means Prometheus has no such target; ScrapewatchDown fires after 5 minutes down.",
                'max(up{job="scrapewatch"})',
                mappings=UP,
                no_value="not scraped",
                thresholds=[(None, RED), (1, GREEN)],
            ),
            stat(
                "Database readable",
                "1 when the SQLite database could be read at scrape time (`scrapewatch_store_up`); when it cannot, "
                "every incident and policy gauge is missing and ScrapewatchStoreUnreadable fires after 5 minutes.",
                "min(scrapewatch_store_up)",
                mappings={1: ("readable", GREEN), 0: ("unreadable", RED)},
                thresholds=[(None, RED), (1, GREEN)],
            ),
            stat(
                "Uptime",
                "Time since the daemon process started (scrapewatch_process_start_time_seconds). A short uptime "
                "that keeps resetting is a crash loop.",
                "time() - max(scrapewatch_process_start_time_seconds)",
                unit="dtdurations",
                thresholds=[(None, ORANGE), (600, GREEN)],
            ),
            stat(
                "Version",
                "scrapewatch version and Python runtime of the running daemon (scrapewatch_build_info).",
                "max by (version, python) (scrapewatch_build_info)",
                legend="{{version}} (Python {{python}})",
                unit="none",
                color_mode="fixed",
                options={"textMode": "name", "graphMode": "none"},
                w=4,
            ),
            stat(
                "Alert dead letters",
                "Alert deliveries that exhausted their attempts, all channels (scrapewatch_alert_dead_letters). "
                "0 means none; otherwise `scrapewatch alerts list --failed`, then `scrapewatch alerts retry ID`.",
                "sum(scrapewatch_alert_dead_letters) or vector(0)",
                thresholds=[(None, GREEN), (1, RED)],
            ),
            stat(
                "Open probe-health incidents",
                "Open probe_health incidents: a probe job failed alerts.probe_failures runs in a row. 0 means every "
                "job recovered or never failed that often.",
                'sum(scrapewatch_incidents_open{kind="probe_health"}) or vector(0)',
                thresholds=[(None, GREEN), (1, ORANGE)],
                links=[Link("Triage: probe health", triage(kind="probe_health"))],
            ),
            timeseries(
                "Memory",
                "Resident and virtual memory of the daemon process (Chromium, when targets render, runs in its own "
                "processes and is not included).",
                Query("sum(scrapewatch_process_resident_memory_bytes)", "resident"),
                Query("sum(scrapewatch_process_virtual_memory_bytes)", "virtual"),
                unit="bytes",
                w=8,
            ),
            timeseries(
                "CPU",
                "CPU time used by the daemon process per second of wall time (1 = one full core).",
                Query("sum(rate(scrapewatch_process_cpu_seconds_total[$__rate_interval]))", "cpu"),
                unit="percentunit",
                min=0,
                w=8,
            ),
            timeseries(
                "Open file descriptors",
                "File descriptors open in the daemon as a share of its limit (scrapewatch_process_max_fds). "
                "Sockets of crawls and the database count; a steady climb is a leak.",
                Query("sum(scrapewatch_process_open_fds) / sum(scrapewatch_process_max_fds)", "used"),
                unit="percentunit",
                min=0,
                thresholds=[(None, GREEN), (0.8, RED)],
                w=8,
            ),
        ],
    )


def probes_row() -> Row:
    return Row(
        "Probes",
        [
            timeseries(
                "Probe request duration quantiles",
                "50th, 90th and 99th percentile of policy-file probe durations (histogram "
                "scrapewatch_probe_request_duration_seconds, all files and domains), including retries and the "
                "proxy. Gaps mean no probe ran in the interval.",
                *quantiles(PROBE_BUCKETS),
                unit="s",
            ),
            timeseries(
                "p90 probe duration by file",
                "90th percentile of probe durations per policy file (robots.txt, ai.txt, tdmrep.json, sampled "
                "pages, licences). Gaps mean the file was not probed in the interval.",
                *quantiles(PROBE_BUCKETS, by="probe", qs=(0.9,)),
                unit="s",
            ),
            bars(
                "Probe errors by kind",
                "Failed policy-file probes per interval by error kind (timeout, dns, refused, tls, connection, proxy, "
                "http_4xx, http_5xx, too_large, egress_refused, redirect_loop, other). 'none' at 0 means no probe "
                "failed in the range.",
                Query(
                    or_zero(
                        'sum by (outcome) (increase(scrapewatch_probes_total{outcome!="success"}[$__rate_interval]))',
                        outcome="none",
                    ),
                    "{{outcome}}",
                ),
                links=[Link("Triage: unreachable policy files", triage(kind="policy_file_unreachable"))],
            ),
            bargauge(
                "Latest probe duration by domain",
                "Slowest file of the latest probe of each protected domain (scrapewatch_probe_duration_seconds). "
                "A value near http.timeout_seconds means a file timed out.",
                "max by (domain) (scrapewatch_probe_duration_seconds)",
                "{{domain}}",
                unit="s",
                thresholds=[(None, GREEN), (5, ORANGE), (20, RED)],
                w=12,
            ),
        ],
    )


def scheduler_row() -> Row:
    return Row(
        "Scheduler and database",
        [
            timeseries(
                "Scheduler lag quantiles",
                "How late scheduled jobs started compared with their planned time (histogram "
                "scrapewatch_scheduler_lag_seconds): 50th and 99th percentile. Seconds are normal (jitter is not "
                "lag); minutes mean the event loop is starved.",
                *quantiles(LAG_BUCKETS, qs=(0.5, 0.99)),
                unit="s",
                w=8,
            ),
            timeseries(
                "Event-loop lag",
                "How late the event loop woke a task that slept 0.5 s (histogram scrapewatch_event_loop_lag_seconds, "
                "50th and 99th percentile) and the largest lag of the last minute "
                "(scrapewatch_event_loop_lag_max_seconds). Milliseconds are normal; a second means the loop was "
                "blocked: HTTP, scheduling and every crawl waited.",
                *quantiles("scrapewatch_event_loop_lag_seconds_bucket", qs=(0.5, 0.99)),
                Query("max(scrapewatch_event_loop_lag_max_seconds)", "max (last minute)"),
                unit="s",
                w=8,
            ),
            bars(
                "Job runs by result",
                "Scheduled probe-job executions per interval by result: ok, or error (the job raised; logged, "
                "counted, and the daemon kept running).",
                Query("sum by (result) (increase(scrapewatch_job_runs_total[$__rate_interval]))", "{{result}}"),
                overrides=[
                    {
                        "matcher": {"id": "byName", "options": "error"},
                        "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": RED}}],
                    },
                ],
                w=8,
            ),
            bars(
                "Jobs that raised",
                "Scheduled jobs that raised per interval, by job (scrapewatch_scheduler_job_errors_total). 'none' at 0 "
                "means no job raised in the range; otherwise the daemon's log has the traceback.",
                Query(
                    or_zero(
                        "sum by (job) (increase(scrapewatch_scheduler_job_errors_total[$__rate_interval]))", job="none"
                    ),
                    "{{job}}",
                ),
                w=8,
            ),
            timeseries(
                "Database write duration",
                "99th and 50th percentile of one probe-result transaction (histogram "
                "scrapewatch_db_write_duration_seconds): observations, snapshots, incidents and outbox rows of one "
                "run. Seconds mean lock contention (storage.busy_timeout_ms) or a slow disk.",
                *quantiles("scrapewatch_db_write_duration_seconds_bucket", qs=(0.5, 0.99)),
                unit="s",
            ),
            bars(
                "Incident transitions",
                "Incident transitions written by probes and the alert sender per interval, by action (opened, "
                "updated, escalated, reopened, resolved). 'none' at 0 means no transition since the daemon started.",
                Query(
                    or_zero(
                        "sum by (action) (increase(scrapewatch_incident_transitions_total[$__rate_interval]))",
                        action="none",
                    ),
                    "{{action}}",
                ),
            ),
        ],
    )


def alerts_row() -> Row:
    return Row(
        "Alert delivery",
        [
            timeseries(
                "Outbox depth",
                "Alerts waiting to be sent (scrapewatch_alert_outbox_depth: pending deliveries plus outbox rows not "
                "yet routed) and outbox rows not yet delivered to every channel (scrapewatch_alert_outbox_pending). "
                "0 is the normal state between drains.",
                Query("sum(scrapewatch_alert_outbox_depth)", "waiting to be sent"),
                Query("sum(scrapewatch_alert_outbox_pending)", "outbox rows pending"),
                w=8,
            ),
            timeseries(
                "Oldest waiting alert",
                "Age of the oldest alert still waiting, counted from the commit of its incident change (0 when none "
                "waits). Above 15 minutes ScrapewatchAlertBacklog fires.",
                Query("max(scrapewatch_alert_outbox_oldest_pending_seconds)", "oldest"),
                unit="s",
                thresholds=[(None, GREEN), (900, RED)],
                custom={"thresholdsStyle": {"mode": "line"}},
                w=8,
            ),
            bars(
                "Alerts by channel",
                "Per channel and interval: messages a channel accepted (sent; a grouped message counts once), send "
                "attempts it refused (failed, retried with backoff until a dead letter) and alerts held by a mute.",
                Query(
                    "sum by (channel) (increase(scrapewatch_alerts_sent_total[$__rate_interval]))", "{{channel}} sent"
                ),
                Query(
                    "sum by (channel) (increase(scrapewatch_alerts_failed_total[$__rate_interval]))",
                    "{{channel}} failed",
                ),
                Query(
                    "sum by (channel) (increase(scrapewatch_alerts_muted_total[$__rate_interval]))", "{{channel}} muted"
                ),
                w=8,
            ),
        ],
    )


def workers_row() -> Row:
    """Crawl workers on Redis (distributed.redis_url): all zero when the daemon crawls in its own process."""
    return Row(
        "Workers",
        [
            stat(
                "Workers up",
                "Workers Prometheus reached at the last scrape (job scrapewatch-workers, found by DNS: compose's "
                "`worker` service, however far it is scaled). 0 without workers (single-process daemon).",
                'count(up{job="scrapewatch-workers"} == 1) or vector(0)',
                thresholds=[(None, ORANGE), (1, GREEN)],
            ),
            stat(
                "Queue depth",
                "Crawl jobs in the Redis stream, waiting or taken (scrapewatch_queue_depth, from the coordinator).",
                "sum(scrapewatch_queue_depth)",
                thresholds=[(None, GREEN), (50, ORANGE)],
            ),
            stat(
                "Oldest queued job",
                "Age of the oldest job in the stream. Above distributed.stall_seconds /readyz is unready: workers "
                "are missing, stuck or too few.",
                "max(scrapewatch_queue_oldest_job_age_seconds)",
                unit="s",
                thresholds=[(None, GREEN), (300, ORANGE), (600, RED)],
            ),
            stat(
                "Jobs running",
                "Jobs the workers are running now (scrapewatch_worker_jobs_running, all workers).",
                "sum(scrapewatch_worker_jobs_running)",
                thresholds=[(None, GREEN)],
            ),
            stat(
                "Reclaimed jobs",
                "Jobs taken over from a worker that stopped heart-beating (killed, out of memory, machine gone) in the "
                "range. Each one ran again elsewhere; its run was stored once.",
                "sum(increase(scrapewatch_worker_jobs_reclaimed_total[$__range]))",
                thresholds=[(None, GREEN), (1, ORANGE)],
            ),
            stat(
                "Chromium starts",
                "Browsers started by workers in the range (one per rendered job).",
                "sum(increase(scrapewatch_worker_chromium_restarts_total[$__range]))",
                thresholds=[(None, GREEN)],
            ),
            timeseries(
                "Jobs per second",
                "Jobs taken by the workers, and results the coordinator applied, per second. Taken above applied for "
                "long means results are lost or late.",
                Query("sum(rate(scrapewatch_worker_jobs_taken_total[$__rate_interval]))", "taken"),
                Query(
                    or_zero('sum(rate(scrapewatch_queue_results_total{outcome="applied"}[$__rate_interval]))'),
                    "applied",
                ),
                w=8,
            ),
            bars(
                "Job failures by reason",
                "Per interval: worker failures (error: retried; deadline; too_large; dead_letter: failed "
                "distributed.max_attempts times) and results the coordinator dropped as duplicates.",
                Query(
                    or_zero(
                        "sum by (reason) (increase(scrapewatch_worker_jobs_failed_total[$__rate_interval]))",
                        reason="none",
                    ),
                    "{{reason}}",
                ),
                Query(
                    or_zero('sum(increase(scrapewatch_queue_results_total{outcome="duplicate"}[$__rate_interval]))'),
                    "duplicate",
                ),
                w=8,
            ),
            timeseries(
                "Worker busy time by spider",
                "Seconds of crawling per second, by spider (scrapewatch_worker_job_duration_seconds_sum): about the "
                "number of busy worker slots. Divide by the jobs-per-second panel for seconds per job.",
                Query(
                    or_zero(
                        "sum by (spider) (rate(scrapewatch_worker_job_duration_seconds_sum[$__rate_interval]))",
                        spider="none",
                    ),
                    "{{spider}}",
                ),
                unit="s",
                w=8,
            ),
        ],
    )


def dashboard() -> Dashboard:
    return Dashboard(
        uid="scrapewatch-daemon",
        title="scrapewatch / Daemon health",
        description="Process, probe durations and errors, scheduler lag, database writes, alert outbox, workers.",
        rows=[process_row(), probes_row(), scheduler_row(), alerts_row(), workers_row()],
        time_from="now-3h",
    )
