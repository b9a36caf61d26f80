"""Google's robots.txt conformance vectors and the verdict our RFC 9309 engine owes on each."""

from __future__ import annotations

import json
from pathlib import Path

# A copy of the reference file restated from google/robotstxt robots_test.cc (see ai-signals.md §2.1).
VECTORS_PATH = Path(__file__).parent.parent / "policy" / "robots_google_cases.jsonl"
VECTORS: list[dict] = [
    json.loads(line) for line in VECTORS_PATH.read_text(encoding="utf-8").splitlines() if line.strip()
]

# Google's library does not normalise percent-encoding as RFC 9309 §2.2.2 asks: it never decodes escapes of
# unreserved characters and expects callers to percent-encode the URL themselves. The engine follows the RFC (both
# sides normalised the same way), so on exactly these two vectors its verdict is the opposite of Google's; their
# notes say so ("GOOGLE LIBRARY ..."). Vectors 4, 18, 20 and 53 are Google-only leniencies (missing colon, token cut
# at a space, index.html) that we follow.
RFC_9309_OVER_GOOGLE = {
    43: "a raw UTF-8 URL is percent-encoded before matching, so /foo/bar/ツ matches Allow: /foo/bar/ツ",
    45: "escapes of unreserved characters are decoded, so Allow: /foo/bar/%62%61%7A matches /foo/bar/baz",
}


def expected_allowed(index: int) -> bool:
    """The verdict RFC 9309 gives on vector `index`: Google's, except on the percent-encoding vectors above."""
    case = VECTORS[index]
    if index in RFC_9309_OVER_GOOGLE:
        assert "GOOGLE LIBRARY" in case["note"], case["note"]
        return not case["allowed"]
    return case["allowed"]
