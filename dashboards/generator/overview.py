"""Overview: open incidents by severity and kind, new incidents over time, probe success, age of the last audit."""

from __future__ import annotations

from dashboards.generator.model import Dashboard, Link, Query, Row, or_zero, triage
from dashboards.generator.panels import (
    GREEN,
    ORANGE,
    RED,
    bargauge,
    bars,
    severity_overrides,
    stat,
    timeseries,
)

OPEN = "scrapewatch_incidents_open"
AUDIT_JOBS = 'job=~"policy_snapshot:.*"'
TRIAGE = Link("Triage page: open incidents", triage())


def incidents_row() -> Row:
    return Row(
        "Incidents",
        [
            stat(
                "Open incidents",
                "Incidents that are open or acknowledged, read from scrapewatch's SQLite at scrape time "
                f"(`{OPEN}`). 0 means nothing waits for triage. The link opens the triage page.",
                f"sum({OPEN}) or vector(0)",
                thresholds=[(None, GREEN), (1, ORANGE)],
                links=[TRIAGE],
            ),
            stat(
                "Critical open",
                "Open or acknowledged incidents of severity critical: a no-AI or canary track exposed, or a proxy "
                "serving SoundCloud audio. 0 means none; Prometheus also raises ScrapewatchCriticalIncidentOpen.",
                f'sum({OPEN}{{severity="critical"}}) or vector(0)',
                thresholds=[(None, GREEN), (1, RED)],
                links=[Link("Triage page: critical incidents", triage(severity="critical"))],
            ),
            stat(
                "High open",
                "Open or acknowledged incidents of severity high (policy regressions and breaches, API scrapers, "
                "mirrors). 0 means none.",
                f'sum({OPEN}{{severity="high"}}) or vector(0)',
                thresholds=[(None, GREEN), (1, ORANGE)],
                links=[Link("Triage page: high incidents", triage(severity="high"))],
            ),
            stat(
                "Prometheus alerts firing",
                "scrapewatch alerts that Prometheus itself raises from these metrics (dashboards/prometheus/"
                "rules.yml: daemon down, probes failing, stale audits, alert backlog, critical incident). "
                "0 means none fires.",
                'count(ALERTS{alertstate="firing", alertname=~"Scrapewatch.*"}) or vector(0)',
                thresholds=[(None, GREEN), (1, RED)],
            ),
            stat(
                "Probe success",
                "Share of (policy file, protected domain) probes whose latest answer was usable (2xx, or 4xx which "
                "means 'no such file'). Below 100% a file is unreachable somewhere (5xx, timeout, DNS, TLS).",
                "avg(scrapewatch_probe_success)",
                unit="percentunit",
                decimals=1,
                min=0,
                max=1,
                thresholds=[(None, RED), (0.9, ORANGE), (1, GREEN)],
                links=[Link("Triage page: unreachable policy files", triage(kind="policy_file_unreachable"))],
            ),
            stat(
                "Oldest policy audit",
                "Time since the least recent successful policy audit among the protected domains "
                "(`time() - scrapewatch_job_last_success_timestamp_seconds`). An audit older than two of its "
                "intervals raises ScrapewatchJobStale.",
                f"max(time() - scrapewatch_job_last_success_timestamp_seconds{{{AUDIT_JOBS}}})",
                unit="dtdurations",
                thresholds=[(None, GREEN), (7200, ORANGE), (86400, RED)],
            ),
            bargauge(
                "Open incidents by severity",
                "Open or acknowledged incidents per severity. Click a bar to open the triage page filtered to "
                "that severity. 'No data' means no incident is open.",
                f"sum by (severity) ({OPEN})",
                "{{severity}}",
                overrides=severity_overrides(),
                color_mode="fixed",
                data_links=[Link("Triage: ${__field.labels.severity}", triage(severity="${__field.labels.severity}"))],
                no_value="none open",
                h=9,
            ),
            bargauge(
                "Open incidents by kind",
                "Open or acknowledged incidents per kind (policy_* from the AI-usage audit, exposure_* from the "
                "watchlist, probe_health). Click a bar for the triage page of that kind. 'none open' means zero.",
                f"sum by (kind) ({OPEN})",
                "{{kind}}",
                data_links=[Link("Triage: ${__field.labels.kind}", triage(kind="${__field.labels.kind}"))],
                thresholds=[(None, ORANGE)],
                no_value="none open",
                w=16,
                h=9,
            ),
            bars(
                "New incidents by severity",
                "Incidents opened or reopened per interval, by severity (`increase()` of "
                "scrapewatch_incidents_opened_total, so daemon restarts do not show as drops). A bar at 0 labelled "
                "'none' means no incident has been opened since the daemon started. The first incident of a "
                "(kind, severity) after a daemon start is in 'Open incidents' but not here: Prometheus first sees "
                "its counter at 1.",
                Query(
                    or_zero(
                        "sum by (severity) (increase(scrapewatch_incidents_opened_total[$__rate_interval]))",
                        severity="none",
                    ),
                    "{{severity}}",
                ),
                overrides=severity_overrides(),
                data_links=[Link("Triage: ${__field.labels.severity}", triage(severity="${__field.labels.severity}"))],
            ),
            bars(
                "New incidents by kind",
                "Incidents opened or reopened per interval, by kind. A bar at 0 labelled 'none' means no incident "
                "has been opened since the daemon started (the first of a kind after a start is not counted: "
                "Prometheus first sees its counter at 1). Click a bar for the triage page of that kind.",
                Query(
                    or_zero(
                        "sum by (kind) (increase(scrapewatch_incidents_opened_total[$__rate_interval]))", kind="none"
                    ),
                    "{{kind}}",
                ),
                data_links=[Link("Triage: ${__field.labels.kind}", triage(kind="${__field.labels.kind}"))],
            ),
            timeseries(
                "Open incidents over time",
                "Open or acknowledged incidents by severity as they were at each moment: a falling line is triage "
                "work done or incidents resolving on their own (a file served again, a site clean for "
                "watch.resolve_after_clean_runs crawls).",
                Query(f"sum by (severity) ({OPEN})", "{{severity}}"),
                overrides=severity_overrides(),
                no_value="none open",
                data_links=[Link("Triage: ${__field.labels.severity}", triage(severity="${__field.labels.severity}"))],
                w=24,
            ),
        ],
    )


def probes_row() -> Row:
    return Row(
        "Probes and audits",
        [
            timeseries(
                "Probe success by domain",
                "Per protected domain, the share of its policy files (robots.txt, ai.txt, tdmrep.json, sampled "
                "pages, licences) whose latest probe got a usable answer. 100% is healthy; click a line for the "
                "domain's unreachable-file incidents.",
                Query("avg by (domain) (scrapewatch_probe_success)", "{{domain}}"),
                unit="percentunit",
                min=0,
                max=1,
                w=24,
                data_links=[
                    Link(
                        "Triage: unreachable files on ${__field.labels.domain}",
                        triage(kind="policy_file_unreachable", domain="${__field.labels.domain}"),
                    )
                ],
            ),
            bargauge(
                "Age of the last successful run, per job",
                "Time since each probe job (policy_snapshot:<domain>, exposure_watch:<site>) last completed "
                "without raising. Compare with the job's interval in 'Audit lag in intervals'.",
                "time() - scrapewatch_job_last_success_timestamp_seconds",
                "{{job}}",
                unit="dtdurations",
                thresholds=[(None, GREEN), (7200, ORANGE), (86400, RED)],
                w=12,
                h=10,
            ),
            bargauge(
                "Audit lag in intervals",
                "Time since each job's last success divided by its configured interval "
                "(scrapewatch_job_interval_seconds). Around 1 is normal; above 2 the job is overdue, /readyz turns "
                "503 and ScrapewatchJobStale fires.",
                "(time() - scrapewatch_job_last_success_timestamp_seconds)"
                " / on (instance, job) scrapewatch_job_interval_seconds",
                "{{job}}",
                decimals=2,
                thresholds=[(None, GREEN), (1.5, ORANGE), (2, RED)],
                w=12,
                h=10,
            ),
        ],
    )


def dashboard() -> Dashboard:
    return Dashboard(
        uid="scrapewatch-overview",
        title="scrapewatch / Overview",
        description="Open incidents by severity and kind, new incidents over time, probe success and audit age.",
        rows=[incidents_row(), probes_row()],
    )
