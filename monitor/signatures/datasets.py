"""Dataset cards, CSV/JSONL rows and sidecar files: #29 listings, #30 yt-dlp info.json, #31 secret tokens; and
#29 on any crawled page (``page_listing``): many track references together with dataset vocabulary."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from monitor.signatures.data import Signature
from monitor.signatures.model import PERMALINK, RESERVED_FIRST, SNIPPET_CHARS, Match, track_ref
from monitor.signatures.normalise import MAX_SCAN_BYTES, unescape_js

MAX_TRACK_SAMPLE = 200
BULK_TRACKS = 1000
_URN = re.compile(r"(?i)soundcloud(?::|%3A)tracks(?::|%3A)(\d{1,12})\b")
_API = re.compile(r"(?i)api(?:-v2)?\.soundcloud\.com/tracks/(\d{1,12})\b")
_SECRET = re.compile(r"(?i)(?:soundcloud\.com/[\w-]+/(?:sets/)?[\w-]+/|secret_token(?:=|%3D))(s-[A-Za-z0-9]{5,})")
_ARR = re.compile(r"(?i)all[-_ ]rights[-_ ]reserved")
_AUDIO_FILE = re.compile(r"(?i)(?<![\w./-])[\w./-]+\.(?:mp3|opus|ogg|oga|wav|flac|m4a|aac)\b")
_AUDIO_FEATURE = re.compile(
    r"(?i)dtype:\s*audio\b|\"_type\"\s*:\s*\"Audio\"|\"audio\"\s*:\s*\{\s*\"(?:path|bytes|src)\""
)
_PHRASE = re.compile(
    r"(?i)\b(?:collected|scraped|crawled|downloaded|harvested|gathered|ripped)\s+(?:[\w-]+\s+){0,4}?from\s+"
    r"(?:[\w-]+\s+){0,2}?soundcloud\b"
)
_SIZE_CATEGORY = re.compile(r"(?i)\b(\d+)([KMB]?)<n<")
_DECLARED = re.compile(r"(?i)\b(\d{1,3}(?:,\d{3})+|\d{2,9})\s+(?:[\w-]+\s+){0,3}?(?:tracks|songs|recordings)\b")
_JSON_KEY = re.compile(r"\"([\w.]{2,40})\"\s*:")
_YAML_NAME = re.compile(r"(?m)^[ \t]*(?:-[ \t]*)?name:[ \t]*([\w.]{2,40})[ \t]*$")
SC_COLUMNS = frozenset({"soundcloud_url", "sc_track_id", "waveform_url", "media.transcodings", "transcodings"})
SC_COLUMNS |= {"track_authorization", "soundcloud_id", "sc_url", "soundcloud_permalink"}
GENERIC_COLUMNS = frozenset({"permalink_url", "urn"})


@dataclass
class DatasetFacts:
    """Counts a dataset text yields; ``tracks`` is a sample of track references for catalogue lookups."""

    url: str
    text: str
    truncated: bool
    permalinks: set[str] = field(default_factory=set)
    track_ids: set[str] = field(default_factory=set)
    urns: set[str] = field(default_factory=set)
    secret_tokens: set[str] = field(default_factory=set)
    all_rights_reserved: int = 0
    audio_files: int = 0
    audio_feature: bool = False
    columns: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)
    declared_tracks: int = 0
    tracks: list[dict] = field(default_factory=list)

    @property
    def audio_present(self) -> bool:
        """Audio files (paths or an audio feature) ship with the dataset."""
        return self.audio_files > 0 or self.audio_feature

    @property
    def track_count(self) -> int:
        """Distinct tracks referenced, or the declared size when larger."""
        return max(len(self.permalinks), len(self.track_ids), self.declared_tracks)

    def counts(self) -> dict:
        """The counts recorded in match data."""
        return {
            "permalinks": len(self.permalinks), "track_ids": len(self.track_ids), "urns": len(self.urns),
            "secret_tokens": len(self.secret_tokens), "all_rights_reserved": self.all_rights_reserved,
            "audio_present": self.audio_present, "audio_files": self.audio_files, "columns": self.columns,
            "phrases": self.phrases[:5], "declared_tracks": self.declared_tracks, "track_count": self.track_count,
            "truncated": self.truncated, "tracks": self.tracks,
        }  # fmt: skip


def _columns(text: str) -> set[str]:
    cols = {m.group(1).lower() for m in itertools.islice(_JSON_KEY.finditer(text), 100000)}
    cols |= {m.group(1).lower() for m in _YAML_NAME.finditer(text[:200000])}
    for line in text.splitlines()[:5000]:
        line = line.strip()
        if line.startswith("|") and line.count("|") >= 3:
            cols |= {c.strip().strip("`").lower() for c in line.split("|") if c.strip()}
    first = text.lstrip().split("\n", 1)[0]
    if "," in first and "{" not in first:
        cols |= {c.strip().strip('"').lower() for c in first.split(",")}
    return cols


def read_dataset(url: str, text: str) -> DatasetFacts:
    """Count SoundCloud references and dataset features in (the first 2 MiB of) a dataset text."""
    raw = text if isinstance(text, str) else ""
    facts = DatasetFacts(url, unescape_js(raw[:MAX_SCAN_BYTES]), len(raw) > MAX_SCAN_BYTES)
    t = facts.text
    for m in PERMALINK.finditer(t):
        user, track = m.group(1).lower(), m.group(2).lower()
        if user not in RESERVED_FIRST and track not in ("sets", "tracks", "albums", "likes", "reposts"):
            link = f"https://soundcloud.com/{user}/{track}"
            if link not in facts.permalinks and len(facts.tracks) < MAX_TRACK_SAMPLE:
                facts.tracks.append({"permalink": link})
            facts.permalinks.add(link)
    for m in _URN.finditer(t):
        facts.urns.add(m.group(1))
        facts.track_ids.add(m.group(1))
    facts.track_ids |= {m.group(1) for m in _API.finditer(t)}
    for tid in sorted(facts.track_ids)[: max(0, MAX_TRACK_SAMPLE - len(facts.tracks))]:
        facts.tracks.append({"track_id": tid})
    facts.secret_tokens = {m.group(1) for m in _SECRET.finditer(t)}
    facts.all_rights_reserved = sum(1 for line in t.splitlines() if _ARR.search(line))
    facts.audio_files = sum(1 for _ in itertools.islice(_AUDIO_FILE.finditer(t), 100000))
    facts.audio_feature = bool(_AUDIO_FEATURE.search(t))
    cols = _columns(t)
    facts.columns = sorted(cols & (SC_COLUMNS | GENERIC_COLUMNS))
    facts.phrases = [m.group(0) for m in itertools.islice(_PHRASE.finditer(t), 10)]
    declared = [int(n) * {"": 1, "K": 1000, "M": 10**6, "B": 10**9}[u.upper()] for n, u in _SIZE_CATEGORY.findall(t)]
    declared += [int(n.replace(",", "")) for n in _DECLARED.findall(t)]
    facts.declared_tracks = max(declared, default=0)
    return facts


def dataset_listing(sig: Signature, ds: DatasetFacts, min_listing: int) -> list[Match]:
    """#29: enough SoundCloud track references, SoundCloud-specific columns, or "crawled from SoundCloud"."""
    refs = max(len(ds.permalinks), len(ds.track_ids))
    sc_cols = [c for c in ds.columns if c in SC_COLUMNS]
    generic = [c for c in ds.columns if c in GENERIC_COLUMNS]
    reasons = []
    if refs >= min_listing:
        reasons.append(f"{refs} SoundCloud track references")
    if sc_cols or (generic and refs):
        reasons.append("columns " + ", ".join(sc_cols + generic))
    if ds.phrases:
        reasons.append(f"says {ds.phrases[0]!r}")
    if not reasons:
        return []
    critical = (ds.audio_present and ds.all_rights_reserved > 0) or ds.track_count >= BULK_TRACKS
    why = []
    if ds.audio_present and ds.all_rights_reserved:
        why.append(f"audio included with {ds.all_rights_reserved} all-rights-reserved rows")
    if ds.track_count >= BULK_TRACKS:
        why.append(f"about {ds.track_count} tracks")
    detail = f"Dataset built from SoundCloud content: {'; '.join(reasons)}" + (f" ({'; '.join(why)})." if why else ".")
    snippet = ds.phrases[0] if ds.phrases else (sorted(ds.permalinks) or [ds.url])[0]
    data = {**ds.counts(), "reasons": reasons}
    return [Match(sig.id, sig.family, "critical" if critical else sig.severity, ds.url, detail, snippet, None, data)]


def regex_rows(sig: Signature, ds: DatasetFacts) -> list[Match]:
    """A regex row over a dataset text: one match per distinct matched text (at most 50), with its count."""
    assert sig.pattern is not None
    seen: dict[str, Match] = {}
    for m in itertools.islice(sig.pattern.finditer(ds.text), 10000):
        text = sig.id if sig.per_resource else m.group(0)
        if text not in seen and len(seen) < 50:
            seen[text] = Match(sig.id, sig.family, sig.severity, ds.url, sig.explanation, m.group(0)[:SNIPPET_CHARS],
                               track_ref(m.group(0)), {"count": 0})  # fmt: skip
        if text in seen:
            seen[text].data["count"] += 1
    return list(seen.values())


# ---- #29 on any page ---------------------------------------------------------------------------------------------
# A page is a listing by class, not by one example: at least MIN_PAGE_LISTING distinct tracks AND either dataset
# vocabulary of two different kinds in its text, one kind in its title/headings, or (for a non-HTML body) records
# (CSV/JSONL lines) that carry the references or SoundCloud-specific columns. Playlists, charts, tracklists,
# discographies and widget embeds list as many tracks but talk about listening, not about collecting.
MIN_PAGE_LISTING = 20
MAX_PROSE = 256 * 1024
VOCABULARY = {
    "dataset": re.compile(r"(?i)\b(?:data[ -]?sets?|corpus|corpora)\b"),
    "training": re.compile(
        r"(?i)\b(?:training (?:data|set|split|corpus)|train(?:ing)?[ /-](?:split|test)|machine[ -]learning"
        r"|fine[ -]?tun\w*|train (?:a |the |our )?(?:models?|ai|networks?))\b"
    ),
    "collection": re.compile(
        r"(?i)\b(?:scrap(?:ed|ing|er)|crawl(?:ed|ing|er)|harvest(?:ed|ing)"
        r"|collected (?:[\w-]+ ){0,3}?(?:from|with|using|via))\b"
    ),
    "audio": re.compile(
        r"(?i)\baudio (?:files? )?(?:is |are )?(?:also )?included\b|\bincludes? (?:the )?(?:raw )?audio\b"
        r"|\b(?:mp3|wav|flac|opus|ogg) files\b"
    ),
    "format": re.compile(r"(?i)\b(?:csv|jsonl|json lines|parquet|tsv|hugging ?face|kaggle|zenodo)\b"),
}
HEADING_KINDS = frozenset({"dataset", "training", "collection"})
_WIDGET_URL = re.compile(r"(?i)(?:https?:)?(?://|%2F%2F)(?:w|p|player)\.soundcloud\.com/player/?[^\s\"'<>]*")
_RECORD = re.compile(r"^\s*(?:\{.*\}|\"?[^,\n]*\"?(?:,[^,\n]*){1,})\s*,?\s*$")
_SC_REF = re.compile(r"(?i)soundcloud\.com/|soundcloud(?::|%3A)tracks(?::|%3A)\d")


def vocabulary(text: str) -> list[str]:
    """The kinds of dataset vocabulary (dataset, training, collection, audio, format) a text uses."""
    head = text[:MAX_PROSE]
    return sorted(kind for kind, rx in VOCABULARY.items() if rx.search(head))


def record_rows(text: str) -> int:
    """CSV/JSONL-shaped lines that carry a SoundCloud reference (at most the first 100k lines are read)."""
    lines = itertools.islice(text.splitlines(), 100000)
    return sum(1 for line in lines if _SC_REF.search(line) and _RECORD.match(line))


def page_listing(
    sig: Signature, url: str, text: str, prose: str, headings: str, *, html: bool, min_listing: int = MIN_PAGE_LISTING
) -> list[Match]:
    """#29 for any crawled page: ``text`` is its body, ``prose`` what a reader sees (visible text, title,
    headings), ``headings`` the title and headings alone. Track ids inside official widget embeds do not count."""
    ds = read_dataset(url, _WIDGET_URL.sub(" ", text if isinstance(text, str) else ""))
    refs = max(len(ds.permalinks), len(ds.track_ids))
    if refs < min_listing:
        return []
    kinds = vocabulary(prose)
    in_headings = sorted(set(vocabulary(headings)) & HEADING_KINDS)
    rows = 0 if html else record_rows(ds.text)
    sc_columns = not html and any(c in SC_COLUMNS for c in ds.columns)
    if not (len(kinds) >= 2 or in_headings or rows >= min_listing or sc_columns):
        return []
    if "audio" in kinds:
        ds.audio_feature = True  # the card says so; the files themselves are not on the page
    extra = {"vocabulary": kinds, "heading_vocabulary": in_headings, "record_rows": rows, "on_page": True}
    return [replace(m, data={**m.data, **extra}) for m in dataset_listing(sig, ds, min_listing)]


DATASET_RULES: dict[str, Callable[[Signature, DatasetFacts, int], list[Match]]] = {"dataset_listing": dataset_listing}
