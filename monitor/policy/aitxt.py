"""Spawning ai.txt: robots.txt-grammar groups with file-type patterns, answering may-this-media-be-used."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from monitor.policy.robots import GroupIndex, PerSelection, RuleSet, Selection, group_token, path_key, pattern_of
from monitor.policy.signals._text import to_text
from monitor.policy.signals.model import Decision, Lint, Source, UsagePrefs

MAX_BYTES = 512 * 1024  # robots.txt's limit (MUST be >= 500 KiB) reused: ai.txt shares its grammar
MAX_LINE = 16664
AUDIO_TYPES: tuple[str, ...] = ("mp3", "m4a", "opus", "ogg", "wav", "flac", "aac", "m3u8")
_LINES = re.compile(r"\r\n|\r|\n")
_UA_KEYS = ("user-agent", "useragent", "user agent")
_DISALLOW_KEYS = ("disallow", "dissallow", "dissalow", "disalow", "diasllow", "disallaw")


@dataclass(frozen=True)
class AiTxtRule:
    """An Allow/Disallow line."""

    line: int
    allow: bool
    pattern: str  # as written, for reports
    normalised: str = ""  # pattern in normal form, what is matched (an empty pattern matches nothing)


@dataclass(frozen=True)
class AiTxtGroup:
    """User-agent tokens (lower-cased) and their rules."""

    agents: tuple[str, ...]
    rules: tuple[AiTxtRule, ...]


@dataclass(frozen=True)
class AiTxt:
    """A parsed ai.txt; valid is False when the body is not the Spawning dialect (e.g. an HTML catch-all)."""

    groups: tuple[AiTxtGroup, ...]
    errors: tuple[Lint, ...]
    valid: bool
    truncated: bool = False
    index: GroupIndex = field(init=False, repr=False, compare=False)
    rules_for: PerSelection[RuleSet[AiTxtRule]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", GroupIndex(g.agents for g in self.groups))
        object.__setattr__(self, "rules_for", PerSelection(self._merge))

    def select(self, agent: str) -> Selection:
        """The groups that apply to `agent`, chosen by the RFC 9309 engine as for robots.txt."""
        return self.index.select(agent)

    def _merge(self, selection: Selection) -> RuleSet[AiTxtRule]:
        """The merged rules of the selected groups, ordered once per distinct selection."""
        return RuleSet((r.normalised, r.allow, r) for i in selection.groups for r in self.groups[i].rules)


@dataclass(frozen=True)
class AiTxtVerdict:
    """Whether use is allowed, and the deciding rule's line and pattern (None when no rule matched)."""

    allowed: bool
    line: int | None = None
    pattern: str | None = None


@dataclass(frozen=True)
class AudioReservation:
    """Per audio extension verdict at a neutral probe path."""

    verdicts: tuple[tuple[str, AiTxtVerdict], ...]

    @property
    def reserved(self) -> tuple[str, ...]:
        """Extensions reserved (disallowed) for AI use."""
        return tuple(ext for ext, v in self.verdicts if not v.allowed)

    @property
    def all_reserved(self) -> bool:
        """Every audio type is reserved."""
        return len(self.reserved) == len(self.verdicts)


def _looks_like_html(text: str) -> bool:
    head = text.lstrip()[:512].lower()
    return head.startswith(("<!doctype", "<html", "<head", "<body", "<?xml", "<")) or "<html" in head


def parse_aitxt(body: str | bytes | None, content_type: str | None = None) -> AiTxt:
    """Parse ai.txt lines: user-agent groups and Allow/Disallow patterns with line numbers; never raises."""
    raw = body or b""
    truncated = len(raw) > MAX_BYTES
    text = to_text(raw, MAX_BYTES).lstrip("\ufeff")
    errors: list[Lint] = []
    if truncated:
        errors.append(Lint("too-large", f"ai.txt over {MAX_BYTES} bytes; the rest is ignored"))
    valid = True
    if content_type is not None and content_type.split(";", 1)[0].strip().lower() != "text/plain":
        errors.append(Lint("content-type", f"served as {content_type[:60]!r}, not text/plain"))
    if _looks_like_html(text):
        return AiTxt((), (*errors, Lint("html", "body is HTML (SPA catch-all?), not ai.txt")), False, truncated)
    groups: list[AiTxtGroup] = []
    agents: list[str] = []
    rules: list[AiTxtRule] = []
    unknown = 0
    for number, line in enumerate(_LINES.split(text), 1):
        line = line[:MAX_LINE].split("#", 1)[0].strip()
        if not line:
            continue
        key, sep, value = line.partition(":")
        key, value = key.strip().lower(), value.strip()
        if not sep:
            errors.append(Lint("syntax", f"no ':' in {line[:60]!r}", number))
            unknown += 1
            continue
        if key in _UA_KEYS:
            if rules:  # a user-agent line after rules starts the next group
                groups.append(AiTxtGroup(tuple(agents), tuple(rules)))
                agents, rules = [], []
            token = group_token(value)
            if not token:
                errors.append(Lint("agent", f"invalid user-agent {value[:60]!r}", number))
                continue
            agents.append(token.lower())
        elif key == "allow" or key in _DISALLOW_KEYS:
            if not agents:
                errors.append(Lint("ungrouped", "rule before any User-Agent line; ignored", number))
                continue
            rules.append(AiTxtRule(number, key == "allow", value, pattern_of(value)))
        else:
            # Other "ai.txt" dialects (Allow-AI:, /.well-known/ai.txt drafts) use keys robots grammar lacks.
            errors.append(Lint("unknown-key", f"unknown key {key[:40]!r}", number))
            unknown += 1
    if agents:
        groups.append(AiTxtGroup(tuple(agents), tuple(rules)))
    if not groups:
        valid = False
        errors.append(Lint("dialect", f"no User-Agent groups ({unknown} unrecognised lines); not Spawning ai.txt"))
    return AiTxt(tuple(groups), tuple(errors), valid, truncated)


def may_use(aitxt: AiTxt, agent: str, url_or_path: str) -> AiTxtVerdict:
    """robots.txt semantics on the media URL: own group (else `*`), longest pattern wins, tie -> allow.

    `Disallow: *.mp3` has no `$`, so it also matches `/a.mp3?x=1` and `/x.mp3s/y` (ai-signals §4).
    """
    decided = aitxt.rules_for(aitxt.select(agent)).decide(path_key(url_or_path))
    if decided is None:
        return AiTxtVerdict(True)
    allowed, rule = decided
    return AiTxtVerdict(allowed, rule.line, rule.pattern)


def reserved_audio_types(aitxt: AiTxt, agent: str = "*", probe: str = "/ai-txt-probe/file") -> AudioReservation:
    """For each audio type, the verdict for `<probe>.<ext>`; a site-wide `Disallow: /` reserves them all."""
    return AudioReservation(tuple((ext, may_use(aitxt, agent, f"{probe}.{ext}")) for ext in AUDIO_TYPES))


def to_usage(verdict: AiTxtVerdict) -> UsagePrefs:
    """Spawning's ai.txt governs dataset (training) use: a matched Disallow -> train-ai=no, Allow -> yes."""
    if verdict.line is None:
        return UsagePrefs()
    value = "yes" if verdict.allowed else "no"
    key = f"{'Allow' if verdict.allowed else 'Disallow'}: {verdict.pattern}"
    return UsagePrefs((Decision("train-ai", value, Source("ai.txt", verdict.line, verdict.pattern or ""), key),))
