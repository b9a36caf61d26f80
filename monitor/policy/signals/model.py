"""Common usage-preference vocabulary: purposes, yes/no decisions with provenance, legacy-key mapping."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Purpose = Literal["bots", "train-ai", "train-genai", "ai-input", "search"]
PURPOSES: tuple[Purpose, ...] = ("bots", "train-ai", "train-genai", "ai-input", "search")
Pref = Literal["yes", "no"]
Scope = Literal["all", "image"]

# vocab-03 hierarchy (train-genai < train-ai < bots, search < bots). vocab-05 dropped it, so only legacy
# statements (bots=n, all=n, tdm=n...) ever produce an ancestor decision for a lookup to inherit.
PARENT: dict[str, Purpose] = {"train-genai": "train-ai", "train-ai": "bots", "search": "bots", "ai-input": "bots"}

# AIPREF labels across vocab-01..07 -> common purposes. Unknown labels are ignored (vocab: "MUST be ignored").
AIPREF_KEYS: dict[str, tuple[Purpose, ...]] = {
    "train-ai": ("train-ai",),
    "search": ("search",),
    "train-genai": ("train-genai",),  # vocab-02/03
    "bots": ("bots",),  # vocab-03/04 umbrella
    "all": ("bots",),  # vocab-02 umbrella
    "ai-use": ("ai-input",),  # vocab-02: using assets as AI input
    "ai-output": ("ai-input",),  # vocab-04: assets feeding AI output, the nearest common purpose
    "tdm": ("bots",),  # vocab-01 umbrella
    "ai": ("train-ai",),  # vocab-01
    "genai": ("train-genai",),  # vocab-01
    "inference": ("ai-input",),  # vocab-01
}
# Cloudflare Content-Signal keys; ai-input has no AIPREF equivalent and stays its own purpose.
CONTENT_SIGNAL_KEYS: dict[str, tuple[Purpose, ...]] = {
    "ai-train": ("train-ai",),
    "search": ("search",),
    "ai-input": ("ai-input",),
}
# RSL 1.0 usage tokens; the RSL guide also uses the AIPREF label train-ai, so both are accepted.
RSL_USAGE_KEYS: dict[str, tuple[Purpose, ...]] = {
    "all": PURPOSES,
    "ai-all": ("train-ai", "train-genai", "ai-input"),
    "ai-train": ("train-ai",),
    "train-ai": ("train-ai",),
    "ai-input": ("ai-input",),
    "ai-index": ("ai-input",),  # indexing for AI answers: closest to RAG/grounding, not classic search
    "search": ("search",),
}


@dataclass(frozen=True)
class Source:
    """Where a decision came from: signal name plus line number and/or header, meta or pattern detail."""

    signal: str
    line: int | None = None
    detail: str = ""

    def __str__(self) -> str:
        where = f":{self.line}" if self.line is not None else ""
        return f"{self.signal}{where}" + (f" ({self.detail})" if self.detail else "")


@dataclass(frozen=True)
class Decision:
    """One purpose set to yes/no by one signal, with the key as written there."""

    purpose: Purpose
    value: Pref
    source: Source
    original_key: str
    scope: Scope = "all"  # "image": noimageai, applies to image assets only


@dataclass(frozen=True)
class Lint:
    """A parse problem or oddity; parsers report these instead of raising."""

    code: str
    message: str
    line: int | None = None


@dataclass(frozen=True)
class UsagePrefs:
    """A bag of decisions; lookups combine them most-restrictive-wins (AIPREF vocab §6.1)."""

    decisions: tuple[Decision, ...] = ()

    def applicable(self, purpose: str, media: str | None = None) -> tuple[Decision, ...]:
        """Decisions for exactly this purpose that apply to media ("image", "audio", None = any page)."""
        return tuple(d for d in self.decisions if d.purpose == purpose and (d.scope == "all" or d.scope == media))

    def get(self, purpose: str, media: str | None = None, inherit: bool = True) -> Decision | None:
        """The deciding decision: any "no" beats "yes"; falls back to legacy ancestors when inherit."""
        current: str | None = purpose
        while current is not None:
            found = self.applicable(current, media)
            if found:
                return next((d for d in found if d.value == "no"), found[0])
            current = PARENT.get(current) if inherit else None
        return None

    def value(self, purpose: str, media: str | None = None) -> Pref | None:
        """yes / no / None (unset) for a purpose."""
        d = self.get(purpose, media)
        return d.value if d else None

    def as_dict(self, media: str | None = None, inherit: bool = False) -> dict[str, Pref]:
        """Every set purpose with its value (explicit ones only unless inherit), for display and tests."""
        out: dict[str, Pref] = {}
        for p in PURPOSES:
            d = self.get(p, media, inherit)
            if d is not None:
                out[p] = d.value
        return out


def combine(*prefs: UsagePrefs | Iterable[UsagePrefs]) -> UsagePrefs:
    """Merge statements from several signals; every decision is kept so provenance survives."""
    out: list[Decision] = []
    for p in prefs:
        if isinstance(p, UsagePrefs):
            out.extend(p.decisions)
        else:
            for q in p:
                out.extend(q.decisions)
    return UsagePrefs(tuple(out))


def decisions_for(
    key: str, value: Pref, source: Source, table: dict[str, tuple[Purpose, ...]], scope: Scope = "all"
) -> tuple[Decision, ...]:
    """Expand one vocabulary key into common-purpose decisions; () when the key is unknown."""
    return tuple(Decision(p, value, source, key, scope) for p in table.get(key, ()))
