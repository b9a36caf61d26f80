"""Message templates per channel style: Markdown for chat, HTML (with a text part) for email, plain text for
webhooks and text-only services (webhooks also get the structured alert as JSON)."""

from __future__ import annotations

import html
import string
from typing import Any

from monitor.alerts.channels import Message, Style

GROUP_LIST_LIMIT = 25
DIFF_LINES = 20
_TRACK_KEYS = ("track", "track_url", "track_id", "permalink")

# ---- one alert ----------------------------------------------------------------------------------------

TITLE = "[${SEVERITY}] ${Transition}: ${title}"
RESOLVED_TITLE = "[RESOLVED] ${title}"

CHAT = """**${Transition}** · **${severity}** · `${kind}` on **${domain}**

${detail}

- **Severity:** ${severity}
- **Kind:** `${kind}`
- **Site:** ${domain}
- **Track:** ${track}
- **First seen:** ${first_seen}
- **Last seen:** ${last_seen}
- **Count:** ${occurrences}
- **Incident:** [#${incident_id}](${incident_url})
- **Evidence:** [data and events](${evidence_url})
${evidence_md}
`${key}`"""

TEXT = """${Transition}: ${title}

${detail}

Severity:   ${severity}
Kind:       ${kind}
Site:       ${domain}
Track:      ${track}
First seen: ${first_seen}
Last seen:  ${last_seen}
Count:      ${occurrences}
Incident:   ${incident_url}
Evidence:   ${evidence_url}
${evidence_text}
Idempotency key: ${key}"""

EMAIL = """<h2>${Transition}: ${title}</h2>
<p>${detail}</p>
<table>
<tr><th align="left">Severity</th><td>${severity}</td></tr>
<tr><th align="left">Kind</th><td>${kind}</td></tr>
<tr><th align="left">Site</th><td>${domain}</td></tr>
<tr><th align="left">Track</th><td>${track}</td></tr>
<tr><th align="left">First seen</th><td>${first_seen}</td></tr>
<tr><th align="left">Last seen</th><td>${last_seen}</td></tr>
<tr><th align="left">Count</th><td>${occurrences}</td></tr>
<tr><th align="left">Incident</th><td><a href="${incident_url}">#${incident_id}</a></td></tr>
<tr><th align="left">Evidence</th><td><a href="${evidence_url}">data and events</a></td></tr>
</table>
${evidence_html}
<p><small>Idempotency key: ${key}</small></p>"""

# ---- many alerts on one site --------------------------------------------------------------------------

GROUP_TITLE = "[${SEVERITY}] ${count} alerts on ${domain}"
GROUP_HEAD = {
    "chat": "**${count} alerts on ${domain}** (one message instead of ${count}):\n",
    "email": "<h2>${count} alerts on ${domain}</h2>\n<ul>",
    "text": "${count} alerts on ${domain} (one message instead of ${count}):\n",
}
GROUP_LINE = {
    "chat": "- **${severity}** ${transition}: [${title}](${incident_url})",
    "email": '<li><b>${severity}</b> ${transition}: <a href="${incident_url}">${title}</a></li>',
    "text": "- [${severity}] ${transition}: ${title} (${incident_url})",
}
GROUP_MORE = {
    "chat": "\n…and ${more} more: ${list_url}",
    "email": '<li>…and ${more} more: <a href="${list_url}">${list_url}</a></li>',
    "text": "\n…and ${more} more: ${list_url}",
}
GROUP_FOOT = {
    "chat": "\n\n`${key}`",
    "email": "</ul>\n<p><small>Idempotency key: ${key}</small></p>",
    "text": "\n\nIdempotency key: ${key}",
}

# ---- digest and test ----------------------------------------------------------------------------------

DIGEST_TITLE = "scrapewatch digest: ${open} open incident(s)"
TEST_TITLE = "scrapewatch test message"
TEST_BODY = (
    "This is a test message from scrapewatch to the channel ${channel}. If you can read it, alerts arrive.\n\n${key}"
)


def _sub(template: str, values: dict[str, Any]) -> str:
    return string.Template(template).safe_substitute(values)


def _when(value: str | None) -> str:
    return value[:19].replace("T", " ") + " UTC" if value else "—"


def _fmt(style: Style) -> str:
    return {"chat": "markdown", "email": "html"}.get(style, "text")


def _kind(style: Style) -> str:
    return {"chat": "chat", "email": "email"}.get(style, "text")


def links(api_base: str, incident_id: Any) -> dict[str, str]:
    base = api_base.rstrip("/")
    return {
        "incident": f"{base}/api/incidents/{incident_id}",
        # The incident's JSON holds its evidence: the data (diff, sha256s, agents, error kinds) and every event.
        "evidence": f"{base}/api/incidents/{incident_id}#data",
    }


def alert_values(alert: dict[str, Any], api_base: str) -> dict[str, Any]:
    """The fields every template may use, from an outbox payload plus the incident's current data."""
    data = alert.get("incident_data") or {}
    track = next((str(data[k]) for k in _TRACK_KEYS if data.get(k)), "—")
    link = links(api_base, alert.get("incident_id"))
    transition = str(alert.get("transition", ""))
    if transition.startswith("case_"):  # a case alert links the case
        link = {key: f"{api_base.rstrip('/')}/api/cases/{alert.get('case_id')}" for key in link}
    return {
        "incident_id": alert.get("incident_id"),
        "transition": transition,
        "Transition": transition.replace("_", " ").capitalize(),
        "severity": alert.get("severity", ""),
        "SEVERITY": str(alert.get("severity", "")).upper(),
        "kind": alert.get("kind", ""),
        "domain": alert.get("domain", ""),
        "title": alert.get("title", ""),
        "detail": alert.get("detail", ""),
        "track": track,
        "first_seen": _when(alert.get("first_seen")),
        "last_seen": _when(alert.get("last_seen")),
        "occurrences": alert.get("occurrences", 1),
        "incident_url": link["incident"],
        "evidence_url": link["evidence"],
        "diff": "\n".join(str(data.get("diff") or "").splitlines()[:DIFF_LINES]),
    }


def structured(alert: dict[str, Any], api_base: str, key: str) -> dict[str, Any]:
    """The alert as JSON for webhooks (the ``scrapewatch`` field)."""
    v = alert_values(alert, api_base)
    return {
        "idempotency_key": key,
        "incident_id": v["incident_id"],
        "transition": v["transition"],
        "severity": v["severity"],
        "kind": v["kind"],
        "domain": v["domain"],
        "title": v["title"],
        "detail": v["detail"],
        "track": None if v["track"] == "—" else v["track"],
        "first_seen": alert.get("first_seen"),
        "last_seen": alert.get("last_seen"),
        "occurrences": v["occurrences"],
        "links": {"incident": v["incident_url"], "evidence": v["evidence_url"]},
        **({"case_id": alert["case_id"]} if alert.get("case_id") is not None else {}),
    }


def render_alert(style: Style, alert: dict[str, Any], key: str, api_base: str) -> Message:
    """One incident transition for one channel."""
    v = {**alert_values(alert, api_base), "key": key}
    title = _sub(RESOLVED_TITLE if v["transition"] == "resolved" else TITLE, v)
    kind = _kind(style)
    if kind == "email":
        v = {k: html.escape(str(x)) for k, x in v.items()}
        v["evidence_html"] = f"<pre>{v['diff']}</pre>" if v["diff"] else ""
        body = _sub(EMAIL, v)
    elif kind == "chat":
        v["evidence_md"] = f"\n```\n{v['diff']}\n```\n" if v["diff"] else ""
        body = _sub(CHAT, v)
    else:
        v["evidence_text"] = f"\n{v['diff']}\n" if v["diff"] else ""
        body = _sub(TEXT, v)
    return Message(title, body, _fmt(style), key, structured(alert, api_base, key))  # type: ignore[arg-type]


def render_group(style: Style, alerts: list[dict[str, Any]], domain: str, key: str, api_base: str) -> Message:
    """Many alerts on one site in one message (a burst), listing the first GROUP_LIST_LIMIT."""
    from monitor.incidents import SEVERITY_RANK

    kind = _kind(style)
    worst = max((a.get("severity", "info") for a in alerts), key=lambda s: SEVERITY_RANK.get(s, 0))
    head = {"count": len(alerts), "domain": domain, "SEVERITY": worst.upper(), "key": key}
    lines = []
    for a in alerts[:GROUP_LIST_LIMIT]:
        v = alert_values(a, api_base)
        if kind == "email":
            v = {k: html.escape(str(x)) for k, x in v.items()}
        lines.append(_sub(GROUP_LINE[kind], v))
    more = len(alerts) - len(lines)
    if more:
        lines.append(
            _sub(GROUP_MORE[kind], {"more": more, "list_url": f"{api_base.rstrip('/')}/api/incidents?status=open"})
        )
    body = _sub(GROUP_HEAD[kind], head) + "\n".join(lines) + _sub(GROUP_FOOT[kind], head)
    data = {
        "idempotency_key": key,
        "transition": "grouped",
        "domain": domain,
        "severity": worst,
        "count": len(alerts),
        "alerts": [structured(a, api_base, a["delivery_key"]) for a in alerts],
    }
    return Message(_sub(GROUP_TITLE, head), body, _fmt(style), key, data)  # type: ignore[arg-type]


def render_digest(style: Style, digest: dict[str, Any], key: str, api_base: str) -> Message:
    """The periodic digest: open incidents by severity and the most severe ones."""
    kind = _kind(style)
    counts = digest.get("by_severity", {})
    summary = ", ".join(f"{n} {sev}" for sev, n in counts.items()) or "none"
    rows = digest.get("incidents", [])
    if kind == "email":
        items = "".join(
            f'<li><b>{html.escape(r["severity"])}</b> <a href="{links(api_base, r["id"])["incident"]}">'
            f"{html.escape(r['title'])}</a> ({html.escape(r['domain'])})</li>"
            for r in rows
        )
        body = f"<h2>Open incidents: {html.escape(summary)}</h2><ul>{items}</ul><p><small>{key}</small></p>"
    else:
        bullet = "- **{severity}** [{title}]({url}) ({domain})" if kind == "chat" else "- [{severity}] {title} ({url})"
        items = "\n".join(
            bullet.format(
                url=links(api_base, r["id"])["incident"], **{k: r[k] for k in ("severity", "title", "domain")}
            )
            for r in rows
        )
        body = f"Open incidents: {summary}\n\n{items}\n\n{key}".replace("\n\n\n", "\n\n")
    data = {"idempotency_key": key, "transition": "digest", **digest}
    return Message(_sub(DIGEST_TITLE, {"open": digest.get("open", 0)}), body, _fmt(style), key, data)  # type: ignore[arg-type]


def render_test(style: Style, channel: str, key: str) -> Message:
    body = _sub(TEST_BODY, {"channel": channel, "key": key})
    if style == "email":
        body = "<p>" + html.escape(body).replace("\n\n", "</p><p>") + "</p>"
    data = {"idempotency_key": key, "transition": "test", "channel": channel}
    return Message(TEST_TITLE, body, _fmt(style), key, data)  # type: ignore[arg-type]
