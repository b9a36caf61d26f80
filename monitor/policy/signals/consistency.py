"""Contradictions between usage signals, and between crawl permission and usage preference, for one target."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from monitor.policy.signals.model import PURPOSES, Decision, Source, UsagePrefs

Kind = Literal["usage-conflict", "preference-on-disallowed", "crawl-allowed-usage-restricted"]
Severity = Literal["contradiction", "warning", "info"]


@dataclass(frozen=True)
class Finding:
    """One consistency finding; only severity "contradiction" is a real contradiction."""

    kind: Kind
    severity: Severity
    purpose: str
    message: str
    sources: tuple[Source, ...]

    @property
    def is_contradiction(self) -> bool:
        """True only when two usage signals disagree."""
        return self.severity == "contradiction"


def _explicit(prefs: UsagePrefs, purpose: str, media: str | None) -> tuple[Decision, ...]:
    return prefs.applicable(purpose, media)


def check(
    statements: Iterable[UsagePrefs],
    crawl_allowed: bool | None = None,
    crawl_source: Source | None = None,
    media: str | None = None,
    agent_purposes: Iterable[str] | None = None,
) -> tuple[Finding, ...]:
    """Findings for one (domain, agent, path), following ai-signals §0, §6.2 and §10.

    Crawl permission (robots.txt Allow/Disallow) and usage preference are different questions (§0), so:

    * two usage signals (different signal names) setting the same purpose to yes and no is the only
      **contradiction**; the effective value is still "no" (most-restrictive-wins, AIPREF vocab §6.1).
      Disagreement inside one signal is resolved by that signal's own rules and reported by its parser.
    * crawl allowed + a purpose set to "no" (GPTBot may fetch /tracks, Content-Signal ai-train=no) is **not** a
      contradiction: fetch-but-don't-train is what usage preferences exist for. It is reported as "info"
      (§10 lists it as a lint), raised to "warning" when every purpose of the agent (agent_purposes, e.g.
      {"train-ai"} for GPTBot or Google-Extended) is denied, since the crawl permission then buys nothing.
    * crawl disallowed + a purpose set to "yes" (blocked in robots.txt but search=yes) is a "warning":
      AIPREF attach says preferences apply only to crawlable resources, so the "yes" cannot take effect.
      A "no" on a disallowed path is merely redundant and not reported.

    Inherited (legacy-hierarchy) values are not compared; only explicit decisions for the exact purpose, and
    for media (e.g. "image") image-scoped decisions such as noimageai join in.
    """
    stmts = list(statements)
    findings: list[Finding] = []
    denied: set[str] = set()
    for purpose in PURPOSES:
        decisions = [d for s in stmts for d in _explicit(s, purpose, media)]
        if not decisions:
            continue
        yes = [d for d in decisions if d.value == "yes"]
        no = [d for d in decisions if d.value == "no"]
        if no:
            denied.add(purpose)
        if yes and no and len({d.source.signal for d in yes + no}) > 1:
            msg = (
                f"{purpose}: " + ", ".join(f"{d.original_key} ({d.source})" for d in no) + " says no but "
                + ", ".join(f"{d.original_key} ({d.source})" for d in yes) + " says yes; effective: no"
            )  # fmt: skip
            findings.append(Finding("usage-conflict", "contradiction", purpose, msg, tuple(d.source for d in no + yes)))
        crawl = (crawl_source,) if crawl_source else ()
        if crawl_allowed is False and yes:
            msg = (
                f"crawl disallowed but {purpose}=yes ({', '.join(str(d.source) for d in yes)}); preference cannot apply"
            )
            findings.append(
                Finding("preference-on-disallowed", "warning", purpose, msg, crawl + tuple(d.source for d in yes))
            )
        if crawl_allowed is True and no:
            msg = f"crawl allowed while {purpose}=no ({', '.join(str(d.source) for d in no)}): fetch permitted, use not"
            findings.append(
                Finding("crawl-allowed-usage-restricted", "info", purpose, msg, crawl + tuple(d.source for d in no))
            )
    wanted = set(agent_purposes or ())
    if crawl_allowed is True and wanted and wanted <= denied:
        findings = [
            Finding(f.kind, "warning", f.purpose, f.message + "; every purpose of this agent is denied", f.sources)
            if f.kind == "crawl-allowed-usage-restricted" and f.purpose in wanted
            else f
            for f in findings
        ]
    return tuple(findings)
