"""The protected catalogue: tracks the team cares most about (no-AI, canaries), looked up by id, URN, media token or
permalink; a match naming a no-AI or canary track becomes critical."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from monitor.errors import ConfigError
from monitor.signatures.model import Match, TrackRef, permalink_of, severity_rank

COLUMNS = ("id", "permalink", "media_tokens", "title", "artist", "no_ai", "canary")
_TRUE = frozenset({"true", "yes", "y", "1", "on"})
_FALSE = frozenset({"false", "no", "n", "0", "off", ""})
_ID = re.compile(r"\d{1,12}")
_TOKEN = re.compile(r"[A-Za-z0-9]{12}")
_URN = re.compile(r"(?i)soundcloud(?::|%3A)tracks(?::|%3A)(\d{1,12})")


@dataclass(frozen=True)
class CatalogueTrack:
    """One protected track."""

    id: str
    permalink: str
    media_tokens: tuple[str, ...] = ()
    title: str = ""
    artist: str = ""
    no_ai: bool = False
    canary: bool = False
    audio: str = ""  # reference audio file (absolute once loaded; relative to the catalogue file in it)

    def summary(self) -> dict:
        """What a match records about the track."""
        return {"id": self.id, "permalink": self.permalink, "title": self.title, "artist": self.artist,
                "no_ai": self.no_ai, "canary": self.canary}  # fmt: skip


def normalise_permalink(url: str) -> str | None:
    """``soundcloud.com/{user}/{track}`` for any scheme, ``m.``/``www.``, host case, trailing slash or secret token."""
    text = url.strip()
    if text and "://" not in text:
        text = "https://" + text
    found = permalink_of(re.sub(r"(?i)^(https?://)([^/]+)", lambda m: m.group(1) + m.group(2).lower(), text))
    return found[0].split("://", 1)[1] if found else None


@dataclass
class Catalogue:
    """Protected tracks with lookup indexes."""

    tracks: list[CatalogueTrack] = field(default_factory=list)
    by_id: dict[str, CatalogueTrack] = field(default_factory=dict)
    by_token: dict[str, CatalogueTrack] = field(default_factory=dict)
    by_permalink: dict[str, CatalogueTrack] = field(default_factory=dict)

    def add(self, track: CatalogueTrack) -> None:
        """Index a track (the loader has already checked for duplicates)."""
        self.tracks.append(track)
        self.by_id[track.id] = track
        for tok in track.media_tokens:
            self.by_token[tok] = track
        key = normalise_permalink(track.permalink)
        if key:
            self.by_permalink[key] = track

    def lookup(self, track: TrackRef | None) -> CatalogueTrack | None:
        """The catalogue track a reference names: by id, URN, media token, then permalink."""
        if track is None:
            return None
        urn = _URN.search(track.urn or "")
        for candidate in (
            self.by_id.get(track.track_id or ""),
            self.by_id.get(urn.group(1)) if urn else None,
            self.by_token.get(track.media_token or ""),
            self.by_permalink.get(normalise_permalink(track.permalink or "") or ""),
        ):
            if candidate is not None:
                return candidate
        return None


def _bool(value: object, where: str, column: str, errors: list[tuple[str, str]]) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value if value is not None else "").strip().lower()
    if text in _TRUE:
        return True
    if text not in _FALSE:
        errors.append((f"{where}, column {column}", f"not a boolean: {str(value)[:40]!r} (use true/false)"))
    return False


def _row(raw: dict, where: str, errors: list[tuple[str, str]]) -> CatalogueTrack | None:
    before = len(errors)
    tid = str(raw.get("id") or "").strip()
    if not _ID.fullmatch(tid):
        errors.append((f"{where}, column id", f"not a SoundCloud track id: {tid[:40]!r}"))
    permalink = str(raw.get("permalink") or "").strip()
    if permalink and normalise_permalink(permalink) is None:
        errors.append((f"{where}, column permalink", f"not a soundcloud.com track permalink: {permalink[:80]!r}"))
    tokens_raw = raw.get("media_tokens")
    if isinstance(tokens_raw, list):
        tokens = [str(t).strip() for t in tokens_raw if str(t).strip()]
    else:
        tokens = [t for t in re.split(r"[\s;,]+", str(tokens_raw or "")) if t]
    for tok in tokens:
        if not _TOKEN.fullmatch(tok):
            errors.append((f"{where}, column media_tokens", f"not a 12-character media token: {tok[:40]!r}"))
    no_ai = _bool(raw.get("no_ai"), where, "no_ai", errors)
    canary = _bool(raw.get("canary"), where, "canary", errors)
    if len(errors) > before:
        return None
    title, artist = str(raw.get("title") or "").strip(), str(raw.get("artist") or "").strip()
    audio = str(raw.get("audio") or "").strip()
    return CatalogueTrack(tid, permalink, tuple(tokens), title, artist, no_ai, canary, audio)


def _csv_rows(text: str, errors: list[tuple[str, str]]) -> Iterable[tuple[str, dict]]:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        errors.append(("line 1 (header)", f"missing column(s): {', '.join(missing)}"))
        return
    reader.fieldnames = header
    for raw in reader:
        yield f"line {reader.line_num}", {k: (v or "") for k, v in raw.items() if k}


def _yaml_rows(text: str, errors: list[tuple[str, str]]) -> Iterable[tuple[str, dict]]:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(yaml)"
        errors.append((where, str(getattr(exc, "problem", exc))))
        return
    if isinstance(root, yaml.MappingNode):
        root = next((v for k, v in root.value if getattr(k, "value", None) == "tracks"), None)
    if not isinstance(root, yaml.SequenceNode):
        errors.append(("(root)", "expected a list of tracks (or a mapping with a 'tracks' list)"))
        return
    for item in root.value:
        where = f"line {item.start_mark.line + 1}"
        if not isinstance(item, yaml.MappingNode):
            errors.append((where, "each track must be a mapping"))
            continue
        raw: dict = {}
        for key, value in item.value:
            name = str(key.value).strip().lower()
            if isinstance(value, yaml.SequenceNode):
                raw[name] = [getattr(v, "value", "") for v in value.value]
            elif isinstance(value, yaml.ScalarNode):
                raw[name] = value.value
            else:
                errors.append((f"{where}, column {name}", "expected a value or a list"))
        missing = [c for c in COLUMNS if c not in raw and c not in ("title", "artist", "media_tokens")]
        if missing:
            errors.append((where, f"missing column(s): {', '.join(missing)}"))
            continue
        yield where, raw


def load_catalogue(path: str | Path | None) -> Catalogue:
    """Load a catalogue from CSV (``media_tokens`` space/``;``-separated) or YAML (a list, or ``tracks:``); no path
    (``catalogue.path`` unset) is the empty catalogue.

    An optional ``audio`` column names the track's reference audio file, relative to the catalogue file.

    Raises :class:`monitor.errors.ConfigError` naming the file, the line and the column of every problem:
    missing columns, bad booleans, malformed ids/tokens/permalinks, and duplicate ids, tokens or permalinks.
    """
    if path is None:
        return Catalogue()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([("(file)", f"cannot read {path}: {exc}")], str(path)) from exc
    errors: list[tuple[str, str]] = []
    rows = _yaml_rows(text, errors) if path.suffix.lower() in (".yaml", ".yml") else _csv_rows(text, errors)
    cat = Catalogue()
    first_seen: dict[tuple[str, str], str] = {}
    for where, raw in rows:
        track = _row(raw, where, errors)
        if track is None:
            continue
        keys = [("id", track.id)] + [("media_tokens", t) for t in track.media_tokens]
        if track.permalink:
            keys.append(("permalink", normalise_permalink(track.permalink) or ""))
        dupes = [(col, val) for col, val in keys if (col, val) in first_seen]
        for col, val in dupes:
            errors.append((f"{where}, column {col}", f"duplicate {val!r} (first at {first_seen[(col, val)]})"))
        if dupes:
            continue
        first_seen.update(dict.fromkeys(keys, where))
        if track.audio:
            track = replace(track, audio=str((path.parent / track.audio).resolve()))
        cat.add(track)
    if errors:
        raise ConfigError(errors, str(path))
    return cat


def escalate(matches: Iterable[Match], catalogue: Catalogue) -> list[Match]:
    """Record the catalogue track a match names in ``data['catalogue_track']``; a no-AI or canary track makes
    the match critical. Info matches (classifiers, legitimate contexts) are annotated but never escalated.
    Dataset matches are checked against the track sample in ``data['tracks']``."""
    out = []
    for m in matches:
        refs = [m.track] + [TrackRef(t.get("track_id"), None, t.get("permalink"), None, None)
                            for t in m.data.get("tracks", []) if isinstance(t, dict)]  # fmt: skip
        hits = [t for t in (catalogue.lookup(r) for r in refs) if t is not None]
        if not hits:
            out.append(m)
            continue
        track = next((t for t in hits if t.no_ai or t.canary), hits[0])
        data = {**m.data, "catalogue_track": track.summary()}
        severity = m.severity
        if (track.no_ai or track.canary) and severity_rank(m.severity) > 0:
            severity = "critical"
            data["escalated"] = f"names protected track {track.id} ({'no_ai' if track.no_ai else 'canary'})"
        out.append(replace(m, severity=severity, data=data))
    return out
