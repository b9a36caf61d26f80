"""The Cases row of the Exposure & scraping dashboard: cases by status, notices sent, confirmed takedowns and the
median time from detection to takedown (all read from scrapewatch's SQLite at scrape time)."""

from __future__ import annotations

from dashboards.generator.model import Query, Row
from dashboards.generator.panels import BLUE, GREEN, ORANGE, bargauge, stat, timeseries

CASES = "scrapewatch_cases"
NEEDS_WORK = 'status=~"new|investigating|notice_sent|reappeared"'


def cases_row() -> Row:
    return Row(
        "Cases and takedowns",
        [
            stat(
                "Cases needing work",
                "Cases (one per offender: a registrable domain and the domains linked to it) that are new, under "
                "investigation, waiting after a notice, or reappeared. 0 means every case is closed. The case "
                "list is on the daemon's /cases page.",
                f"sum({CASES}{{{NEEDS_WORK}}}) or vector(0)",
                thresholds=[(None, GREEN), (1, ORANGE)],
            ),
            stat(
                "Notices sent",
                "Takedown notices recorded as sent (`scrapewatch case notice-sent`), all recipients: hosting "
                "providers, registrars and sites. Sending itself is never automatic.",
                "sum(scrapewatch_case_notices_sent) or vector(0)",
                thresholds=[(None, BLUE)],
            ),
            stat(
                "Takedowns confirmed",
                "Cases whose takedown the daemon's re-check confirmed (the case's URLs no longer serve the material "
                "after a notice).",
                "sum(scrapewatch_case_takedowns_confirmed) or vector(0)",
                thresholds=[(None, GREEN)],
            ),
            stat(
                "Median time to takedown",
                "Median time from a case's first detection to its confirmed takedown, over the cases taken down. "
                "0 until the first takedown is confirmed.",
                "max(scrapewatch_case_time_to_takedown_seconds) or vector(0)",
                unit="dtdurations",
                thresholds=[(None, GREEN)],
            ),
            bargauge(
                "Cases by status",
                "Cases per status now (new, investigating, notice_sent, taken_down, no_action, reappeared); a case "
                "merged into another counts once, as the case it was merged into.",
                f"sum by (status) ({CASES})",
                "{{status}}",
                thresholds=[(None, BLUE)],
            ),
            timeseries(
                "Cases by status over time",
                "Cases per status as they were at each moment: cases move from new through notice_sent to "
                "taken_down or no_action; a rising 'reappeared' line means material came back after a takedown.",
                Query(f"sum by (status) ({CASES})", "{{status}}"),
                w=24,
            ),
        ],
    )
