"""CloudFront signed-URL parts (§2.5): the custom ``Policy`` decoded to its resource and expiry, ``expires=``."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

MAX_POLICY_CHARS = 8192
MAX_URL_CHARS = 8192


def _params(url: str) -> dict[str, str]:
    """Query parameters by lower-cased name (first value wins); {} when unparsable."""
    try:
        pairs = parse_qsl(urlsplit(url[:MAX_URL_CHARS]).query, keep_blank_values=True)[:32]
    except ValueError:
        return {}
    return {k.lower(): v for k, v in reversed(pairs)}


@dataclass(frozen=True)
class Policy:
    """A decoded CloudFront custom policy: the first resource, its expiry (``AWS:EpochTime``) and all resources."""

    resource: str
    epoch_expiry: int | None
    resources: tuple[str, ...] = ()

    @property
    def is_soundcloud(self) -> bool:
        """The policy grants access to SoundCloud media (sndcdn.com or media-streaming.soundcloud.cloud)."""
        resources = self.resources or (self.resource,)
        return any("sndcdn.com" in r or "media-streaming.soundcloud.cloud" in r for r in resources)


def decode_policy(value: str | None) -> Policy | None:
    """CloudFront URL-safe base64 (``-``→``+``, ``_``→``=``, ``~``→``/``) JSON policy → :class:`Policy`, or None."""
    if not value or len(value) > MAX_POLICY_CHARS:
        return None
    s = unquote(unquote(value.strip())).replace(" ", "+")
    doc = None
    # CloudFront's own alphabet first, then plain base64url for writers that use the RFC 4648 one
    for table in (str.maketrans("-_~", "+=/"), str.maketrans("-_", "+/")):
        t = s.translate(table).rstrip("=")
        try:
            doc = json.loads(base64.b64decode(t + "=" * (-len(t) % 4), validate=True).decode("utf-8"))
            break
        except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
            continue
    statements = doc.get("Statement") if isinstance(doc, dict) else None
    if not isinstance(statements, list):
        return None
    resources: list[str] = []
    expiries: list[int] = []
    for st in statements[:16]:
        if not isinstance(st, dict):
            continue
        if isinstance(st.get("Resource"), str):
            resources.append(st["Resource"][:MAX_URL_CHARS])
        cond = st.get("Condition")
        less = cond.get("DateLessThan") if isinstance(cond, dict) else None
        epoch = less.get("AWS:EpochTime") if isinstance(less, dict) else None
        if isinstance(epoch, dict):  # some writers nest {"AWS:EpochTime": {"N": 1}}-like forms
            epoch = next(iter(epoch.values()), None)
        if isinstance(epoch, int | float | str) and str(epoch).strip().isdigit():
            expiries.append(int(str(epoch).strip()))
        elif isinstance(epoch, int | float) and not isinstance(epoch, bool):
            expiries.append(int(epoch))
    if not resources:
        return None
    return Policy(resources[0], min(expiries) if expiries else None, tuple(resources))


@dataclass(frozen=True)
class Signed:
    """What a signed media URL says about itself: decoded policy, signature parts and ``expires=``."""

    policy: Policy | None
    has_signature: bool
    key_pair_id: str | None
    expires: int | None

    def expiry(self) -> int | None:
        """The earliest known expiry: Policy EpochTime and ``expires=`` can differ; the earlier one wins."""
        known = [e for e in (self.policy.epoch_expiry if self.policy else None, self.expires) if e is not None]
        return min(known) if known else None

    def live(self, now_epoch: float) -> bool:
        """Not expired at ``now_epoch`` by every known expiry (unknown expiry is not live)."""
        exp = self.expiry()
        return exp is not None and now_epoch < exp


def signed_info(url: str) -> Signed | None:
    """Policy/Signature/Key-Pair-Id/expires parameters of ``url`` (None when it carries none of them)."""
    params = _params(url)
    if not ({"policy", "signature", "key-pair-id", "expires"} & params.keys()):
        return None
    raw_exp = params.get("expires", "").strip()
    return Signed(
        policy=decode_policy(params.get("policy")),
        has_signature="signature" in params,
        key_pair_id=params.get("key-pair-id") or None,
        expires=int(raw_exp) if raw_exp.isdigit() and len(raw_exp) <= 12 else None,
    )
