"""The effective robots.txt policy for a fetch outcome (RFC 9309 §2.3.1): parsed rules, allow-all or disallow-all."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from monitor.policy.robots.normalise import path_key
from monitor.policy.robots.parser import MAX_BYTES, ROBOTS_PATH, RobotsFile, Verdict, parse


class FetchState(StrEnum):
    """What a fetch of /robots.txt means for crawling."""

    PARSED = "parsed"  # 2xx: follow the parseable rules
    UNAVAILABLE = "unavailable"  # 4xx: the crawler MAY access anything
    UNREACHABLE = "unreachable"  # 5xx, network error, too many redirects: assume complete disallow


@dataclass(frozen=True)
class FetchPolicy:
    """The policy in force after one fetch; `match` answers like RobotsFile.match."""

    state: FetchState
    status: int | None
    robots: RobotsFile | None
    reason: str

    def match(self, agent: str, url: str) -> Verdict:
        """Verdict for `agent` on `url`; without a parsed file no rule or group applies."""
        if self.robots is not None:
            return self.robots.match(agent, url)
        allowed = self.state is FetchState.UNAVAILABLE or path_key(url) == ROBOTS_PATH
        return Verdict(allowed, None, "none", ())


def fetch_verdict(
    status: int | None,
    body: bytes | str = b"",
    *,
    too_many_redirects: bool = False,
    max_bytes: int = MAX_BYTES,
    treat_429_as_unreachable: bool = True,
) -> FetchPolicy:
    """Map a final HTTP status (None = network error/timeout) and body to the policy crawlers must follow.

    More than five redirects is "unavailable" (allow all), RFC 9309 §2.3.1.2.
    401 and 403 are "unavailable" (allow all) as RFC 9309 says; old CPython robotparser treated them as disallow-all.
    429 is treated like 5xx by default, as Google documents; a literal reading of the RFC's 4xx rule would allow all.
    """
    if too_many_redirects:
        # RFC 9309 §2.3.1.2: past five consecutive redirects crawlers MAY assume the file is unavailable.
        return FetchPolicy(FetchState.UNAVAILABLE, status, None, "more than 5 redirects: unavailable, allow all")
    if status is None:
        return FetchPolicy(FetchState.UNREACHABLE, None, None, "network error")
    if 200 <= status < 300:
        return FetchPolicy(FetchState.PARSED, status, parse(body, max_bytes=max_bytes), f"HTTP {status}")
    if status == 429 and treat_429_as_unreachable:
        return FetchPolicy(FetchState.UNREACHABLE, status, None, "HTTP 429 treated like a server error")
    if 400 <= status < 500:
        return FetchPolicy(FetchState.UNAVAILABLE, status, None, f"HTTP {status}: no robots.txt, allow all")
    # 5xx; also 1xx/3xx as a final status, which a working fetcher never hands over: fail closed.
    return FetchPolicy(FetchState.UNREACHABLE, status, None, f"HTTP {status}: assume complete disallow")
