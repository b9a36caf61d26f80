"""Settings of the AI-policy audit (path classes, sampled pages, expectations) and the protected catalogue."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from monitor.settings.base import Section


class CatalogueSettings(Section):
    """Protected tracks (ids, permalinks, canaries)."""

    path: Path | None = Field(None, description="CSV or YAML file of protected tracks.")


def _default_path_classes() -> dict[str, list[str]]:
    return {
        "home": ["/"],
        "track": ["/forss/flickermood", "/user-123456789/untitled-track"],
        "set": ["/forss/sets/soulhack"],
        "audio": [
            "/media/soundcloud:tracks:293/4b1e2b52-3f2c-4f8b-9a0b-3d9c2f1f6f0a/stream/hls",
            "/tracks/293/streams",
        ],
    }


class PolicyExpectation(Section):
    """What SoundCloud's signals must say; a breach is a high-severity incident."""

    agents: Literal["all"] | list[str] = Field(
        "all", description="AI agents the expectation covers: 'all' (the registry) or a list of tokens."
    )
    disallowed_on: list[str] = Field(
        default_factory=lambda: ["track", "set", "audio"],
        description="Path classes these agents must not be allowed to crawl.",
    )
    training_reserved: bool = Field(True, description="Whether train-ai use must be reserved (a 'no' signal).")


class PolicySettings(Section):
    """The AI-policy audit: agents, sample URLs per path class, and the expected policy."""

    agents_file: Path | None = Field(
        None, description="CSV or JSON agent registry used instead of the bundled list of AI crawlers."
    )
    path_classes: dict[str, list[str]] = Field(
        default_factory=_default_path_classes,
        description="Sample URL paths per path class (home, track, set, audio, ...) checked for every agent.",
    )
    expect: PolicyExpectation = Field(default_factory=PolicyExpectation, description="The expected policy.")
    page_samples: list[str] = Field(
        default_factory=lambda: ["home", "track"],
        description="Path classes whose first sample page is fetched from every protected domain for its "
        "page-level signals (X-Robots-Tag, robots/noai meta, tdm-* headers and meta, Content-Usage header).",
    )
    max_licenses: int = Field(
        3, ge=0, le=20, description="RSL license documents (robots.txt License lines) fetched per domain and run."
    )

    @field_validator("path_classes")
    @classmethod
    def _paths(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, paths in value.items():
            if not paths:
                raise ValueError(f"path class {name!r} has no sample path")
            bad = [p for p in paths if not p.startswith("/")]
            if bad:
                raise ValueError(f"path class {name!r}: sample paths must start with '/': {bad}")
        return value

    @model_validator(mode="after")
    def _known_classes(self) -> PolicySettings:
        unknown = sorted(set(self.expect.disallowed_on) - set(self.path_classes))
        if unknown:
            raise ValueError(f"expect.disallowed_on names unknown path classes {unknown}")
        unknown = sorted(set(self.page_samples) - set(self.path_classes))
        if unknown:
            raise ValueError(f"page_samples names unknown path classes {unknown}")
        return self
