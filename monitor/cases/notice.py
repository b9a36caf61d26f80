"""Takedown notice drafts from a case's facts: the DMCA §512(c)(3) elements through editable Jinja2 templates.

A draft always renders: whatever it lacks (an abuse address, the sender's contact, an unconfirmed statement) is
shown in the text as a clearly marked placeholder and listed in ``Draft.missing_fields``. Nothing is ever sent.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from monitor.errors import NoticeTemplateError
from monitor.vocabulary import NOTICE_RECIPIENTS

__all__ = [
    "ACCURACY",
    "DEFAULT_TEMPLATES",
    "FORMATS",
    "GOOD_FAITH",
    "Draft",
    "Recipient",
    "Sender",
    "draft",
    "html_form",
    "recipient",
    "valid_address",
]

FORMATS = ("md", "eml", "pdf")
DEFAULT_TEMPLATES = Path(__file__).resolve().parent.parent / "data" / "notices"
# 17 U.S.C. §512(c)(3)(A)(v) and (vi): statements only the analyst can make, so they are placeholders until confirmed.
GOOD_FAITH = (
    "I have a good faith belief that use of the material in the manner complained of is not authorized by the "
    "copyright owner, its agent, or the law."
)
ACCURACY = (
    "The information in this notification is accurate, and under penalty of perjury, I am authorized to act on "
    "behalf of the owner of an exclusive right that is allegedly infringed."
)
_LABELS = {"hosting": "hosting provider", "registrar": "registrar", "site": "site operator"}
# An addr-spec without quoting or comments: RDAP answers are untrusted, and an address lands in a mail header.
_ADDRESS = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)


@dataclass(frozen=True)
class Sender:
    """The complaining party: who signs, on whose behalf, and how to reach them (``notices.sender_*``)."""

    name: str = ""
    organisation: str = ""
    email: str = ""
    phone: str = ""
    address: str = ""

    @classmethod
    def from_settings(cls, notices: Any) -> Sender:
        return cls(
            notices.sender_name,
            notices.sender_organisation,
            notices.sender_email,
            notices.sender_phone,
            notices.sender_address,
        )


@dataclass(frozen=True)
class Recipient:
    """Who a notice goes to: valid abuse addresses, the provider names, and untrusted addresses left out."""

    kind: str
    label: str
    addresses: list[str]
    names: list[str]
    rejected: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Draft:
    """A rendered notice: its bytes and content type, the address(es) it is for, its subject, what it lacks."""

    content: bytes
    content_type: str
    address: str | None
    subject: str
    missing_fields: tuple[str, ...]
    message_id: str | None = None


def valid_address(value: str) -> bool:
    """True for a plain ``local@domain`` mail address of sane length (no display name, quotes or line breaks)."""
    return len(value) <= 254 and _ADDRESS.fullmatch(value) is not None


def recipient(facts: dict[str, Any], to: str, address: str | None = None) -> Recipient:
    """The recipient of a notice ``to`` hosting / registrar / site, from the case's host intel (or ``address``)."""
    if to not in NOTICE_RECIPIENTS:
        raise ValueError(f"--to must be one of {', '.join(NOTICE_RECIPIENTS)}, not {to!r}")
    intel = [facts.get("host_intel", {}).get(d) or {} for d in _domains(facts)]
    names: list[str] = []
    found: list[str] = []
    if to == "hosting":
        for net in (n for facts_ in intel for n in facts_.get("networks") or []):
            found.append(net.get("abuse_email") or "")
            names.append(net.get("hosting_provider") or net.get("network_name") or "")
    elif to == "registrar":
        for reg in (f.get("registration") or {} for f in intel):
            found.append(reg.get("registrar_abuse_email") or "")
            names.append(reg.get("registrar") or "")
    else:  # RFC 2142's role mailbox of each domain of the case
        found = [f"abuse@{d}" for d in _domains(facts)]
    if address is not None:
        if not valid_address(address):
            raise ValueError(f"not a plain mail address: {address[:100]!r}")
        found = [address]
    candidates = sorted({a.strip() for a in found if a and a.strip()})
    return Recipient(
        to,
        _LABELS[to],
        [a for a in candidates if valid_address(a)],
        sorted({n for n in names if n}),
        [a for a in candidates if not valid_address(a)],
    )


def draft(
    facts: dict[str, Any],
    to: str,
    fmt: str,
    template_dir: Path | None = None,
    sender: Sender = Sender(),
    *,
    address: str | None = None,
    confirm_good_faith: bool = False,
    confirm_accuracy: bool = False,
    chromium_path: str = "/usr/bin/chromium",
    now: dt.datetime | None = None,
) -> Draft:
    """Draft the notice of case ``facts`` to ``to`` as ``fmt`` (md, eml or pdf); raises NoticeTemplateError.

    ``address`` replaces the abuse address found in host intel; ``confirm_*`` are the analyst's confirmation of
    the good-faith and accuracy statements (unconfirmed, they are placeholders and the notice is unsigned).
    """
    if fmt not in FORMATS:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    now = now or dt.datetime.now(dt.UTC)
    rcpt = recipient(facts, to, address)
    context = _context(facts, rcpt, sender, confirm_good_faith, confirm_accuracy, now, template_dir)
    missing, subject = tuple(context["missing_fields"]), context["subject"]
    joined = ", ".join(rcpt.addresses) or None
    if fmt == "pdf":
        from monitor.cases.pdf import html_to_pdf

        html = _render(template_dir, "notice.html.j2", context, html=True)
        return Draft(html_to_pdf(html, chromium_path), "application/pdf", joined, subject, missing)
    text = _render(template_dir, "notice.md.j2", context, html=False)
    if fmt == "md":
        return Draft(text.encode(), "text/markdown; charset=utf-8", joined, subject, missing)
    message = _message(text, subject, rcpt, sender, facts, now)
    return Draft(message.as_bytes(policy=SMTP), "message/rfc822", joined, subject, missing, message["Message-ID"])


def html_form(
    facts: dict[str, Any],
    to: str,
    template_dir: Path | None = None,
    sender: Sender = Sender(),
    *,
    address: str | None = None,
    confirm_good_faith: bool = False,
    confirm_accuracy: bool = False,
    now: dt.datetime | None = None,
) -> str:
    """The notice as HTML, the form printed to PDF (for pages that show the draft)."""
    rcpt = recipient(facts, to, address)
    now = now or dt.datetime.now(dt.UTC)
    context = _context(facts, rcpt, sender, confirm_good_faith, confirm_accuracy, now, template_dir)
    return _render(template_dir, "notice.html.j2", context, html=True)


def _domains(facts: dict[str, Any]) -> list[str]:
    listed = [d["domain"] for d in facts.get("domains") or [] if d.get("domain")]
    return sorted(set(listed)) or [facts["domain"]]


def _context(
    facts: dict[str, Any],
    rcpt: Recipient,
    sender: Sender,
    good_faith: bool,
    accuracy: bool,
    now: dt.datetime,
    template_dir: Path | None,
) -> dict[str, Any]:
    works = [t for t in facts.get("tracks") or [] if t.get("url")]
    statements = [
        {"name": "good_faith", "text": GOOD_FAITH, "confirmed": good_faith},
        {"name": "accuracy", "text": ACCURACY, "confirmed": accuracy},
    ]
    signed = good_faith and accuracy and bool(sender.name)
    missing = [
        name
        for name, lacking in (
            ("address", not rcpt.addresses),
            ("works", not works),
            ("locations", not facts.get("urls")),
            ("sender_name", not sender.name),
            ("sender_organisation", not sender.organisation),
            ("sender_email", not sender.email),
            ("good_faith", not good_faith),
            ("accuracy", not accuracy),
            ("signature", not signed),
        )
        if lacking
    ]
    context = {
        "case": facts,
        "works": works,
        "locations": list(facts.get("urls") or []),
        "recipient": rcpt,
        "sender": sender,
        "statements": statements,
        "signature": {"name": sender.name, "signed": signed},
        "date": now.date().isoformat(),
        "missing_fields": missing,
    }
    context["subject"] = " ".join(_render(template_dir, "subject.txt.j2", context, html=False).split())
    return context


def _environment(template_dir: Path | None, html: bool) -> jinja2.Environment:
    if template_dir is not None and not Path(template_dir).is_dir():
        raise NoticeTemplateError(f"notice templates directory {template_dir} does not exist")
    # A team's directory first; any template it does not have comes from the bundled defaults.
    paths = [str(template_dir)] if template_dir is not None else []
    env = SandboxedEnvironment(
        loader=jinja2.FileSystemLoader([*paths, str(DEFAULT_TEMPLATES)]),
        undefined=jinja2.StrictUndefined,
        autoescape=html,
        keep_trailing_newline=True,
    )
    # Untrusted text (titles, URLs from hostile sites) must not start new lines of the notice.
    env.filters["oneline"] = lambda value: " ".join(str(value).split())
    if html:
        env.globals["mark"] = lambda label: Markup('<mark class="placeholder">[[{}]]</mark>').format(escape(label))
    else:
        env.globals["mark"] = lambda label: f"[[{label}]]"
    return env


def _render(template_dir: Path | None, name: str, context: dict[str, Any], *, html: bool) -> str:
    try:
        return _environment(template_dir, html).get_template(name).render(context)
    except jinja2.TemplateSyntaxError as exc:
        raise NoticeTemplateError(f"notice template {exc.filename or name}, line {exc.lineno}: {exc.message}") from exc
    except jinja2.TemplateNotFound as exc:
        raise NoticeTemplateError(f"notice template {exc.name} not found") from exc
    except (jinja2.TemplateError, TypeError, ValueError, AttributeError) as exc:
        raise NoticeTemplateError(f"notice template {name}: {exc}") from exc


def _message(
    text: str, subject: str, rcpt: Recipient, sender: Sender, facts: dict[str, Any], now: dt.datetime
) -> EmailMessage:
    msg = EmailMessage()
    if rcpt.addresses:
        msg["To"] = ", ".join(rcpt.addresses)
    if sender.email and valid_address(sender.email):
        msg["From"] = formataddr((", ".join(p for p in (sender.name, sender.organisation) if p), sender.email))
    msg["Subject"] = subject
    msg["Date"] = format_datetime(now)
    domain = sender.email.rpartition("@")[2] if valid_address(sender.email) else "scrapewatch.invalid"
    msg["Message-ID"] = make_msgid(f"case{facts['id']}", domain=domain)
    msg["X-Scrapewatch-Case"] = str(facts["id"])
    msg.set_content(text)
    return msg
