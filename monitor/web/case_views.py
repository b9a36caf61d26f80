"""The Cases pages' HTML: the case list (filters, keyset pages) and one case (status, domains, links, affected tracks,
host intel, timeline, evidence gallery). Server-rendered like the triage page: no script, every value escaped.

Case titles, domains, notes, evidence URLs and host intel come from hostile sites and registries; none becomes a
link except our own paths (incidents, evidence files, other cases)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from monitor.vocabulary import CASE_STATUSES, SEVERITIES
from monitor.web.triage import badge, e, evidence_link, incident_path, layout, seen, select, when

STATUS_LABELS = {"active": "needs work (not taken down / no action)", "": "any status"}


def case_path(case_id: int) -> str:
    return f"/cases/{int(case_id)}"


@dataclass(frozen=True)
class CaseFilters:
    """The list page's filters; ``status`` "active" (the default) means not taken down and not 'no action'."""

    status: str = "active"
    severity: str = ""
    domain: str = ""
    owner: str = ""
    q: str = ""

    def query(self, after: str | None = None) -> str:
        pairs = [(k, v) for k, v in vars(self).items() if v and not (k == "status" and v == "active")]
        if self.status == "":
            pairs.insert(0, ("status", "any"))
        if after:
            pairs.append(("after", after))
        return "/cases" + ("?" + urlencode(pairs) if pairs else "")


def render_list(
    cases: list[dict[str, Any]], f: CaseFilters, after: str | None, next_cursor: str | None,
    domains: list[str], owners: list[str], writable: bool,
) -> bytes:  # fmt: skip
    """The case list with its filter form; pages continue with a cursor ("next page"), or start again."""
    if f.domain and f.domain not in domains:
        domains = [*domains, f.domain]
    if f.owner and f.owner not in owners:
        owners = [*owners, f.owner]
    statuses = [("active", STATUS_LABELS["active"]), *[(s, s) for s in CASE_STATUSES], ("any", "any status")]
    form = (
        '<form class="filters" method="get" action="/cases">'
        f"<label>status{select('status', statuses, f.status or 'any')}</label>"
        f"<label>severity{select('severity', [('', 'any'), *[(s, s) for s in SEVERITIES]], f.severity)}</label>"
        f"<label>domain{select('domain', [('', 'any'), *[(d, d) for d in domains]], f.domain)}</label>"
        f"<label>owner{select('owner', [('', 'anyone'), *[(o, o) for o in owners]], f.owner)}</label>"
        f'<label>title contains<input type="search" name="q" value="{e(f.q)}" maxlength="200"></label>'
        '<button type="submit">Filter</button> <a href="/cases">reset</a></form>'
    )
    rows = "".join(
        f'<tr data-id="{int(c["id"])}"><td><a href="{case_path(c["id"])}">#{int(c["id"])}</a></td>'
        f'<td>{badge(c["severity"])}</td><td><span class="status">{e(c["status"])}</span></td>'
        f"<td>{e(', '.join(c['domains']))}</td>"
        f'<td><a href="{case_path(c["id"])}">{e(c["title"])}</a></td><td>{e(c["owner"] or "—")}</td>'
        f"<td>{int(c['incidents'])}</td><td>{when(c['first_seen'])}</td><td>{when(c['last_seen'])}</td></tr>"
        for c in cases
    )
    if cases:
        table = (
            '<table id="cases"><thead><tr><th>id</th><th>severity</th><th>status</th><th>domains</th><th>title</th>'
            "<th>owner</th><th>incidents</th><th>first seen (UTC)</th><th>last seen (UTC)</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )
        summary = f"{len(cases)} case(s) on this page, most recently seen first"
    else:
        table, summary = "", "no cases match"
    pager = []
    if after:
        pager.append(f'<a href="{e(f.query())}">← first page</a>')
    if next_cursor:
        pager.append(f'<a rel="next" href="{e(f.query(next_cursor))}">next page →</a>')
    body = (
        f'<h1>Cases</h1><p class="muted">One case per offender: the incidents of a registrable domain, and of the '
        f"domains linked to it by shared operator evidence.</p>{form}"
        f'<p class="muted" id="summary">{summary}</p>{table}<nav class="pager">{"".join(pager)}</nav>'
    )
    return layout("Cases", body, writable)


# ---- one case --------------------------------------------------------------------------------------------


def _pager(case_id: int, section: str, cursor: str | None) -> str:
    if not cursor:
        return ""
    href = f"{case_path(case_id)}?{urlencode({section + '_after': cursor})}#{section}"
    return f'<p class="pager"><a href="{e(href)}">more {e(section)} →</a></p>'


def _tracks(tracks: list[dict[str, Any]]) -> str:
    if not tracks:
        return '<h2>Affected tracks</h2><p class="muted">no catalogue track named in these incidents</p>'
    rows = "".join(
        f"<tr><td><code>{e(t['track_id'])}</code></td><td>{e(t['title'])}</td><td>{e(t['artist'])}</td>"
        f"<td><code>{e(t['url'])}</code></td><td>{'<strong>no_ai</strong>' if t['no_ai'] else ''}</td>"
        f"<td>{'<strong>canary</strong>' if t['canary'] else ''}</td></tr>"
        for t in tracks
    )
    return (
        '<h2>Affected tracks</h2><table id="tracks"><thead><tr><th>track id</th><th>title</th><th>artist</th>'
        f"<th>SoundCloud URL</th><th>no_ai</th><th>canary</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _list(values: Any) -> str:
    items = values if isinstance(values, list) else []
    return e(", ".join(str(v) for v in items)) or '<span class="muted">—</span>'


def _intel(host_intel: dict[str, Any]) -> str:
    if not host_intel:
        return '<h2>Host intel</h2><p class="muted" id="no-intel">no host intel fetched for these domains yet</p>'
    parts = ['<h2>Host intel</h2><div id="intel">']
    for domain, facts in host_intel.items():
        facts = facts if isinstance(facts, dict) else {}
        dns = facts.get("dns") if isinstance(facts.get("dns"), dict) else {}
        reg = facts.get("registration") if isinstance(facts.get("registration"), dict) else {}
        cert = facts.get("certificate") if isinstance(facts.get("certificate"), dict) else None
        refused = [f"{r.get('address')} ({r.get('reason')})" for r in dns.get("refused") or [] if isinstance(r, dict)]
        items = [
            ("fetched", when(facts.get("fetched_at"))),
            ("A / AAAA", _list((dns.get("a") or []) + (dns.get("aaaa") or []))),
            ("CNAME / NS / MX", _list((dns.get("cname") or []) + (dns.get("ns") or []) + (dns.get("mx") or []))),
            ("refused addresses", _list(refused)),
            ("registrar", e(reg.get("registrar") or "—")),
            ("registrar abuse", e(" ".join(str(v) for v in (reg.get("registrar_abuse_email"),
                                                             reg.get("registrar_abuse_phone")) if v) or "—")),
            ("registered", e(reg.get("created") or "—")),
            ("errors", e("; ".join(str(x) for x in (dns.get("error"), reg.get("error")) if x) or "—")),
        ]  # fmt: skip
        if cert:
            items.append(("certificate", e(f"{cert.get('issuer')} · SANs: {', '.join(map(str, cert.get('sans') or []))}"
                                           f" · until {cert.get('not_after')}")))  # fmt: skip
        nets = "".join(
            f"<tr><td><code>{e(n.get('ip'))}</code></td><td>{e(n.get('hosting_provider') or n.get('network_name'))}"
            f"</td><td>{e(n.get('asn'))}</td><td>{e(n.get('abuse_email') or '—')}</td><td>{e(n.get('country'))}</td>"
            f"<td>{e(n.get('error') or '')}</td></tr>"
            for n in facts.get("networks") or []
            if isinstance(n, dict)
        )
        parts.append(
            f"<h3>{e(domain)}</h3><dl>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in items) + "</dl>"
            + ('<table class="networks"><thead><tr><th>address</th><th>hosting provider</th><th>ASN</th>'
               f"<th>abuse contact</th><th>country</th><th>error</th></tr></thead><tbody>{nets}</tbody></table>"
               if nets else "")
        )  # fmt: skip
    return "".join(parts) + "</div>"


def _timeline(case_id: int, entries: list[dict[str, Any]], cursor: str | None) -> str:
    rows = []
    for t in entries:
        source = e(t["source"])
        if t.get("incident_id") is not None:
            source = f'<a href="{incident_path(t["incident_id"])}">incident #{int(t["incident_id"])}</a>'
        data = json.dumps(t.get("data") or {}, default=str, sort_keys=True)
        rows.append(
            f"<tr><td>{when(t['at'])}</td><td>{source}</td><td>{e(t['action'])}</td><td>{e(t['actor'])}</td>"
            f"<td>{e(t.get('note') or '')}</td><td><code>{e(data if data != '{}' else '')}</code></td></tr>"
        )
    return (
        '<h2 id="timeline">Timeline</h2><table id="events"><thead><tr><th>at (UTC)</th><th>source</th><th>action</th>'
        f"<th>actor</th><th>note</th><th>data</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        + _pager(case_id, "timeline", cursor)
    )


def _incidents(case_id: int, incidents: list[dict[str, Any]], cursor: str | None) -> str:
    rows = "".join(
        f'<tr><td><a href="{incident_path(i["id"])}">#{int(i["id"])}</a></td><td>{badge(i["severity"])}</td>'
        f'<td><span class="status">{e(i["status"])}</span></td><td>{e(i["kind"])}</td><td>{e(i["domain"])}</td>'
        f'<td><a href="{incident_path(i["id"])}">{e(i["title"])}</a></td><td>{when(i["last_seen"])}</td></tr>'
        for i in incidents
    )
    return (
        '<h2 id="incidents">Incidents</h2><table id="case-incidents"><thead><tr><th>id</th><th>severity</th>'
        "<th>status</th><th>kind</th><th>domain</th><th>title</th><th>last seen (UTC)</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>" + _pager(case_id, "incidents", cursor)
    )


def _gallery(case_id: int, evidence: list[dict[str, Any]], cursor: str | None) -> str:
    if not evidence:
        return '<h2 id="evidence">Evidence</h2><p class="muted">no evidence recorded for these incidents</p>'
    cards = []
    for ev in evidence:
        shot = evidence_link(ev.get("screenshot_sha256"))
        image = f'<a href="{e(shot)}"><img class="shot" src="{e(shot)}" alt="screenshot"></a>' if shot else ""
        files = "".join(
            f' <a href="{e(link)}">{label}</a>'
            for label, key in (("body", "body_sha256"), ("request log", "requests_sha256"))
            if (link := evidence_link(ev.get(key)))
        )
        cards.append(
            f'<tr><td>{seen(ev)}</td><td><a href="{incident_path(ev["incident_id"])}">'
            f'#{int(ev["incident_id"])}</a></td><td><code class="sig">{e(ev["signature"])}</code> '
            f'{badge(ev["severity"])}</td><td><code>{e(ev["url"])}</code><div class="muted">on page '
            f"<code>{e(ev['page_url'])}</code></div><div>{e(ev['detail'])}</div><div>{files}</div></td>"
            f"<td>{image}</td></tr>"
        )
    return (
        '<h2 id="evidence">Evidence</h2><table id="gallery"><thead><tr><th>first seen (UTC)</th><th>incident</th>'
        "<th>signature</th><th>location</th><th>screenshot</th></tr></thead>"
        f"<tbody>{''.join(cards)}</tbody></table>" + _pager(case_id, "evidence", cursor)
    )


def render_case(facts: dict[str, Any], writable: bool) -> bytes:
    """One case: summary, domains and operator links, affected tracks, host intel, incidents, timeline, evidence.

    ``facts`` is what ``monitor.cases.reads.bounded_facts`` returns (sections bounded, ``more`` cursors)."""
    case_id, more = int(facts["id"]), facts.get("more") or {}
    merged = facts.get("merged_into")
    summary = [
        ("severity", badge(facts["severity"])),
        ("status", f'<span class="status" id="status">{e(facts["status"])}</span>'),
        ("owner", e(facts["owner"] or "—")),
        ("domains", e(", ".join(d["domain"] for d in facts["domains"]) or facts["domain"])),
        ("opened", when(facts["opened_at"])),
        ("first seen", when(facts["first_seen"])),
        ("last seen", when(facts["last_seen"])),
        ("notice sent", when(facts["notice_sent_at"]) or "—"),
        ("taken down", when(facts["taken_down_at"]) or "—"),
        ("next re-check", when(facts["next_check_at"]) or "—"),
    ]
    if merged:
        summary.insert(0, ("merged into", f'<a href="{case_path(merged)}">case #{int(merged)}</a>'))
    links = "".join(
        f"<tr><td>{e(link['kind'])}</td><td><code>{e(link['value'])}</code></td><td>{e(link['domain'])}</td></tr>"
        for link in facts["links"]
    )
    notices = "".join(
        f"<tr><td>{when(n['sent_at'])}</td><td>{e(n['recipient'])}</td><td>{e(n['address'] or '—')}</td>"
        f"<td><code>{e(n['message_id'] or '')}</code></td><td>{e(n['actor'])}</td></tr>"
        for n in facts["notices"]
    )
    parts = [
        f'<p><a href="/cases">← cases</a></p><h1>Case #{case_id} {e(facts["title"])}</h1>',
        "<dl>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in summary) + "</dl>",
        _actions(case_id) if writable else "",
        '<h2>Operator links</h2><table id="links"><thead><tr><th>kind</th><th>value</th><th>domain</th></tr></thead>'
        f"<tbody>{links}</tbody></table>"
        if links
        else "",
        '<h2>Notices sent</h2><table id="notices"><thead><tr><th>sent (UTC)</th><th>to</th><th>address</th>'
        f"<th>message id</th><th>by</th></tr></thead><tbody>{notices}</tbody></table>"
        if notices
        else "",
        _tracks(facts["tracks"]),
        _intel(facts["host_intel"]),
        _incidents(case_id, facts["incidents"], more.get("incidents")),
        _timeline(case_id, facts["timeline"], more.get("timeline")),
        _gallery(case_id, facts["evidence"], more.get("evidence")),
    ]
    if facts.get("truncated"):
        parts.append(f'<p class="muted">only the first entries of {e(", ".join(facts["truncated"]))} are shown</p>')
    return layout(f"Case #{case_id} {facts['title']}", "".join(parts), writable)


def _actions(case_id: int) -> str:
    """The notice draft (downloaded, never sent) and evidence export forms; each needs the API token."""
    token = '<label>API token<input type="password" name="token" autocomplete="off" required></label>'
    to = "".join(f'<option value="{r}">{r}</option>' for r in ("hosting", "registrar", "site"))
    return (
        f'<h2>Actions</h2><form class="act" method="post" action="/cases/{case_id}/notice">'
        f'<label>notice to<select name="to">{to}</select></label>'
        '<label>format<select name="format"><option value="md">Markdown</option>'
        '<option value="eml">e-mail (.eml)</option></select></label>'
        '<label>address (instead of host intel\'s)<input name="address" maxlength="254"></label>'
        f'{token}<button type="submit">Draft notice</button></form>'
        f'<form class="act" method="post" action="/cases/{case_id}/export">'
        '<label>your name<input name="actor" value="triage" maxlength="100"></label>'
        f'{token}<button type="submit">Export evidence bundle</button></form>'
    )
