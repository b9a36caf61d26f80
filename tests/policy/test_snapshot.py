"""Policy-file snapshot evaluation: state, versions, findings and cleared keys for every history."""

import hashlib

import pytest

from monitor.policy.snapshot import Fetched, Previous, classify, evaluate

V1 = b"User-agent: GPTBot\nDisallow: /\n"
V2 = b"User-agent: GPTBot\nAllow: /\n"
H1 = hashlib.sha256(V1).hexdigest()


def fetched(status=200, body=V1, file="robots.txt", error_kind=None):
    return Fetched("soundcloud.com", file, status, body if status and status < 300 else b"", error_kind)


def present(body=V1):
    h = hashlib.sha256(body).hexdigest()
    return Previous("present", h, h, body)


@pytest.mark.parametrize(
    ("status", "state"),
    [(200, "present"), (204, "present"), (404, "missing"), (410, "missing"), (401, "missing"),
     (500, "unreachable"), (503, "unreachable"), (None, "unreachable")],
)  # fmt: skip
def test_classify(status, state):
    assert classify(fetched(status)) == state


def test_first_observation_is_a_baseline_without_incident():
    v = evaluate(fetched(), Previous())
    assert v.new_version and v.state == "present" and v.sha256 == H1
    assert v.findings == []
    assert set(v.cleared) == {
        "policy_file_missing:soundcloud.com:robots.txt",
        "policy_file_unreachable:soundcloud.com:robots.txt",
    }


def test_same_body_is_not_a_new_version():
    v = evaluate(fetched(), present())
    assert not v.new_version and v.findings == []


def test_changed_body_opens_a_change_finding_with_a_diff():
    v = evaluate(fetched(body=V2), present())
    assert v.new_version
    (finding,) = v.findings
    assert finding.kind == "policy_file_changed" and finding.severity == "medium"
    assert finding.dedupe_key == "policy_file_changed:soundcloud.com:robots.txt"
    assert "-Disallow: /" in finding.data["diff"] and "+Allow: /" in finding.data["diff"]
    assert finding.data["previous_sha256"] == H1


def test_robots_disappearing_is_high_ai_txt_medium():
    (robots,) = evaluate(fetched(404), present()).findings
    assert robots.kind == "policy_file_missing" and robots.severity == "high"
    (ai,) = evaluate(fetched(404, file="ai.txt"), present()).findings
    assert ai.severity == "medium"


def test_never_present_file_missing_is_quiet():
    v = evaluate(fetched(404, file="ai.txt"), Previous())
    assert v.findings == [] and v.state == "missing"


def test_one_failed_fetch_is_weather_the_second_in_a_row_a_finding():
    v = evaluate(fetched(None, error_kind="timeout"), present())
    assert v.findings == [] and v.cleared == [] and v.state == "unreachable" and v.new_version
    h = hashlib.sha256(V1).hexdigest()
    v = evaluate(fetched(None, error_kind="timeout"), Previous("unreachable", None, h, V1))
    (finding,) = v.findings
    assert finding.kind == "policy_file_unreachable" and "timeout" in finding.detail
    assert "disallowed" in finding.detail  # RFC 9309: unreachable robots.txt means disallow all
    assert v.cleared == []
    assert not v.new_version  # still unreachable: no new version


def test_recovery_after_unreachable_compares_with_last_present_body():
    h = hashlib.sha256(V1).hexdigest()
    after_outage = Previous("unreachable", None, h, V1)
    v = evaluate(fetched(), after_outage)
    assert v.new_version and v.findings == []  # same content as before the outage: no change incident
    assert "policy_file_unreachable:soundcloud.com:robots.txt" in v.cleared
    v2 = evaluate(fetched(body=V2), after_outage)
    assert [f.kind for f in v2.findings] == ["policy_file_changed"]


def test_a_change_is_an_event_that_resolves_silently_when_nothing_newer_came():
    changed = evaluate(fetched(body=V2), present())
    assert changed.findings[0].data["resolves_silently"] is True
    h2 = hashlib.sha256(V2).hexdigest()
    same = evaluate(fetched(body=V2), Previous("present", h2, h2, V2))
    assert same.findings == [] and "policy_file_changed:soundcloud.com:robots.txt" in same.cleared
    newer = evaluate(fetched(body=V1), Previous("present", h2, h2, V2))
    assert [f.kind for f in newer.findings] == ["policy_file_changed"]
    assert "policy_file_changed:soundcloud.com:robots.txt" not in newer.cleared


def test_diff_is_bounded():
    big_old = "\n".join(f"Disallow: /a{i}" for i in range(500)).encode()
    big_new = "\n".join(f"Disallow: /b{i}" for i in range(500)).encode()
    v = evaluate(fetched(body=big_new), present(big_old))
    assert len(v.findings[0].data["diff"].splitlines()) <= 61
