"""The incident triage page (filters, query, server-rendered HTML; stdlib only, no JavaScript) and the rules for
showing hostile evidence.

Titles, details, snippets, URLs and headers come from hostile sites, so every value that reaches the page
goes through ``html.escape``; URLs found on those sites are shown as text, never as links.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from html import escape
from typing import Any
from urllib.parse import urlencode

from monitor.incidents import MANUAL_ACTIONS, SEVERITY_RANK
from monitor.vocabulary import SEVERITIES, STATUSES

PAGE_SIZE = 50
EVIDENCE_SHOWN = 200  # Store.evidence's default limit
EVENTS_SHOWN = 200  # the first events of a timeline; the rest are paged by /api/incidents/{id}/events
ACTIVE = ("open", "acknowledged")
STATUS_CHOICES = ("active", *STATUSES, "all")
# What a button says for each manual action (the values are MANUAL_ACTIONS' keys).
ACTION_LABELS = {
    "acknowledged": "Acknowledge",
    "resolved": "Resolve",
    "false_positive": "False positive",
    "reopened": "Reopen",
}
CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def e(value: Any) -> str:
    """Escape anything for HTML text and attribute values."""
    return escape("" if value is None else str(value), quote=True)


def evidence_link(sha256: str | None) -> str | None:
    """The /api/evidence path of a stored file, or None when ``sha256`` is not a SHA-256."""
    return f"/api/evidence/{sha256}" if sha256 and _SHA256.match(sha256) else None


def _is_text(content: bytes) -> bool:
    if b"\x00" in content:
        return False
    try:
        content.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(content) - 3  # a body cut at the size cap may end inside a character
    return True


def evidence_type(sha: str, kind: str, recorded: str, content: bytes) -> tuple[str, str]:
    """(Content-Type, Content-Disposition) of an evidence file: third-party bodies are never rendered."""
    if kind == "screenshot" and content.startswith(PNG_SIGNATURE):
        return "image/png", f'inline; filename="{sha}.png"'
    if kind == "requests" and _is_text(content):  # our own log of the page's requests
        if recorded.split(";")[0].strip().lower() == "application/json":
            return "application/json", f'inline; filename="{sha}.json"'
        return "text/plain; charset=utf-8", f'inline; filename="{sha}.txt"'
    if _is_text(content):
        return "text/plain; charset=utf-8", f'attachment; filename="{sha}.txt"'
    return "application/octet-stream", f'attachment; filename="{sha}.bin"'


def incident_path(incident_id: int) -> str:
    return f"/triage/incidents/{int(incident_id)}"


# ---- filters and query ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """The list page's filters; ``status`` "active" means open or acknowledged."""

    status: str = "active"
    severity: str = ""
    kind: str = ""
    domain: str = ""
    q: str = ""
    page: int = 1
    after: str = ""  # a keyset cursor from the previous page (``page`` stays for old links)

    def query(self, **changes: Any) -> str:
        """The /triage URL of these filters (with ``changes``), leaving out defaults."""
        f = replace(self, **changes)
        pairs = [
            (k, v) for k, v in (("status", f.status), ("severity", f.severity), ("kind", f.kind),
                                ("domain", f.domain), ("q", f.q)) if v and not (k == "status" and v == "active")
        ]  # fmt: skip
        if f.after:
            pairs.append(("after", f.after))
        elif f.page > 1:
            pairs.append(("page", str(f.page)))
        return "/triage" + ("?" + urlencode(pairs) if pairs else "")


def parse_filters(args: dict[str, str]) -> Filters:
    """Filters from query parameters; unknown parameters are ignored (links may carry a time range).

    Raises ValueError with a message for people on an invalid value.
    """
    status = args.get("status") or "active"
    severity = args.get("severity", "")
    if status not in STATUS_CHOICES:
        raise ValueError(f"status must be one of {', '.join(STATUS_CHOICES)}")
    if severity and severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}")
    page = args.get("page") or "1"
    if not page.isdigit() or not 1 <= int(page) <= 100_000:
        raise ValueError("page must be a positive number")
    texts = {k: args.get(k, "").strip() for k in ("kind", "domain", "q", "after")}
    if any(len(v) > 200 for v in texts.values()):
        raise ValueError("kind, domain, q and after are limited to 200 characters")
    return Filters(status, severity, texts["kind"], texts["domain"], texts["q"], int(page), texts["after"])


# ---- pages ---------------------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d1d1f;background:#f6f6f7}
header{background:#222;color:#fff;padding:.6em 1.2em;display:flex;gap:1.5em;align-items:baseline}
header a{color:#fff;text-decoration:none;font-weight:600}
header .mode{margin-left:auto;font-size:12px;color:#ccc}
main{padding:1em 1.2em;max-width:1400px}
h1{font-size:20px;margin:.2em 0 .6em}h2{font-size:16px;margin:1.4em 0 .4em}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border-bottom:1px solid #e3e3e6;padding:.35em .5em;text-align:left;vertical-align:top}
th{background:#efeff2;font-weight:600}
pre{background:#fff;border:1px solid #e3e3e6;padding:.6em;overflow:auto;max-height:32em;white-space:pre-wrap;
word-break:break-all}
code{font-size:12px;word-break:break-all}
.sev{display:inline-block;padding:0 .5em;border-radius:3px;font-size:12px;font-weight:600;color:#fff}
.sev-critical{background:#8b0000}.sev-high{background:#d9480f}.sev-medium{background:#e8a400;color:#222}
.sev-low{background:#1c7ed6}.sev-info{background:#868e96}
.status{font-size:12px;padding:0 .4em;border:1px solid #bbb;border-radius:3px}
form.filters{display:flex;gap:.6em;flex-wrap:wrap;align-items:end;margin-bottom:.8em}
form.filters label,form.act label{display:flex;flex-direction:column;font-size:12px;color:#555}
form.act{background:#fff;border:1px solid #e3e3e6;padding:.8em;display:flex;gap:.8em;flex-wrap:wrap;align-items:end}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em;margin:0}dt{color:#555}
.pager{margin:.8em 0;display:flex;gap:1em}.muted{color:#777}.error{border-left:4px solid #c92a2a;padding-left:.8em}
img.shot{max-width:320px;border:1px solid #ccc}code.sig{white-space:nowrap;word-break:normal}
"""


def layout(title: str, body: str, writable: bool | None) -> bytes:
    if writable is None:
        mode = ""
    elif writable:
        mode = '<span class="mode">actions need the API token</span>'
    else:
        mode = '<span class="mode">read-only: http.api_token is not set</span>'
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)} · scrapewatch</title><style>{_CSS}</style></head><body>"
        f'<header><a href="/triage">scrapewatch triage</a><a href="/triage?status=all">all incidents</a>'
        f'<a href="/cases">cases</a>{mode}</header>'
        f"<main>{body}</main></body></html>\n"
    ).encode()


def badge(severity: str) -> str:
    cls = severity if severity in SEVERITY_RANK else "info"
    return f'<span class="sev sev-{cls}">{e(severity)}</span>'


def when(at: str | None) -> str:
    if not at:
        return ""
    return f'<time datetime="{e(at)}">{e(at[:19].replace("T", " "))}</time>'


def seen(ev: dict[str, Any]) -> str:
    """An evidence row's first sighting and, when runs saw it again, how often and when last."""
    times = int(ev.get("sightings") or 1)
    again = f'<div class="muted">seen {times} times, last {when(ev.get("last_seen_at"))}</div>' if times > 1 else ""
    return when(ev["at"]) + again


def select(name: str, choices: list[tuple[str, str]], current: str) -> str:
    options = "".join(
        f'<option value="{e(v)}"{" selected" if v == current else ""}>{e(label)}</option>' for v, label in choices
    )
    return f'<select name="{e(name)}">{options}</select>'


def render_list(
    incidents: list[dict[str, Any]],
    total: int,
    f: Filters,
    kinds: list[str],
    domains: list[str],
    writable: bool,
    cursor: str | None = None,
) -> bytes:
    """The incident list with its filter form and pagination (``cursor``: where the next page starts, None: this
    is the last)."""
    if f.kind and f.kind not in kinds:
        kinds = [*kinds, f.kind]
    if f.domain and f.domain not in domains:
        domains = [*domains, f.domain]
    status_labels = {"active": "open + acknowledged", "all": "any status"}
    filters = (
        '<form class="filters" method="get" action="/triage">'
        f"<label>status{select('status', [(s, status_labels.get(s, s)) for s in STATUS_CHOICES], f.status)}</label>"
        f"<label>severity{select('severity', [('', 'any'), *[(s, s) for s in SEVERITIES]], f.severity)}</label>"
        f"<label>kind{select('kind', [('', 'any'), *[(k, k) for k in kinds]], f.kind)}</label>"
        f"<label>domain{select('domain', [('', 'any'), *[(d, d) for d in domains]], f.domain)}</label>"
        f'<label>title contains<input type="search" name="q" value="{e(f.q)}" maxlength="200"></label>'
        '<button type="submit">Filter</button> <a href="/triage">reset</a></form>'
    )
    rows = "".join(
        f'<tr data-id="{int(i["id"])}"><td><a href="{incident_path(i["id"])}">#{int(i["id"])}</a></td>'
        f'<td>{badge(i["severity"])}</td><td><span class="status">{e(i["status"])}</span></td>'
        f"<td>{e(i['kind'])}</td><td>{e(i['domain'])}</td>"
        f'<td><a href="{incident_path(i["id"])}">{e(i["title"])}</a></td>'
        f"<td>{int(i['occurrences'])}</td><td>{when(i['last_seen'])}</td></tr>"
        for i in incidents
    )
    first = (f.page - 1) * PAGE_SIZE
    if incidents:
        summary = (
            f"{len(incidents)} more of {total} incident(s)"  # a keyset page knows what follows, not what came before
            if f.after
            else f"{first + 1}-{first + len(incidents)} of {total} incident(s)"
        )
        table = (
            '<table id="incidents"><thead><tr><th>id</th><th>severity</th><th>status</th><th>kind</th>'
            "<th>domain</th><th>title</th><th>seen</th><th>last seen (UTC)</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )
    else:
        summary = f"no incidents match (of {total})" if f.page > 1 or f.after else "no incidents match"
        table = ""
    pager = []
    if f.after:
        pager.append(f'<a rel="first" href="{e(f.query(page=1, after=""))}">← first page</a>')
    elif f.page > 1:
        pager.append(f'<a rel="prev" href="{e(f.query(page=f.page - 1))}">← newer page</a>')
    if cursor:
        pager.append(f'<a rel="next" href="{e(f.query(page=1, after=cursor))}">next page →</a>')
    body = (
        f'<h1>Incidents</h1>{filters}<p class="muted" id="summary">{summary}</p>{table}'
        f'<nav class="pager">{"".join(pager)}</nav>'
    )
    return layout("Incidents", body, writable)


def _action_form(incident: dict[str, Any]) -> str:
    allowed = [a for a, (sources, _) in MANUAL_ACTIONS.items() if incident["status"] in sources]
    if not allowed:
        return ""
    buttons = "".join(
        f'<button type="submit" name="action" value="{e(a)}">{e(ACTION_LABELS.get(a, a))}</button>' for a in allowed
    )
    return (
        f'<h2>Actions</h2><form class="act" method="post" action="{incident_path(incident["id"])}/action">'
        '<label>note<textarea name="note" rows="2" cols="40" maxlength="2000"></textarea></label>'
        '<label>your name<input name="actor" value="triage" maxlength="100"></label>'
        '<label>API token<input type="password" name="token" autocomplete="off" required></label>'
        f"{buttons}</form>"
    )


def _timeline(events: list[dict[str, Any]], incident_id: int, more: bool) -> str:
    rows = "".join(
        f"<tr><td>{when(ev['at'])}</td><td>{e(ev['action'])}</td><td>{e(ev['actor'])}</td>"
        f"<td>{e(ev['from_status'] or '—')} → {e(ev['to_status'] or '—')}</td>"
        f"<td>{e(ev['from_severity'] or '')}{' → ' if ev['from_severity'] and ev['to_severity'] else ''}"
        f"{e(ev['to_severity'] or '')}</td><td>{e(ev['note'] or '')}</td></tr>"
        for ev in events
    )
    return (
        '<h2>Timeline</h2><table id="events"><thead><tr><th>at (UTC)</th><th>action</th><th>actor</th>'
        f"<th>status</th><th>severity</th><th>note</th></tr></thead><tbody>{rows}</tbody></table>"
        + (
            f'<p class="muted" id="events-more">the first {len(events)} events shown; the rest: '
            f"<code>/api/incidents/{int(incident_id)}/events</code></p>"
            if more
            else ""
        )
    )


def _file_link(label: str, sha: str | None) -> str:
    link = evidence_link(sha)
    if link is None:
        return ""
    sha = link.rsplit("/", 1)[1]
    return f'<div>{e(label)}: <a href="{e(link)}" title="{e(sha)}"><code>{e(sha[:16])}…</code></a></div>'


def _evidence(evidence: list[dict[str, Any]]) -> str:
    if not evidence:
        return '<h2>Evidence</h2><p class="muted">no evidence recorded for this incident</p>'
    rows = []
    for ev in evidence:
        shot = evidence_link(ev.get("screenshot_sha256"))
        image = f'<a href="{e(shot)}"><img class="shot" src="{e(shot)}" alt="screenshot"></a>' if shot else ""
        extra = json.dumps({"headers": ev.get("headers") or {}, "data": ev.get("data") or {}}, indent=2, default=str)
        rows.append(
            f'<tr><td>{seen(ev)}</td><td><code class="sig">{e(ev["signature"])}</code></td>'
            f"<td>{badge(ev['severity'])}</td>"
            f'<td><code>{e(ev["url"])}</code><div class="muted">on page <code>{e(ev["page_url"])}</code></div>'
            f"<div>{e(ev['detail'])}</div></td>"
            f'<td><pre class="snippet">{e(ev["snippet"])}</pre>'
            f"<details><summary>headers and data</summary><pre>{e(extra)}</pre></details></td>"
            f"<td>{_file_link('body', ev.get('body_sha256'))}{_file_link('request log', ev.get('requests_sha256'))}"
            f"{_file_link('screenshot', ev.get('screenshot_sha256'))}</td><td>{image}</td></tr>"
        )
    shown = f'<p class="muted">the newest {len(evidence)} shown</p>' if len(evidence) >= EVIDENCE_SHOWN else ""
    return (
        f'<h2>Evidence</h2>{shown}<table id="evidence"><thead><tr><th>first seen (UTC)</th><th>signature</th>'
        "<th>severity</th><th>url</th><th>snippet</th><th>files (sha256)</th><th>screenshot</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def render_detail(
    incident: dict[str, Any], evidence: list[dict[str, Any]], writable: bool, case_id: int | None = None
) -> bytes:
    """One incident: summary (with its case, if it belongs to one), actions (only when writable), timeline, data
    (diff first) and evidence."""
    facts = [
        ("severity", badge(incident["severity"])),
        ("status", f'<span class="status" id="status">{e(incident["status"])}</span>'),
        ("kind", e(incident["kind"])),
        ("domain", e(incident["domain"])),
        ("scope", e(incident["scope"])),
        ("first seen", when(incident["first_seen"])),
        ("last seen", when(incident["last_seen"])),
        ("occurrences", str(int(incident["occurrences"]))),
        ("resolved at", when(incident.get("resolved_at"))),
        ("dedupe key", f"<code>{e(incident['dedupe_key'])}</code>"),
    ]
    if case_id is not None:
        facts.insert(2, ("case", f'<a id="case" href="/cases/{int(case_id)}">case #{int(case_id)}</a>'))
    data = dict(incident.get("data") or {})
    diff = data.pop("diff", None)
    parts = [
        f'<p><a href="/triage">← incidents</a></p><h1>#{int(incident["id"])} {e(incident["title"])}</h1>',
        "<dl>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>",
        f'<pre id="detail">{e(incident["detail"])}</pre>' if incident["detail"] else "",
        _action_form(incident) if writable else "",
        _timeline(incident.get("events") or [], incident["id"], bool(incident.get("events_next"))),
        f'<h2>Diff</h2><pre id="diff">{e(diff)}</pre>' if diff else "",
        f'<h2>Data</h2><pre id="data">{e(json.dumps(data, indent=2, default=str))}</pre>' if data else "",
        _evidence(evidence),
    ]
    return layout(f"#{int(incident['id'])} {incident['title']}", "".join(parts), writable)


def render_error(status: int, message: str, back: str | None = None) -> bytes:
    """An error page: what went wrong and, when there is one, the way back."""
    link = f'<p><a href="{e(back)}">back</a></p>' if back else '<p><a href="/triage">incidents</a></p>'
    body = f'<h1>{int(status)}</h1><p class="error" id="error">{e(message)}</p>{link}'
    return layout(f"error {int(status)}", body, None)
