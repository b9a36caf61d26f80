"""The WARC of a case's evidence, built with warcio so that the same evidence always gives the same bytes.

Each evidence row becomes a ``response`` record (its stored headers and body) and a ``request`` record for its URL;
a row that later runs saw again names its sightings and last sighting in WARC-Scrapewatch-* fields.
WARC-Date is the evidence time and WARC-Record-ID a UUID5 of the record's content, never the clock or randomness;
warcio's gzip members carry no timestamp, so the file is reproducible byte for byte.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import http
import io
import uuid
from dataclasses import dataclass
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from monitor.store.files import EvidenceFiles

__all__ = ["Missing", "build_warc", "load_file"]

_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/soundcloud/scrapewatch/bundle")
# The stored body is the decoded one; its original framing headers would misdescribe it, so they are kept under
# the X-Archive-Orig- prefix that replay tools (pywb) use for rewritten headers.
_FRAMING = {"content-encoding", "transfer-encoding", "content-length"}


@dataclass(frozen=True)
class Missing:
    """An evidence file the database references but the evidence directory could not give back intact."""

    name: str
    sha256: str
    kind: str
    evidence_ids: tuple[int, ...]
    reason: str


def load_file(files: EvidenceFiles, sha256: str) -> tuple[bytes | None, str]:
    """The evidence file ``sha256`` and '' — or None and why not (not on disk, or altered since it was stored)."""
    content = files.get(sha256)
    if content is None:
        return None, "not on disk"
    if hashlib.sha256(content).hexdigest() != sha256:
        return None, "content does not match its hash"
    return content, ""


def build_warc(evidence: list[dict[str, Any]], files: EvidenceFiles, out: BinaryIO) -> list[Missing]:
    """Write the gzipped WARC of ``evidence`` (ordered by id) into ``out``; the bodies it could not include.

    A body already archived for an earlier row is written as a ``revisit`` record (identical payload digest) that
    refers to the first response: evidence repeats across runs, and audio does not compress.
    """
    writer = WARCWriter(out, gzip=True, warc_version="1.0")
    missing: dict[str, Missing] = {}
    archived: dict[str, tuple[str, str, str, int]] = {}  # body sha256 -> (payload digest, first URI, date, size)
    for row in sorted(evidence, key=lambda r: r["id"]):
        date = _warc_date(row["at"])
        response_id = _response(writer, row, date, files, archived, missing)
        parts = urlsplit(row["url"])
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        request = StatusAndHeaders(f"GET {target} HTTP/1.1", [("Host", parts.netloc)], is_http_request=True)
        request_headers = {"WARC-Record-ID": _record_id("request", row, date, ""), "WARC-Date": date}
        if response_id:
            request_headers["WARC-Concurrent-To"] = response_id
        request_headers.update(_scrapewatch(row))
        writer.write_record(
            writer.create_warc_record(row["url"], "request", warc_headers_dict=request_headers, http_headers=request)
        )
    return sorted(missing.values(), key=lambda m: m.name)


def _response(
    writer: WARCWriter,
    row: dict[str, Any],
    date: str,
    files: EvidenceFiles,
    archived: dict[str, tuple[str, str, str, int]],
    missing: dict[str, Missing],
) -> str | None:
    """Write the response (or revisit) record of an evidence row; its record id, or None when there is none."""
    sha = row.get("body_sha256")
    if not sha and not row.get("headers"):
        return None  # a match without a kept body or headers (a link in a page): no response worth archiving
    if sha and sha in missing:
        content, reason = None, missing[sha].reason
    elif sha and sha not in archived:
        content, reason = load_file(files, sha)
    else:
        content, reason = b"", ""
    if content is None:
        ids = (*missing[sha].evidence_ids, row["id"]) if sha in missing else (row["id"],)
        missing[sha] = Missing(f"bodies/{sha}", sha, "body", ids, reason)
        return None
    body = content
    record_id = _record_id("response", row, date, sha or hashlib.sha256(b"").hexdigest())
    status, assumed = _status(row)
    warc_headers = {"WARC-Record-ID": record_id, "WARC-Date": date, **_scrapewatch(row)}
    if assumed:
        warc_headers["WARC-Scrapewatch-Note"] = "status line not recorded with the evidence; 200 assumed"
    if sha and sha in archived:
        digest, first_uri, first_date, size = archived[sha]
        head = StatusAndHeaders(status, _headers(row.get("headers") or {}, size), protocol="HTTP/1.1")
        record = writer.create_revisit_record(
            row["url"], digest, first_uri, first_date, http_headers=head, warc_headers_dict=warc_headers
        )
    else:
        head = StatusAndHeaders(status, _headers(row.get("headers") or {}, len(body)), protocol="HTTP/1.1")
        record = writer.create_warc_record(
            row["url"], "response", payload=io.BytesIO(body), length=len(body),
            warc_headers_dict=warc_headers, http_headers=head,
        )  # fmt: skip
        if sha:
            digest = "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode()
            archived[sha] = (digest, row["url"], date, len(body))
    writer.write_record(record)
    return record_id


def _scrapewatch(row: dict[str, Any]) -> dict[str, str]:
    """Our own WARC fields: the evidence row, and when later runs saw the same thing again (the row's sightings:
    WARC-Date stays the capture's time, the record's payload is what every sighting saw)."""
    fields = {"WARC-Scrapewatch-Evidence": str(row["id"])}
    if int(row.get("sightings") or 1) > 1 and row.get("last_seen_at"):
        fields["WARC-Scrapewatch-Sightings"] = str(int(row["sightings"]))
        fields["WARC-Scrapewatch-Last-Seen"] = _warc_date(row["last_seen_at"])
    return fields


def _warc_date(at: str) -> str:
    moment = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return datetime_to_iso_date(moment)


def _record_id(kind: str, row: dict[str, Any], date: str, payload_sha: str) -> str:
    name = "\n".join([kind, str(row["id"]), row["url"], date, payload_sha])
    return f"<urn:uuid:{uuid.uuid5(_NAMESPACE, name)}>"


def _status(row: dict[str, Any]) -> tuple[str, bool]:
    status = row.get("status")
    if isinstance(status, int) and 100 <= status <= 599:
        try:
            return f"{status} {http.HTTPStatus(status).phrase}", False
        except ValueError:
            return f"{status} Unknown", False
    return "200 OK", True


def _headers(stored: dict[str, Any], length: int) -> list[tuple[str, str]]:
    """Stored headers (a value or a list of values per name) as header lines, one per value, in name order."""
    lines: list[tuple[str, str]] = []
    for name in sorted(stored):
        values = stored[name] if isinstance(stored[name], list) else [stored[name]]
        clean = "".join(c for c in str(name) if c.isascii() and c.isprintable() and c not in ' :"()<>@,;=?[]{}\\/')
        if not clean:
            continue
        for value in values:
            text = " ".join(str(value).split())
            lines.append((f"X-Archive-Orig-{clean}" if clean.lower() in _FRAMING else clean, text))
    lines.append(("Content-Length", str(length)))
    return lines
