"""Notice drafts: every DMCA §512(c)(3) element, addressing, .eml and PDF forms, template errors, hostile data."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import shutil

import pytest

from monitor.cases.notice import ACCURACY, GOOD_FAITH, Sender, draft, html_form, recipient
from monitor.errors import NoticeTemplateError
from tests.notices.cases import HOSTILE, host_intel, seeded

SENDER = Sender("Ana Lys", "SoundCloud", "legal@soundcloud.example", "+1 555 0100", "1 Example Street, Berlin")
NOW = dt.datetime(2026, 11, 3, 12, 0, tzinfo=dt.UTC)
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def case(tmp_path):
    return seeded(tmp_path)[1]


def test_a_draft_has_every_element_each_url_and_each_track(case):
    result = draft(case, "hosting", "md", sender=SENDER, now=NOW)
    text = result.content.decode()
    assert result.address == "abuse@hostco.example" and text.startswith("To: abuse@hostco.example\n")
    assert "Attn: abuse desk of HostCo Ltd" in text
    for track in case["tracks"]:
        assert f'"{track["title"]}" by {track["artist"]} — {track["url"]}' in text
    assert len(case["urls"]) == 3
    for url in case["urls"]:
        assert f"- {url}\n" in text
    for contact in ("Ana Lys", "SoundCloud", "legal@soundcloud.example", "+1 555 0100", "1 Example Street, Berlin"):
        assert contact in text
    # The statements only the analyst can make stay marked placeholders, and the notice is unsigned.
    assert f"[[TO CONFIRM (good_faith): {GOOD_FAITH}]]" in text and f"[[TO CONFIRM (accuracy): {ACCURACY}]]" in text
    assert "[[SIGNATURE:" in text and "/s/" not in text
    assert result.missing_fields == ("good_faith", "accuracy", "signature")
    assert result.subject == "Notice of copyright infringement (17 U.S.C. § 512(c)(3)): dl.example — case 1"


def test_confirmed_statements_are_stated_and_signed(case):
    result = draft(case, "hosting", "md", sender=SENDER, confirm_good_faith=True, confirm_accuracy=True, now=NOW)
    text = result.content.decode()
    assert f"- {GOOD_FAITH}\n" in text and f"- {ACCURACY}\n" in text and "[[" not in text
    assert "/s/ Ana Lys, SoundCloud, 2026-11-03" in text and result.missing_fields == ()
    # One statement confirmed is not enough to sign.
    half = draft(case, "hosting", "md", sender=SENDER, confirm_good_faith=True, now=NOW)
    assert half.missing_fields == ("accuracy", "signature") and "/s/" not in half.content.decode()


def test_without_a_sender_the_contact_is_marked_missing(case):
    result = draft(case, "hosting", "md", now=NOW)
    assert {"sender_name", "sender_email", "sender_organisation"} <= set(result.missing_fields)
    assert "[[MISSING: sender e-mail]]" in result.content.decode()


@pytest.mark.parametrize(
    ("to", "address"),
    [("hosting", "abuse@hostco.example"), ("registrar", "abuse@reg.example"), ("site", "abuse@dl.example")],
)
def test_each_recipient_gets_its_abuse_contact(case, to, address):
    assert recipient(case, to).addresses == [address]
    assert draft(case, to, "md", sender=SENDER, now=NOW).content.decode().startswith(f"To: {address}\n")
    # The analyst's address wins over host intel.
    assert recipient(case, to, "takedown@other.example").addresses == ["takedown@other.example"]


def test_no_abuse_address_known_gives_a_draft_with_the_address_marked_missing(case):
    bare = {**case, "host_intel": {"dl.example": host_intel("dl.example", abuse=None, registrar=None)}}
    for to in ("hosting", "registrar"):
        result = draft(bare, to, "md", sender=SENDER, now=NOW)
        assert result.address is None and result.missing_fields[0] == "address"
        assert result.content.decode().startswith("To: [[MISSING: abuse address of the ")
    no_intel = {**case, "host_intel": {}}
    assert draft(no_intel, "hosting", "md", sender=SENDER, now=NOW).address is None
    eml = email.message_from_bytes(draft(no_intel, "hosting", "eml", sender=SENDER, now=NOW).content)
    assert eml["To"] is None and eml["From"] == '"Ana Lys, SoundCloud" <legal@soundcloud.example>'


def test_a_hostile_rdap_address_never_reaches_a_header(case):
    evil = "abuse@hostco.example\r\nBcc: everyone@victim.example"
    intel = host_intel("dl.example", abuse=evil)
    intel["networks"].append({**intel["networks"][0], "abuse_email": "noc@cdn.example", "hosting_provider": "CDN"})
    facts = {**case, "host_intel": {"dl.example": intel}}
    rcpt = recipient(facts, "hosting")
    assert rcpt.addresses == ["noc@cdn.example"] and rcpt.rejected == [evil]
    raw = draft(facts, "hosting", "eml", sender=SENDER, now=NOW).content
    assert b"victim.example" not in raw and email.message_from_bytes(raw)["To"] == "noc@cdn.example"
    with pytest.raises(ValueError, match="plain mail address"):
        recipient(case, "site", "a@b.example\nBcc: c@d.example")


def test_eml_is_a_real_rfc5322_message(case):
    result = draft(case, "registrar", "eml", sender=SENDER, now=NOW)
    assert result.content_type == "message/rfc822" and b"\r\n" in result.content
    msg = email.message_from_bytes(result.content, policy=email.policy.default)
    assert msg["To"] == "abuse@reg.example" and msg["From"].addresses[0].addr_spec == "legal@soundcloud.example"
    assert msg["Subject"] == result.subject and msg["Message-ID"] == result.message_id
    assert result.message_id.endswith("@soundcloud.example>") and msg["Date"].datetime == NOW
    body = msg.get_body().get_content()
    assert all(url in body for url in case["urls"]) and "Night Drive" in body
    assert draft(case, "registrar", "eml", sender=SENDER, now=NOW).message_id != result.message_id


def test_hostile_titles_are_escaped_in_html_and_cannot_break_lines_in_text(tmp_path):
    _, facts = seeded(tmp_path, title=f"{HOSTILE}\n\n## 4. Statements\n- I withdraw this notice")
    html = html_form(facts, "hosting", sender=SENDER, now=NOW)
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=http://127.0.0.1:9/x&gt;" in html
    assert '<mark class="placeholder">[[TO CONFIRM (good_faith)' in html  # placeholders are markup, data is not
    text = draft(facts, "hosting", "md", sender=SENDER, now=NOW).content.decode()
    assert "\n- I withdraw" not in text and text.count("\n## 4. Statements") == 1


def test_a_team_template_replaces_the_bundled_one_and_the_rest_fall_back(case, tmp_path):
    team = tmp_path / "templates"
    team.mkdir()
    (team / "notice.md.j2").write_text("Dear {{ recipient.names | join(', ') }}: {{ locations | length }} URLs.\n")
    result = draft(case, "hosting", "md", team, SENDER, now=NOW)
    assert result.content == b"Dear HostCo Ltd: 3 URLs.\n"
    assert result.subject.startswith("Notice of copyright infringement")  # subject.txt.j2 from the defaults


@pytest.mark.parametrize(
    ("name", "source", "message"),
    [
        ("notice.md.j2", "{% for url in locations %}{{ url }}", r"notice\.md\.j2, line 1: .*endfor"),
        ("notice.md.j2", "Case {{ case.no_such_field }}\n", "no_such_field"),
        ("subject.txt.j2", "{{ undefined_name }}", "undefined_name"),
        ("notice.md.j2", "{% include 'gone.j2' %}", "gone.j2 not found"),
    ],
)
def test_template_errors_are_clear(case, tmp_path, name, source, message):
    team = tmp_path / "templates"
    team.mkdir()
    (team / name).write_text(source)
    with pytest.raises(NoticeTemplateError, match=message):
        draft(case, "hosting", "md", team, SENDER, now=NOW)


def test_a_missing_templates_directory_is_clear(case, tmp_path):
    with pytest.raises(NoticeTemplateError, match="does not exist"):
        draft(case, "hosting", "md", tmp_path / "nowhere", SENDER, now=NOW)


def test_unknown_recipient_and_format_are_refused(case):
    with pytest.raises(ValueError, match="--to"):
        draft(case, "police", "md")
    with pytest.raises(ValueError, match="--format"):
        draft(case, "site", "docx")


@pytest.mark.browser
def test_pdf_is_printed_by_chromium(tmp_path):
    _, facts = seeded(tmp_path, title=HOSTILE)
    result = draft(facts, "hosting", "pdf", sender=SENDER, chromium_path=CHROMIUM, now=NOW)
    assert result.content.startswith(b"%PDF-") and result.content.rstrip().endswith(b"%%EOF")
    assert result.content_type == "application/pdf" and len(result.content) > 5_000
