"""Pure evaluation of policy-file snapshots: a fetch plus the previous version -> snapshot state and findings."""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass
from typing import Literal

from monitor.incidents import Finding

State = Literal["present", "missing", "unreachable"]
MAX_DIFF_LINES = 60


@dataclass(frozen=True)
class Fetched:
    """The facts of one fetch that matter here (built from a spiders.items.PolicyFileItem)."""

    domain: str
    file: str
    status: int | None
    body: bytes = b""
    error_kind: str | None = None
    error_detail: str | None = None
    truncated: bool = False


@dataclass(frozen=True)
class Previous:
    """The last known version of a file: its latest state and the last body that was present."""

    state: State | None = None  # None: never observed
    sha256: str | None = None  # hash of the latest snapshot's body, when present
    last_present_sha256: str | None = None
    last_present_body: bytes | None = None


@dataclass(frozen=True)
class FileVerdict:
    """The outcome for one file: its state now, whether it is a new version, findings and cleared keys."""

    state: State
    sha256: str | None
    new_version: bool
    findings: list[Finding]
    cleared: list[str]


def classify(fetched: Fetched) -> State:
    """present for 2xx, missing for 4xx (for robots.txt: allow all), unreachable for 5xx or no response."""
    if fetched.status is None or fetched.status >= 500:
        return "unreachable"
    if 400 <= fetched.status < 500:
        return "missing"
    return "present"


def key(kind: str, domain: str, file: str) -> str:
    return f"{kind}:{domain}:{file}"


def describe(file: str) -> str:
    """How people read a snapshot name: ``page:track`` is the signals of the sampled track page."""
    if file.startswith("page:"):
        return f"the AI-usage signals of the sampled {file[5:]} page"
    if file.startswith("license#"):
        return f"RSL license document {file[8:]} (named by robots.txt)"
    return file


def _diff(old: bytes | None, new: bytes) -> str:
    before = (old or b"").decode("utf-8", "replace").splitlines()
    after = new.decode("utf-8", "replace").splitlines()
    lines = list(difflib.unified_diff(before, after, "before", "after", lineterm="", n=1))
    if len(lines) > MAX_DIFF_LINES:
        lines = [*lines[:MAX_DIFF_LINES], f"... ({len(lines) - MAX_DIFF_LINES} more diff lines)"]
    return "\n".join(lines)


def evaluate(fetched: Fetched, previous: Previous) -> FileVerdict:
    """Compare a fetch of a policy file with its previous version."""
    state = classify(fetched)
    sha = hashlib.sha256(fetched.body).hexdigest() if state == "present" else None
    d, f = fetched.domain, fetched.file
    new_version = previous.state != state or (state == "present" and sha != previous.sha256)
    findings: list[Finding] = []
    cleared: list[str] = []
    robots = f == "robots.txt"
    name = describe(f)

    if state == "present":
        cleared += [key("policy_file_missing", d, f), key("policy_file_unreachable", d, f)]
        if sha == previous.last_present_sha256:  # no new change since the last one: that event is over
            cleared.append(key("policy_file_changed", d, f))
        elif previous.last_present_sha256 is not None:
            findings.append(
                Finding(
                    key("policy_file_changed", d, f),
                    "policy_file_changed",
                    "medium",
                    d,
                    f"{name} changed on {d}",
                    f"{name} on {d} now has a different body (sha256 {sha[:12]}, "
                    f"was {previous.last_present_sha256[:12]}).",
                    {
                        "file": f,
                        "sha256": sha,
                        "previous_sha256": previous.last_present_sha256,
                        "diff": _diff(previous.last_present_body, fetched.body),
                        "truncated": fetched.truncated,
                        # A change is an event: it alerts when it happens (again when it happens again) and
                        # resolves silently at the next run that finds no newer change.
                        "resolves_silently": True,
                    },
                )
            )
    elif state == "missing":
        cleared.append(key("policy_file_unreachable", d, f))
        if previous.last_present_sha256 is not None:
            consequence = (
                " A missing robots.txt means every crawler, AI crawlers included, may fetch everything."
                if robots
                else ""
            )
            findings.append(
                Finding(
                    key("policy_file_missing", d, f),
                    "policy_file_missing",
                    "high" if robots else "medium",
                    d,
                    f"{name} disappeared from {d}",
                    f"{name} on {d} answered HTTP {fetched.status} after having been served.{consequence}",
                    {"file": f, "status": fetched.status, "previous_sha256": previous.last_present_sha256},
                )
            )
    elif previous.state == "unreachable":  # the second failed run in a row: a snapshot is kept per state change,
        # so the latest one being "unreachable" means the run before this one failed too. A single failed fetch is
        # weather (a deploy, a blip), and alerting on it would bury real changes in open/resolve pairs.
        why = f"HTTP {fetched.status}" if fetched.status is not None else (fetched.error_kind or "no response")
        consequence = " Under RFC 9309 crawlers must then assume everything is disallowed." if robots else ""
        findings.append(
            Finding(
                key("policy_file_unreachable", d, f),
                "policy_file_unreachable",
                "medium" if robots else "low",
                d,
                f"{name} unreachable on {d}",
                f"Fetching {name} on {d} failed: {why}"
                + (f" ({fetched.error_detail})" if fetched.error_detail else "")
                + f".{consequence}",
                {"file": f, "status": fetched.status, "error_kind": fetched.error_kind},
            )
        )
    return FileVerdict(state, sha, new_version, findings, cleared)
