"""The one RFC 9309 engine: robots.txt parsing and fetch outcomes, plus the normalisation, path patterns and group
selection that ai.txt, Content-Usage, TDMRep and RSL reuse."""

from monitor.policy.robots.fetch import FetchPolicy, FetchState, fetch_verdict
from monitor.policy.robots.groups import (
    NO_GROUP,
    RFC_TOKEN,
    GroupIndex,
    GroupKind,
    PerSelection,
    Selection,
    group_token,
    product_token,
    robots_token,
)
from monitor.policy.robots.normalise import normalise, path_key, path_of
from monitor.policy.robots.parser import (
    MAX_BYTES,
    MAX_LINE_BYTES,
    ROBOTS_PATH,
    Directive,
    Group,
    Lint,
    Record,
    RobotsFile,
    Rule,
    Verdict,
    parse,
)
from monitor.policy.robots.pattern import (
    PathMatcher,
    RuleSet,
    compile_pattern,
    longest_matches,
    matches,
    pattern_of,
    priority,
)

__all__ = [
    "MAX_BYTES",
    "MAX_LINE_BYTES",
    "NO_GROUP",
    "RFC_TOKEN",
    "ROBOTS_PATH",
    "Directive",
    "FetchPolicy",
    "FetchState",
    "Group",
    "GroupIndex",
    "GroupKind",
    "Lint",
    "PathMatcher",
    "PerSelection",
    "Record",
    "RobotsFile",
    "Rule",
    "RuleSet",
    "Selection",
    "Verdict",
    "compile_pattern",
    "fetch_verdict",
    "group_token",
    "longest_matches",
    "matches",
    "normalise",
    "parse",
    "path_key",
    "path_of",
    "pattern_of",
    "priority",
    "product_token",
    "robots_token",
]
