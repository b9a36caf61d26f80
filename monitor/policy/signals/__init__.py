"""Pure parsers for AI-usage signals other than robots.txt Allow/Disallow, mapped onto one usage vocabulary."""

from monitor.policy.signals.consistency import Finding, check
from monitor.policy.signals.content_signal import (
    ContentSignalResult,
    is_cloudflare_managed,
    parse_content_signals,
)
from monitor.policy.signals.content_usage import (
    ContentUsageRules,
    UsageStatement,
    parse_content_usage_header,
    parse_content_usage_rules,
    parse_usage_pref,
)
from monitor.policy.signals.groups import GroupLine
from monitor.policy.signals.model import PURPOSES, Decision, Lint, Source, UsagePrefs, combine
from monitor.policy.signals.rsl import RSLDocument, parse_license_lines, parse_rsl
from monitor.policy.signals.tdmrep import TDMRepFile, TDMResult, parse_tdm_headers, parse_tdm_meta, parse_tdmrep_json
from monitor.policy.signals.tdmrep import resolve as resolve_tdm
from monitor.policy.signals.tdmrep import to_usage as tdm_to_usage
from monitor.policy.signals.xrobots import RobotsDirectives, parse_robots_meta, parse_x_robots_tag

__all__ = [
    "PURPOSES",
    "ContentSignalResult",
    "ContentUsageRules",
    "Decision",
    "Finding",
    "GroupLine",
    "Lint",
    "RSLDocument",
    "RobotsDirectives",
    "Source",
    "TDMRepFile",
    "TDMResult",
    "UsagePrefs",
    "UsageStatement",
    "check",
    "combine",
    "is_cloudflare_managed",
    "parse_content_signals",
    "parse_content_usage_header",
    "parse_content_usage_rules",
    "parse_license_lines",
    "parse_robots_meta",
    "parse_rsl",
    "parse_tdm_headers",
    "parse_tdm_meta",
    "parse_tdmrep_json",
    "parse_usage_pref",
    "parse_x_robots_tag",
    "resolve_tdm",
    "tdm_to_usage",
]
