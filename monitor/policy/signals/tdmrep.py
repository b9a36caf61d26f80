"""W3C TDMRep: /.well-known/tdmrep.json, tdm-* HTTP headers and HTML meta, resolved in the spec's order."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from monitor.policy.robots import matches, path_key, pattern_of
from monitor.policy.signals._text import Headers, header_values, to_text
from monitor.policy.signals.htmlmeta import MAX_HTML_BYTES, head_meta
from monitor.policy.signals.model import Decision, Lint, Source, UsagePrefs

MAX_JSON_BYTES = 1024 * 1024
MAX_RULES = 10_000
Reservation = Literal[0, 1]


@dataclass(frozen=True)
class TDMRule:
    """One tdmrep.json array element; reservation None means the value was a protocol error (unset)."""

    index: int
    location: str
    reservation: Reservation | None
    policy: str | None
    pattern: str = ""  # location in normal form, what is matched (an empty location matches nothing)


@dataclass(frozen=True)
class TDMResult:
    """Reservation (0/1/None = unset) and policy URL for one resource, with the deciding source."""

    reservation: Reservation | None = None
    policy: str | None = None
    source: Source | None = None
    errors: tuple[Lint, ...] = ()


@dataclass(frozen=True)
class TDMRepFile:
    """A parsed /.well-known/tdmrep.json."""

    rules: tuple[TDMRule, ...]
    errors: tuple[Lint, ...]

    def lookup(self, url_or_path: str) -> TDMResult:
        """The FIRST matching location decides (TDMRep: "the most specific match is the first in sequence")."""
        path = path_key(url_or_path)
        for rule in self.rules:
            if matches(rule.pattern, path):
                src = Source("tdmrep-file", None, f"[{rule.index}] {rule.location}")
                return TDMResult(rule.reservation, rule.policy if rule.reservation != 0 else None, src)
        return TDMResult()


def _reservation(value: object, text: bool) -> Reservation | None:
    # Only 0 and 1 are defined; anything else is a protocol error and means unset. bool is excluded on purpose,
    # and in JSON so is the string "1" (headers and meta are text by nature, so there it is the normal form).
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
        return value  # type: ignore[return-value]
    if text and isinstance(value, str) and value.strip() in ("0", "1"):
        return int(value.strip())  # type: ignore[return-value]
    return None


def parse_tdmrep_json(body: str | bytes | None) -> TDMRepFile:
    """Parse the well-known file; bad elements are skipped with a lint, never raising."""
    raw = body if body is not None else b""
    if len(raw) > MAX_JSON_BYTES:
        return TDMRepFile((), (Lint("too-large", f"tdmrep.json over {MAX_JSON_BYTES} bytes; not parsed"),))
    try:
        data = json.loads(to_text(raw, MAX_JSON_BYTES).lstrip("\ufeff"))
    except (ValueError, RecursionError) as e:
        return TDMRepFile((), (Lint("json", f"not JSON: {str(e)[:120]}"),))
    if not isinstance(data, list):
        return TDMRepFile((), (Lint("not-array", "tdmrep.json must be a JSON array, even for one rule"),))
    rules: list[TDMRule] = []
    errors: list[Lint] = []
    for index, el in enumerate(data[:MAX_RULES]):
        if not isinstance(el, dict) or not isinstance(el.get("location"), str):
            errors.append(Lint("element", f"element {index} has no string location; skipped"))
            continue
        raw_res = el.get("tdm-reservation")
        res = _reservation(raw_res, text=False)
        if res is None:
            errors.append(Lint("reservation", f"element {index}: tdm-reservation {raw_res!r} is not 0/1; unset"))
        policy = el.get("tdm-policy")
        if policy is not None and not isinstance(policy, str):
            errors.append(Lint("policy", f"element {index}: tdm-policy is not a string; ignored"))
            policy = None
        rules.append(TDMRule(index, el["location"], res, policy, pattern_of(el["location"])))
    return TDMRepFile(tuple(rules), tuple(errors))


def _from_pairs(reservations: list[str], policies: list[str], source: Source) -> TDMResult:
    errors: list[Lint] = []
    values = {v.strip() for v in reservations if v.strip()}
    res: Reservation | None = None
    if len(values) > 1:
        errors.append(Lint("conflict", f"{source.signal}: conflicting tdm-reservation values {sorted(values)}; unset"))
    elif values:
        res = _reservation(values.pop(), text=True)
        if res is None:
            errors.append(Lint("reservation", f"{source.signal}: tdm-reservation {reservations[0][:40]!r} is not 0/1"))
    policy = next((p.strip() for p in policies if p.strip()), None)
    if res is None and policy is None:
        return TDMResult(errors=tuple(errors))
    return TDMResult(res, policy if res != 0 else None, source, tuple(errors))


def parse_tdm_headers(headers: Headers | None) -> TDMResult:
    """tdm-reservation / tdm-policy response headers (any case, possibly repeated)."""
    return _from_pairs(
        header_values(headers, "tdm-reservation"),
        header_values(headers, "tdm-policy"),
        Source("tdm-header", None, "tdm-reservation"),
    )


def parse_tdm_meta(document: str | bytes | None, max_bytes: int = MAX_HTML_BYTES) -> TDMResult:
    """`<meta name="tdm-reservation">` / `tdm-policy` in the HTML head."""
    metas = head_meta(document, max_bytes)
    res = [m for m in metas if m.name == "tdm-reservation"]
    pol = [m for m in metas if m.name == "tdm-policy"]
    line = res[0].line if res else (pol[0].line if pol else None)
    return _from_pairs([m.content for m in res], [m.content for m in pol], Source("tdm-meta", line, "tdm-reservation"))


def resolve(*steps: TDMResult) -> TDMResult:
    """Apply file, header, meta (, EPUB/PDF) in order: a later value supersedes, absence never resets."""
    current = TDMResult()
    errors: list[Lint] = []
    for step in steps:
        errors.extend(step.errors)
        if step.reservation is not None:
            current = TDMResult(step.reservation, step.policy, step.source)
        elif step.policy is not None and current.reservation == 1 and current.policy is None:
            current = TDMResult(current.reservation, step.policy, current.source)
    return TDMResult(current.reservation, current.policy, current.source, tuple(errors))


def to_usage(result: TDMResult) -> UsagePrefs:
    """Daemon equivalence (ai-signals §8): 1 -> train-ai=no and all TDM (bots) reserved; 0 -> both yes."""
    if result.reservation is None or result.source is None:
        return UsagePrefs()
    value = "no" if result.reservation == 1 else "yes"
    key = f"tdm-reservation={result.reservation}"
    return UsagePrefs((Decision("train-ai", value, result.source, key), Decision("bots", value, result.source, key)))
