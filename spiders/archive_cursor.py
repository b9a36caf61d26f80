"""Where an archive run resumes: one endpoint's queries taken round-robin, from the chain and page the last run
stopped at, and the point the next run starts from."""

from __future__ import annotations

import json
from typing import Any


def parse_resume(resume: Any) -> dict[str, Any] | None:
    """Validate a resume point (a dict, its JSON text, or None): ``{"chain": key, "position": {...}}``."""
    if resume is None or resume == "":
        return None
    if isinstance(resume, str | bytes):
        resume = json.loads(resume)
    if (
        not isinstance(resume, dict)
        or not isinstance(resume.get("chain"), str)
        or not isinstance(resume.get("position", {}), dict)
    ):
        raise ValueError('resume must be {"chain": <query key>, "position": {...}} or None')
    return {"chain": resume["chain"], "position": dict(resume.get("position") or {})}


class Rotation:
    """The chains (queries) of one run in round-robin order and the step asked for last.

    A run starts at the stored chain and position, goes on to the chains after it, then wraps around to those
    before it; the next run starts at the step the page cap refused, at the page a halt left unread, or, when the
    chain asked for last ended, at the chain after it (every chain done: the first one again, from its start).
    """

    def __init__(self, resume: dict[str, Any] | None):
        self.resume = resume
        self.start: str | None = None
        self.at: tuple[str, dict[str, Any]] | None = None
        self.sent = False

    def order(self, keys: list[str]) -> tuple[list[str], dict[str, Any]]:
        """``keys`` rotated to begin at the resume chain, and the position in it (empty: from its start)."""
        if self.resume and self.resume["chain"] in keys:
            i, position = keys.index(self.resume["chain"]), dict(self.resume["position"])
        else:  # nothing stored, or a query or crawl that is no longer configured: from the first chain
            i, position = 0, {}
        ordered = keys[i:] + keys[:i]
        self.start = ordered[0] if ordered else None
        return ordered, position

    def asked(self, chain: str, position: dict[str, Any], sent: bool) -> None:
        """A step of ``chain`` at ``position`` was requested (``sent``) or refused by the page cap."""
        self.at, self.sent = (chain, position), sent

    def resume_point(self, halted: bool, waiting: str | None) -> dict[str, Any] | None:
        """Where the next run starts; ``waiting`` is the next chain not yet begun, if any."""
        if self.at is None:  # the run never reached the queries (collinfo failed, the cap hit first)
            return self.resume
        chain, position = self.at
        if halted or not self.sent:
            return {"chain": chain, "position": position}
        return {"chain": waiting or self.start or chain, "position": {}}
