"""Exposure & scraping: open exposure incidents, signature matches by signature and severity, watched sites, and
the scraping probes (downloader canaries, archive captures, dataset listings, API errors), and the cases they add
up to (cases by status, notices, takedowns).

Each part is one row: a function returning a ``Row``, listed in ``dashboard()``."""

from __future__ import annotations

from dashboards.generator.cases import cases_row
from dashboards.generator.model import Dashboard, Link, Query, Row, or_zero, triage
from dashboards.generator.panels import (
    BLUE,
    GREEN,
    ORANGE,
    RED,
    bargauge,
    bars,
    field_link,
    rename_columns,
    severity_overrides,
    stat,
    state_timeline,
    table,
    timeseries,
)

EXPOSURE = 'kind=~"exposure_.*"'
OPEN = f"scrapewatch_incidents_open{{{EXPOSURE}}}"
MATCHES = "scrapewatch_exposure_matches_total"
PAGES = "scrapewatch_exposure_pages_total"


def incidents_row() -> Row:
    return Row(
        "Open exposure incidents",
        [
            stat(
                "Open exposure incidents",
                "Open or acknowledged exposure_* incidents: third-party sites found linking, proxying, mirroring or "
                "re-hosting SoundCloud audio. 0 means none. The link opens the triage page (most severe first).",
                f"sum({OPEN}) or vector(0)",
                thresholds=[(None, GREEN), (1, ORANGE)],
                links=[Link("Triage page", triage())],
            ),
            stat(
                "Critical exposure incidents",
                "Open exposure incidents of severity critical: a no-AI or canary track of the catalogue is exposed, "
                "or SoundCloud's media CDN or streams are served through a third party. 0 means none.",
                f'sum(scrapewatch_incidents_open{{{EXPOSURE}, severity="critical"}}) or vector(0)',
                thresholds=[(None, GREEN), (1, RED)],
                links=[Link("Triage page: critical incidents", triage(severity="critical"))],
            ),
            bargauge(
                "Open exposure incidents by kind",
                "Open or acknowledged exposure incidents per kind (signature family: cdn_media, proxy, downloader, "
                "mirror, api_scraper, file_tags, drm, private_token). Click a bar for the triage page of that kind.",
                f"sum by (kind) ({OPEN})",
                "{{kind}}",
                thresholds=[(None, ORANGE)],
                no_value="none open",
                data_links=[Link("Triage: ${__field.labels.kind}", triage(kind="${__field.labels.kind}"))],
            ),
            bargauge(
                "Open exposure incidents by severity",
                "Open or acknowledged exposure incidents per severity. Click a bar for the triage page of that "
                "severity.",
                f"sum by (severity) ({OPEN})",
                "{{severity}}",
                overrides=severity_overrides(),
                color_mode="fixed",
                no_value="none open",
                data_links=[Link("Triage: ${__field.labels.severity}", triage(severity="${__field.labels.severity}"))],
            ),
        ],
    )


def findings_row() -> Row:
    return Row(
        "Findings by signature and severity",
        [
            table(
                "Signature matches",
                "Matches of each reference signature (SC-..., monitor/signatures/SIGNATURES.md) on watched pages, "
                "with their final severity (info: a legitimate pattern such as the official widget, counted but "
                "never alerted): since the daemon started (exact) and in the selected time range (increase(); the "
                "first match of a signature after a daemon start is not in it, as Prometheus first sees that counter "
                "at 1). Click a signature to search the triage page (incident titles name the signature that "
                "opened them).",
                Query(f"sum by (signature, severity) ({MATCHES})", instant=True, table=True),
                Query(f"sum by (signature, severity) (increase({MATCHES}[$__range]))", instant=True, table=True),
                decimals=0,
                transformations=[
                    {"id": "merge", "options": {}},
                    rename_columns({"Value #A": "since daemon start", "Value #B": "in time range"}),
                    {"id": "sortBy", "options": {"sort": [{"field": "since daemon start", "desc": True}]}},
                ],
                overrides=[field_link("signature", Link("Triage: ${__value.raw}", triage(q="${__value.raw}")))],
            ),
            bars(
                "Matches by severity",
                "Signature matches per interval by final severity. Info matches are legitimate embeds (widget, "
                "oEmbed, artwork, share links) and never alert. A bar at 0 labelled 'none' means no watched page has "
                "been scanned with a match since the daemon started.",
                Query(
                    or_zero(f"sum by (severity) (increase({MATCHES}[$__rate_interval]))", severity="none"),
                    "{{severity}}",
                ),
                overrides=severity_overrides(),
            ),
            bars(
                "Matches by signature (low and up)",
                "Signature matches of severity low and up per interval, by signature: what opens or updates exposure "
                "incidents. 'none' at 0 means no such match since the daemon started.",
                Query(
                    or_zero(
                        f'sum by (signature) (increase({MATCHES}{{severity!="info"}}[$__rate_interval]))',
                        signature="none",
                    ),
                    "{{signature}}",
                ),
                data_links=[Link("Triage: ${__field.labels.signature}", triage(q="${__field.labels.signature}"))],
                w=24,
            ),
        ],
    )


def sites_row() -> Row:
    ok = Query(f'sum by (target) ({PAGES}{{outcome="ok"}})', instant=True, table=True)
    failed = Query(f'sum by (target) ({PAGES}{{outcome="failed"}})', instant=True, table=True)
    age = Query(
        "min by (target) (time() - label_replace("
        'scrapewatch_job_last_success_timestamp_seconds{job=~"exposure_watch:.*"}, "target", "$1", "job", '
        '"exposure_watch:(.*)"))',
        instant=True,
        table=True,
    )
    return Row(
        "Watched sites",
        [
            table(
                "Watched sites",
                "Per watch target (watch.targets[].name): pages scanned and pages that did not answer since the "
                "daemon started, and the time since its last completed crawl. Incidents are per site: click a "
                "target to search the triage page for it (exposure incident titles start with the site's host; "
                "the signature-match counter carries no site label).",
                ok,
                failed,
                age,
                transformations=[
                    {"id": "merge", "options": {}},
                    rename_columns({"Value #A": "pages scanned", "Value #B": "pages failed", "Value #C": "last crawl"}),
                ],
                overrides=[
                    field_link("target", Link("Triage: ${__value.raw}", triage(q="${__value.raw}"))),
                    {
                        "matcher": {"id": "byName", "options": "last crawl"},
                        "properties": [{"id": "unit", "value": "dtdurations"}],
                    },
                    {
                        "matcher": {"id": "byName", "options": "pages failed"},
                        "properties": [
                            {"id": "custom.cellOptions", "value": {"type": "color-text"}},
                            {
                                "id": "thresholds",
                                "value": {
                                    "mode": "absolute",
                                    "steps": [{"color": GREEN, "value": None}, {"color": RED, "value": 1}],
                                },
                            },
                        ],
                    },
                ],
                decimals=0,
            ),
            bars(
                "Pages that did not answer, per site",
                "Watched pages per interval that did not answer (timeout, refused, error status), by target. A crawl "
                "in which no page answered counts as a probe failure, never as a clean run. 'none' at 0 means no "
                "page failed since the daemon started.",
                Query(
                    or_zero(
                        f'sum by (target) (increase({PAGES}{{outcome="failed"}}[$__rate_interval]))', target="none"
                    ),
                    "{{target}}",
                ),
                thresholds=[(None, BLUE)],
            ),
        ],
    )


def crawls_row() -> Row:
    return Row(
        "Watch crawls",
        [
            state_timeline(
                "Watch targets answering",
                "Per watch target: whether at least one page of its latest crawl answered (up) or none did / the "
                "crawl could not run (down: a probe failure, never a clean run).",
                Query("max by (target) (scrapewatch_exposure_target_up)", "{{target}}"),
                mappings={1: ("up", GREEN), 0: ("down", RED)},
            ),
            bars(
                "Bytes crawled per target",
                "Bytes received from watched sites per interval, by target (pages, scripts, playlists, sitemaps and "
                "the capped heads of audio files).",
                Query("sum by (target) (increase(scrapewatch_exposure_bytes_total[$__rate_interval]))", "{{target}}"),
                unit="bytes",
            ),
            timeseries(
                "Render time (p50 / p90)",
                "Time to render one page in Chromium (navigation, settling, screenshot, DOM read) for targets with "
                "render: true, failed renders included. 'none' at 0 means no page was rendered in the range.",
                Query(
                    or_zero(
                        "histogram_quantile(0.5, sum by (le) "
                        "(rate(scrapewatch_exposure_render_seconds_bucket[$__rate_interval])))",
                        quantile="none",
                    ),
                    "p50",
                ),
                Query(
                    or_zero(
                        "histogram_quantile(0.9, sum by (le) "
                        "(rate(scrapewatch_exposure_render_seconds_bucket[$__rate_interval])))",
                        quantile="none",
                    ),
                    "p90",
                ),
                unit="s",
            ),
            bargauge(
                "Audio files inspected, by outcome",
                "Linked audio files whose head was read since the daemon started: tagged (ID3 / Vorbis / MP4 tags "
                "present: SC-FILE-PURL looks there), untagged (like a raw SoundCloud stream), not_audio (named like "
                "audio but is not), error (unreadable head). 'none' at 0 means no audio file was linked.",
                or_zero("sum by (outcome) (scrapewatch_exposure_audio_files_total)", outcome="none"),
                "{{outcome}}",
                thresholds=[(None, BLUE)],
                w=12,
            ),
        ],
    )


CANARY = "scrapewatch_canary_probes_total"
CAPTURES = "scrapewatch_archive_captures_found_total"
ROWS = "scrapewatch_dataset_rows_found_total"
API_ERRORS = "scrapewatch_scraping_api_errors_total"


def scraping_row() -> Row:
    return Row(
        "Scraping probes: canaries, archives, datasets",
        [
            stat(
                "Canary deliveries open",
                "Open canary_delivered incidents: a downloader service handed out SoundCloud audio for a canary "
                "track of the catalogue (always critical). 0 means no service delivered a canary.",
                'sum(scrapewatch_incidents_open{kind="canary_delivered"}) or vector(0)',
                thresholds=[(None, GREEN), (1, RED)],
                links=[Link("Triage page: canary deliveries", triage(kind="canary_delivered"))],
            ),
            bargauge(
                "Canary probes by service and outcome",
                "Canary probes since the daemon started, per downloader service (scraping.downloaders[].name) and "
                "outcome: delivered (the service gave out the canary's audio), not_delivered, recipe_broken (the "
                "form or page changed: a probe_health incident). 'none' at 0 means no canary probe ran yet.",
                or_zero(f"sum by (service, outcome) ({CANARY})", service="none", outcome="none"),
                "{{service}} {{outcome}}",
                thresholds=[(None, BLUE)],
                data_links=[Link("Triage: ${__field.labels.service}", triage(q="${__field.labels.service}"))],
            ),
            bargauge(
                "Archive captures found, by source",
                "New archive captures of SoundCloud audio or of downloader pages handling SoundCloud links since "
                "the daemon started, by index (wayback, common_crawl). Only captures new to the store count; a "
                "re-run that finds nothing new adds 0. 'none' at 0 means none found yet.",
                or_zero(f"sum by (source) ({CAPTURES})", source="none"),
                "{{source}}",
                thresholds=[(None, ORANGE)],
                data_links=[Link("Triage: archive captures", triage(kind="archive_audio_capture"))],
            ),
            bargauge(
                "Dataset rows found, by hub",
                "Growth of the SoundCloud track references counted in hub datasets since the daemon started (a new "
                "listing counts in full). 'none' at 0 means no dataset listing SoundCloud tracks was found yet.",
                or_zero(f"sum by (source) ({ROWS})", source="none"),
                "{{source}}",
                thresholds=[(None, ORANGE)],
                data_links=[Link("Triage: dataset listings", triage(kind="dataset_listing"))],
                w=4,
            ),
            bars(
                "Scraping API errors",
                "Archive and dataset API problems per interval, by source and kind (rate_limited, http_5xx, "
                "timeout, malformed_json, truncated, pagination_loop, ...). 'none' at 0 means no error since the "
                "daemon started.",
                Query(
                    or_zero(
                        f"sum by (source, kind) (increase({API_ERRORS}[$__rate_interval]))", source="none", kind="none"
                    ),
                    "{{source}} {{kind}}",
                ),
                thresholds=[(None, RED)],
                w=24,
            ),
        ],
    )


def dashboard() -> Dashboard:
    return Dashboard(
        uid="scrapewatch-exposure",
        title="scrapewatch / Exposure & scraping",
        description="Who exposes SoundCloud audio: exposure incidents, signature matches, watched sites, and who "
        "scrapes it: downloader canaries, archive captures, dataset listings.",
        rows=[incidents_row(), findings_row(), sites_row(), crawls_row(), scraping_row(), cases_row()],
    )
