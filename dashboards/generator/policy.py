"""AI policy: the domain x agent x path-class verdict matrix, how it changed over time, and signal consistency."""

from __future__ import annotations

from dashboards.generator.model import Dashboard, Link, Query, Row, Variable, triage
from dashboards.generator.panels import GREEN, ORANGE, RED, bargauge, bars, matrix, stat, state_timeline, timeseries

SEL = 'domain=~"$domain", agent=~"$agent"'
ALLOWED = f"scrapewatch_policy_crawl_allowed{{{SEL}}}"
VERDICT = {1: ("allowed", RED), 0: ("disallowed", GREEN)}
DOMAIN_LINK = "${__field.labels.domain}"


def matrix_row() -> Row:
    return Row(
        "Verdict matrix",
        [
            matrix(
                "Crawl verdicts on $domain",
                "The verdict in force for every AI agent (rows) on every path class (columns) of this domain, from "
                "robots.txt under RFC 9309 (`scrapewatch_policy_crawl_allowed`): allowed (red: the agent may fetch "
                "it) or disallowed (green). One table per selected domain; `scrapewatch policy matrix DOMAIN` shows "
                "the matched line and group of each cell.",
                f"max by (agent, path_class) ({ALLOWED})",
                rows="agent",
                columns="path_class",
                mappings=VERDICT,
                repeat="domain",
                links=[Link("Triage: policy incidents on $domain", triage(domain="$domain"))],
                h=14,
            ),
            stat(
                "Allowed cells off the home page",
                "Per domain, the (agent, path class) cells other than `home` where the selected agents may crawl. "
                "The default expectation (policy.expect) is 0 on track, set and audio; a rise is a policy "
                "regression incident.",
                f'sum by (domain) (scrapewatch_policy_crawl_allowed{{{SEL}, path_class!="home"}})',
                legend="{{domain}}",
                thresholds=[(None, GREEN), (1, RED)],
                data_links=[
                    Link("Triage: regressions on the domain", triage(kind="policy_regression", domain=DOMAIN_LINK))
                ],
                options={"textMode": "value_and_name"},
                w=12,
            ),
            stat(
                "Agents not fully restricted",
                "Per domain, the selected agents whose restriction class is not 'full' "
                "(`scrapewatch_policy_restriction` < 2: some path class is allowed). 0 means every agent is kept off "
                "every path class.",
                f"sum by (domain) (scrapewatch_policy_restriction{{{SEL}}} < bool 2)",
                legend="{{domain}}",
                thresholds=[(None, GREEN), (1, ORANGE)],
                data_links=[Link("Triage: breaches on the domain", triage(kind="policy_breach", domain=DOMAIN_LINK))],
                options={"textMode": "value_and_name"},
                w=12,
            ),
        ],
    )


def changes_row() -> Row:
    return Row(
        "Changes over time",
        [
            timeseries(
                "Allowed cells over time",
                "Per domain, how many (agent, path class) cells of the selected agents were allowed at each moment. "
                "A step up is an agent newly allowed (a policy_regression incident opens); a step down a newly "
                "disallowed one (kept in `scrapewatch policy history`, not alerted).",
                Query(f"sum by (domain) ({ALLOWED})", "{{domain}}"),
                data_links=[
                    Link("Triage: regressions on the domain", triage(kind="policy_regression", domain=DOMAIN_LINK))
                ],
            ),
            bars(
                "Verdict changes",
                "Per domain, how many cells of the matrix flipped (allowed <-> disallowed) in each interval "
                "(`changes()` of scrapewatch_policy_crawl_allowed). 0 means a stable policy.",
                Query(f"sum by (domain) (changes({ALLOWED}[$__rate_interval]))", "{{domain}}"),
            ),
            bars(
                "New policy file versions",
                "New versions of policy files recorded per interval, by domain and file (robots.txt, ai.txt, "
                "tdmrep.json, sampled pages' signal summaries, RSL licences). Each is a policy_file_changed "
                "incident with its diff; click for the domain's.",
                Query(
                    'sum by (domain, probe) (increase(scrapewatch_policy_versions_total{domain=~"$domain"}'
                    "[$__rate_interval]))",
                    "{{domain}} {{probe}}",
                ),
                data_links=[
                    Link("Triage: file changes on the domain", triage(kind="policy_file_changed", domain=DOMAIN_LINK))
                ],
            ),
            stat(
                "Last verdict change",
                "When the verdict matrix of each domain last changed (any cell, any agent), from "
                "scrapewatch_policy_last_change_timestamp_seconds. The first audit of a domain counts as a change.",
                'max by (domain) (scrapewatch_policy_last_change_timestamp_seconds{domain=~"$domain"}) * 1000',
                legend="{{domain}}",
                unit="dateTimeAsIso",
                color_mode="fixed",
                options={"textMode": "value_and_name", "graphMode": "none"},
                data_links=[Link("Triage: the domain's incidents", triage(domain=DOMAIN_LINK))],
                w=12,
                h=8,
            ),
        ],
    )


def consistency_row() -> Row:
    return Row(
        "Signal consistency",
        [
            timeseries(
                "Contradicting verdict cells",
                "Per domain, verdict cells whose usage signals contradict each other (e.g. Content-Signal says "
                "ai-train=yes while ai.txt disallows training). 0 means the signals agree; anything else is a "
                "policy_contradiction incident.",
                Query('sum by (domain) (scrapewatch_policy_contradictions{domain=~"$domain"})', "{{domain}}"),
                thresholds=[(None, GREEN), (1, ORANGE)],
                data_links=[
                    Link(
                        "Triage: contradictions on the domain", triage(kind="policy_contradiction", domain=DOMAIN_LINK)
                    )
                ],
            ),
            state_timeline(
                "Policy signals served",
                "Per domain and policy file (signal): whether its latest fetch returned it (served, 2xx) or not "
                "(missing: 4xx; unreachable: 5xx or no answer), over time. A file that stops being served is a "
                "policy_file_missing or policy_file_unreachable incident; click for the domain's incidents.",
                Query(
                    'max by (domain, signal) (scrapewatch_policy_signal_present{domain=~"$domain"})',
                    "{{domain}} {{signal}}",
                ),
                mappings={1: ("served", GREEN), 0: ("not served", ORANGE)},
                data_links=[Link("Triage: the domain's incidents", triage(domain=DOMAIN_LINK))],
                h=12,
            ),
            matrix(
                "Latest answer per policy file",
                "HTTP status of the latest probe of each policy file (rows) on each domain (columns): 2xx served, "
                "4xx missing (robots.txt missing means 'allow all'), 5xx or 'no answer' unreachable (RFC 9309: "
                "'disallow all').",
                'max by (domain, probe) (scrapewatch_probe_http_status_code{domain=~"$domain"})',
                rows="probe",
                columns="domain",
                mappings={0: ("no answer", RED)},
                thresholds=[(None, GREEN), (400, ORANGE), (500, RED)],
                links=[Link("Triage: unreachable policy files", triage(kind="policy_file_unreachable"))],
                h=9,
            ),
            bargauge(
                "Open policy incidents by kind",
                "Open or acknowledged incidents of the AI-usage audit (policy_*), by kind. 'none open' means zero. "
                "Click a bar for the triage page of that kind.",
                'sum by (kind) (scrapewatch_incidents_open{kind=~"policy_.*"})',
                "{{kind}}",
                thresholds=[(None, ORANGE)],
                no_value="none open",
                data_links=[Link("Triage: ${__field.labels.kind}", triage(kind="${__field.labels.kind}"))],
                w=24,
            ),
        ],
    )


def dashboard() -> Dashboard:
    return Dashboard(
        uid="scrapewatch-ai-policy",
        title="scrapewatch / AI policy",
        description="The domain x agent verdict matrix, its changes over time, and whether the usage signals agree.",
        rows=[matrix_row(), changes_row(), consistency_row()],
        variables=[
            Variable("domain", "label_values(scrapewatch_policy_crawl_allowed, domain)", "domain"),
            Variable("agent", 'label_values(scrapewatch_policy_crawl_allowed{domain=~"$domain"}, agent)', "AI agent"),
        ],
    )
