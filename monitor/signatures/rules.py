"""Page-scope rules: regex rows over sightings and texts, the named rules of §3.1 that are not plain regexes,
per-match severity adjustments and the §3.2 composite escalations."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

from monitor.net import host_of, is_soundcloud_host
from monitor.signatures.context import PageContext, Sighting
from monitor.signatures.data import Signature
from monitor.signatures.model import (
    SNIPPET_CHARS,
    Match,
    named_track_ids,
    permalink_of,
    raise_to,
    severity_rank,
    track_ref,
)
from monitor.signatures.normalise import decode_policy, param, signed_info

MAX_TEXT_HITS = 50
MEDIA_EVIDENCE = frozenset(
    {"SC-CDN-PROGRESSIVE", "SC-CDN-ORIGINAL", "SC-CDN-HLS-MP3", "SC-CDN-HLS-OPUS", "SC-CDN-AAC", "SC-SIGNED-POLICY"}
    | {"SC-PROXY-PARAM", "SC-HLS-REWRITE", "SC-FRONTEND-PATHS", "SC-API-MEDIA-RESOLVER"}
)
DL_EVIDENCE = (MEDIA_EVIDENCE - {"SC-SIGNED-POLICY"}) | {"SC-DL-FILENAME"}
WEAK = ("SC-CDN-PREVIEW", "SC-CDN-LEGACY", "SC-API-RESOLVE", "SC-DL-FILENAME", "SC-DL-BITRATE-CLAIM")
WEAK += ("SC-FILE-RAW-TRANSCODE", "SC-ARCHIVE-DOWNLOADER-PAGE")
DL_NAME = re.compile(
    r"(?i)(?:soundcloud_(\d{5,11})_audio|\(soundcloud(?:, (\d{5,11}))?\)|soundcloud-(\d{5,11})|\[(\d{5,11})\])"
    r"\.(?:mp3|m4a|opus|ogg|wav|flac)\b"
)
CLIENT_ID = re.compile(r"(?i)client_?id[\"']?\s*(?:[:=]|%3D)\s*[\"']?([A-Za-z0-9]{32})\b")
SC_API_CONTEXT = re.compile(r"(?i)api-v2\.soundcloud\.com|api\.soundcloud\.com/i1/|/media/soundcloud(?::|%3A)tracks")
HLS_LINE = re.compile(
    r"[A-Za-z0-9]{12}\.128\.mp3|\.64\.opus|aac_(?:96|160|256)k|sndcdn\.com|media-streaming\.soundcloud\.cloud"
)
FRONTEND = re.compile(
    r"(?i)^/_/(proxy/(?:hls|streams|images)|api/(?:hls|progressive|restream)|restream|download)(?:/|$)"
)
# DRM vocabulary only: a bare /license path is as often an open-source licences page
LICENSE_RELAY = re.compile(r"(?i)fairplay|widevine|playready|/drm(?:/|$)|[/_-](?:spc|ckc)(?:[/?._-]|$)")
BITRATE_CLAIM = re.compile(r"(?i)\b320[\s-]{0,3}(?:kbps|kb/s|kbit/s|k)\b|\bflac\b|\blossless\b|\bHQ\b")
DOWNLOAD_WORDS = re.compile(r"(?i)download|\bmp3\b|convert|\bsave\b|\brip\b")

Rule = Callable[[Signature, PageContext], list[Match]]


def _iso(epoch: int | None) -> str | None:
    if epoch is None:
        return None
    try:
        return datetime.fromtimestamp(epoch, UTC).isoformat()
    except (OverflowError, OSError, ValueError):
        return None


def hit(
    sig: Signature, url: str, snippet: str, ctx: PageContext, *, sighting: Sighting | None = None,
    severity: str | None = None, detail: str = "", data: dict | None = None, key: str | None = None,
) -> Match:  # fmt: skip
    """Build a match; sighting facts (where, frame, wrapper, download, decoded policy, liveness) go into data."""
    d: dict = {}
    extra = ""
    if sighting is not None:
        d["where"] = sighting.where
        for name in ("frame", "wrapper", "legit"):
            if getattr(sighting, name):
                d[name] = getattr(sighting, name)
        if sighting.download:
            d["download_control"] = True
            extra = " in a download control"
        if sighting.signed is not None:
            sg = sighting.signed
            if sg.policy is not None:
                d["policy_resource"], d["policy_expiry"] = sg.policy.resource, sg.policy.epoch_expiry
            if sg.expires is not None:
                d["expires"] = sg.expires
            if sg.key_pair_id:
                d["key_pair_id"] = sg.key_pair_id
            d["live"] = sg.live(ctx.now)
            if sg.expiry() is not None:
                extra += f"; signed URL {'live until' if d['live'] else 'expired at'} {_iso(sg.expiry())}"
    d.update(data or {})
    if key is not None:
        d["_key"] = key
    where = f" ({d['where']}{extra})" if "where" in d else ""
    track = track_ref(snippet, sighting.url if sighting else "", str(d.get("policy_resource") or ""))
    return Match(sig.id, sig.family, severity or sig.severity, url, detail or f"{sig.explanation}{where}",
                 snippet[:SNIPPET_CHARS], track, d)  # fmt: skip


# ---- per-match severity rules (named by Signature.adjust) -------------------------------------------------------


def _live(s: Sighting, ctx: PageContext) -> bool:
    return s.signed is not None and s.signed.live(ctx.now)


ADJUST: dict[str, Callable[[Signature, Sighting, PageContext], str]] = {
    "live_or_download": lambda sig, s, ctx: "critical" if s.download or _live(s, ctx) else sig.severity,
    "live": lambda sig, s, ctx: "critical" if _live(s, ctx) else sig.severity,
    "i1_or_client_id": lambda sig, s, ctx: sig.severity if "/i1/" in s.url or "client_id=" in s.url else "low",
}


def apply_pattern(sig: Signature, ctx: PageContext) -> list[Match]:
    """Run a regex row over the sightings (``url`` scope) and texts (``html``/``script`` scopes)."""
    assert sig.pattern is not None
    out: list[Match] = []
    if "url" in sig.applies:
        for s in ctx.sightings:
            m = sig.pattern.search(s.url)
            if m is None and "%" in s.url:
                m = sig.pattern.search(unquote(s.url))  # §3.1 #10: "after one decode pass"
            if m is None:
                continue
            severity = ADJUST[sig.adjust](sig, s, ctx) if sig.adjust else sig.severity
            key = unquote(m.group(0))
            out.append(hit(sig, s.found_in, m.group(0), ctx, sighting=s, severity=severity, key=key))
    for t in ctx.texts:
        if t.scope in sig.applies:
            for m in itertools.islice(sig.pattern.finditer(t.text), 1 if sig.per_resource else MAX_TEXT_HITS):
                key = t.found_in if sig.per_resource else m.group(0)
                out.append(hit(sig, t.found_in, m.group(0), ctx, data={"where": t.scope}, key=key))
    return out


# ---- named page rules -------------------------------------------------------------------------------------------


def signed_policy(sig: Signature, ctx: PageContext) -> list[Match]:
    """#8: any URL (or wrapped URL) whose own Policy decodes to SoundCloud media; critical while live."""
    out = []
    for s in ctx.sightings:
        if "policy=" not in s.url.lower():
            continue
        own = signed_info(s.url)
        if own is None or own.policy is None or not own.policy.is_soundcloud:
            continue
        live = own.live(ctx.now)
        sev = "critical" if live else sig.severity
        detail = f"CloudFront Policy for {own.policy.resource[:120]} ({'live' if live else 'expired'}) at {s.where}"
        data = {"policy_resource": own.policy.resource, "policy_expiry": own.policy.epoch_expiry, "live": live}
        data |= {"has_signature": own.has_signature, "expires": own.expires}
        key = own.policy.resource
        out.append(hit(sig, s.found_in, s.url, ctx, sighting=s, severity=sev, detail=detail, data=data, key=key))
    return out


def drm_license(sig: Signature, ctx: PageContext) -> list[Match]:
    """#9: license.media-streaming.soundcloud.cloud referenced, or a third-party license/DRM endpoint on a page
    that already shows SoundCloud media evidence (a relay of FairPlay SPC/CKC or Widevine exchanges)."""
    out = []
    evidence = any(m.signature in MEDIA_EVIDENCE and severity_rank(m.severity) > 0 for m in ctx.matches)
    for s in ctx.sightings:
        host = host_of(s.url)
        if host == "license.media-streaming.soundcloud.cloud":
            out.append(hit(sig, s.found_in, s.url, ctx, sighting=s, key=s.url.split("?", 1)[0]))
        elif evidence and host and not is_soundcloud_host(host):
            try:
                path = urlsplit(s.url).path
            except ValueError:
                continue
            if LICENSE_RELAY.search(path):
                detail = "Third-party DRM/license endpoint on a page that serves SoundCloud media: license relaying."
                out.append(hit(sig, s.found_in, s.url, ctx, sighting=s, detail=detail, key=s.url.split("?", 1)[0]))
    return out


def hls_rewrite(sig: Signature, ctx: PageContext) -> list[Match]:
    """#11: a playlist from a non-SoundCloud host whose lines carry SoundCloud tokens/hosts or Policies."""
    out = []
    for url, text in ctx.playlists:
        if is_soundcloud_host(host_of(url)):
            continue
        reasons: set[str] = set()
        first = ""
        policies = []
        lines = text.splitlines()[:20000]
        for line in lines:
            line = line.strip()
            if not line:
                continue
            decoded = unquote(unquote(line[:8192]))
            found = HLS_LINE.search(decoded)
            uri_line = not line.startswith("#") or line.upper().startswith("#EXT-X-MAP")
            carries_policy = uri_line and "Policy=" in decoded
            if found:
                reasons.add(f"line names {found.group(0)}")
            if carries_policy:
                reasons.add("segment/map line carries Policy=")
                m = re.search(r"Policy=([A-Za-z0-9_~+/=%-]+)", decoded)
                pol = decode_policy(m.group(1)) if m else None
                if pol is not None and pol.is_soundcloud and pol not in policies:
                    policies.append(pol)
            if (found or carries_policy) and not first:
                first = line
        if not reasons:
            continue
        data: dict = {"reasons": sorted(reasons), "lines": len(lines)}
        if policies:
            data["policy_resource"], data["policy_expiry"] = policies[0].resource, policies[0].epoch_expiry
            data["live"] = policies[0].epoch_expiry is not None and ctx.now < policies[0].epoch_expiry
        detail = f"Playlist served by {host_of(url)} re-serves SoundCloud HLS ({'; '.join(sorted(reasons))[:200]})."
        out.append(hit(sig, url, first, ctx, detail=detail, data=data, key=url))
    return out


def frontend_paths(sig: Signature, ctx: PageContext) -> list[Match]:
    """#12: soundcloak-style ``/_/…`` proxy paths with a SoundCloud-like scheme; critical when they served audio."""
    out = []
    audio_paths = set()
    for r in ctx.served:
        ctype = r.content_type.lower()
        if (ctype.startswith("audio/") or "mpegurl" in ctype or r.kind in ("audio", "playlist")) and r.status in (
            None, 200, 206,
        ):  # fmt: skip
            audio_paths.add(r.url.split("?", 1)[0])
    for s in ctx.sightings:
        host = host_of(s.url)
        if not host or is_soundcloud_host(host):
            continue
        try:
            parts = urlsplit(s.url)
        except ValueError:
            continue
        m = FRONTEND.match(parts.path)
        if not m:
            continue
        rest = [seg for seg in parts.path[m.end() :].split("/") if seg]
        query_sc = any(x in unquote(parts.query).lower() for x in ("soundcloud.", "sndcdn."))
        if len(rest) < 2 and not query_sc:
            continue
        kind = m.group(1).lower()
        served_audio = s.url.split("?", 1)[0] in audio_paths and kind in ("proxy/hls", "download", "api/hls")
        sev = "critical" if served_audio else sig.severity
        data = {"path_kind": kind, "served_audio": served_audio}
        out.append(hit(sig, s.found_in, s.url, ctx, sighting=s, severity=sev, data=data, key=f"{host}/_/{kind}"))
    return out


def client_id(sig: Signature, ctx: PageContext) -> list[Match]:
    """#14: a 32-char client_id only where SoundCloud API context is in the same resource (or the same URL)."""
    out = []
    for t in ctx.texts:
        if not SC_API_CONTEXT.search(t.text):
            continue
        for m in itertools.islice(CLIENT_ID.finditer(t.text), MAX_TEXT_HITS):
            data = {"client_id": m.group(1), "where": t.scope}
            out.append(hit(sig, t.found_in, m.group(0), ctx, data=data, key=m.group(1)))
    for s in ctx.sightings:
        if host_of(s.url) in ("api-v2.soundcloud.com", "api.soundcloud.com"):
            cid = param(s.url, "client_id") or ""
            if re.fullmatch(r"[A-Za-z0-9]{32}", cid):
                out.append(hit(sig, s.found_in, s.url, ctx, sighting=s, data={"client_id": cid}, key=cid))
    return out


def downloader_page(sig: Signature, ctx: PageContext) -> list[Match]:
    """#21: a form that takes SoundCloud links + a download control + SoundCloud media evidence → critical;
    the form alone on a page that talks about downloading/converting → high."""
    out = []
    evidence = sorted({m.signature for m in ctx.matches if m.signature in DL_EVIDENCE and severity_rank(m.severity)})
    for url, facts in ctx.html:
        input_text = " ".join(" ".join(i.values()) for i in facts.inputs).lower()
        form_text = " ".join(facts.form_texts + facts.labels).lower()
        has_input = bool(facts.inputs)
        sc_form = "soundcloud" in input_text or (has_input and "soundcloud" in form_text)
        if not sc_form:
            continue
        control = sorted({u.where for u in facts.urls if u.download})
        audio_href = [u.url for u in facts.urls if u.where == "a[href]" and _audio_ext(u.url)]
        attachments = [name for _, name in ctx.attachments]
        has_control = bool(control or audio_href or attachments)
        data = {"download_controls": control[:10], "audio_links": audio_href[:10], "attachments": attachments[:10]}
        data["evidence"] = evidence
        if has_control and evidence:
            detail = f"SoundCloud downloader page: link form, download control and {', '.join(evidence)}."
            out.append(hit(sig, url, facts.title or url, ctx, severity="critical", detail=detail, data=data, key=url))
        elif DOWNLOAD_WORDS.search(" ".join([facts.title, form_text, input_text])):
            detail = "Form that takes SoundCloud links on a download/convert page (no media evidence captured)."
            out.append(hit(sig, url, facts.title or url, ctx, severity="high", detail=detail, data=data, key=url))
    return out


def _audio_ext(url: str) -> bool:
    return bool(re.search(r"(?i)\.(?:mp3|m4a|opus|ogg|wav|flac|aac)(?:$|[?#])", url))


def dl_filename(sig: Signature, ctx: PageContext) -> list[Match]:
    """#22: downloader filename conventions in URLs, ``download=`` names and Content-Disposition filenames."""
    out = []
    cands = [(s.found_in, unquote(unquote(s.url)), s) for s in ctx.sightings]
    cands += [(url, name, None) for url, name in ctx.download_names + ctx.attachments]
    for found_in, text, s in cands:
        m = DL_NAME.search(text)
        if m:
            track_id = next((g for g in m.groups() if g), None)
            data = {"filename": m.group(0), "track_id": track_id, "generic_form": bool(m.group(4))}
            out.append(hit(sig, found_in, m.group(0), ctx, sighting=s, data=data, key=m.group(0).lower()))
    return out


def bitrate_claim(sig: Signature, ctx: PageContext) -> list[Match]:
    """#23: "320 kbps"/"FLAC"/"HQ" downloads offered on a page about downloading SoundCloud tracks."""
    out = []
    for url, facts in ctx.html:
        blob = " ".join([facts.title, facts.text[:65536], *facts.form_texts, *facts.labels])
        m = BITRATE_CLAIM.search(blob)
        if m and "soundcloud" in blob.lower() and DOWNLOAD_WORDS.search(blob):
            start = max(0, m.start() - 60)
            out.append(hit(sig, url, blob[start : m.end() + 60], ctx, data={"claim": m.group(0)}, key=url))
    return out


def permalink(sig: Signature, ctx: PageContext) -> list[Match]:
    """#32: track permalinks (classifier, info)."""
    out = []
    for s in ctx.sightings:
        if "soundcloud.com/" not in s.url.lower():
            continue
        p = permalink_of(s.url)
        if p:
            snippet = p[0] + (f"/{p[1]}" if p[1] else "")
            out.append(hit(sig, s.found_in, snippet, ctx, sighting=s, key=snippet))
    return out


PAGE_RULES: dict[str, Rule] = {
    "signed_policy": signed_policy,
    "drm_license": drm_license,
    "hls_rewrite": hls_rewrite,
    "frontend_paths": frontend_paths,
    "client_id": client_id,
    "downloader_page": downloader_page,
    "dl_filename": dl_filename,
    "bitrate_claim": bitrate_claim,
    "permalink": permalink,
}


# ---- §3.2 composite escalation -----------------------------------------------------------------------------------


def escalate_page(matches: list[Match], ctx: PageContext) -> list[Match]:
    """#18 high with #13/#14; #22 high when its id is a track id seen on the page; two or more distinct weak
    signatures on one page → medium. Suppressed (info) matches neither escalate nor count."""
    active = [m for m in matches if severity_rank(m.severity) > 0]
    ids = {m.signature for m in active}
    page_ids = set(ctx.track_ids)  # data-track-id attributes, URNs and API track URLs; never a file name's id
    for s in ctx.sightings:
        page_ids |= named_track_ids(s.url)
    for m in matches:
        page_ids |= named_track_ids(m.snippet)
    weak = sorted({m.signature for m in active if m.signature in WEAK})
    out = []
    for m in matches:
        sev, why = m.severity, None
        if severity_rank(sev) == 0:
            out.append(m)
            continue
        if m.signature == "SC-API-RESOLVE" and ids & {"SC-API-MEDIA-RESOLVER", "SC-CLIENT-ID-IN-3P"}:
            sev, why = raise_to(sev, "high"), "resolve used together with the media resolver / client_id"
        elif m.signature == "SC-DL-FILENAME" and m.data.get("track_id") in page_ids:
            sev, why = raise_to(sev, "high"), f"track id {m.data['track_id']} is named elsewhere on the page"
        if m.signature in WEAK and len(weak) >= 2 and severity_rank(sev) < severity_rank("medium"):
            sev, why = "medium", "co-occurring weak signals: " + ", ".join(weak)
        if why:
            m = Match(m.signature, m.family, sev, m.url, m.detail, m.snippet, m.track, {**m.data, "escalated": why})
        out.append(m)
    return out
