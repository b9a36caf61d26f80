"""PolicySnapshotProbe in process against the simulated internet: the unchanged-inputs shortcut is exact."""

from __future__ import annotations

import pytest

from monitor.agents import load_registry
from monitor.db import open_db
from monitor.demo.internet import BackgroundInternet
from monitor.probes.policy import PolicySnapshotProbe
from monitor.runtime import reactor
from monitor.runtime.crawl import CrawlService
from monitor.settings import ProtectedDomain, load_settings
from monitor.store.core import Store


@pytest.fixture
def net():
    with BackgroundInternet() as internet:
        yield internet


@pytest.fixture
def probe(tmp_path, net):
    settings = load_settings(env={})
    settings.http.proxy = net.url
    settings.http.retries = 0
    store = Store(open_db(tmp_path / "sw.db"))
    crawl = CrawlService(settings, scrapy_overrides={"AUTOTHROTTLE_ENABLED": False, "LOG_LEVEL": "WARNING"})
    return PolicySnapshotProbe(store, crawl, load_registry(None).tokens(), settings.policy)


def verdict_rows(store: Store) -> int:
    return store.db.execute("SELECT count(*) FROM policy_verdicts").fetchone()[0]


def test_unchanged_inputs_replay_the_audit_without_touching_the_matrix(probe, net):
    domain = ProtectedDomain(domain="soundcloud.com")
    first = reactor.run(probe.run("policy_snapshot:soundcloud.com", domain))
    assert {t.action for t in first.transitions} == {"opened"}
    opened = {t.finding.kind for t in first.transitions}
    assert "policy_breach" in opened and "policy_regression" not in opened
    rows = verdict_rows(probe.store)
    digest = probe._unchanged["soundcloud.com"][0]  # the shortcut is armed only after a committed full audit

    # The track page's body differs on every request (play counts); nothing the audit reads does.
    again = reactor.run(probe.run("policy_snapshot:soundcloud.com", domain))
    assert verdict_rows(probe.store) == rows
    assert {(t.action, t.finding.kind) for t in again.transitions} == {("updated", k) for k in opened}

    # A real change goes the full way: new matrix versions and a regression, exactly once.
    net.internet.set_phase(1)
    changed = reactor.run(probe.run("policy_snapshot:soundcloud.com", domain))
    assert verdict_rows(probe.store) > rows and probe._unchanged["soundcloud.com"][0] != digest
    kinds = {(t.action, t.finding.kind if t.finding else None) for t in changed.transitions}
    assert ("opened", "policy_regression") in kinds
    after = reactor.run(probe.run("policy_snapshot:soundcloud.com", domain))
    assert not [t for t in after.transitions if t.finding and t.finding.kind == "policy_regression"]
    assert not [t for t in after.transitions if t.action in ("opened", "reopened")]
    # The change events of the previous run are over: they resolve, without a message.
    resolved = [t for t in after.transitions if t.action == "resolved"]
    assert resolved and all(t.dedupe_key.startswith("policy_file_changed:") and not t.alerts for t in resolved)


def test_a_new_probe_recomputes_and_finds_the_same(probe, net, tmp_path):
    domain = ProtectedDomain(domain="soundcloud.com")
    reactor.run(probe.run("job", domain))
    fresh = PolicySnapshotProbe(probe.store, probe.crawl, probe.agents, probe.policy)  # a restarted daemon
    applied = reactor.run(fresh.run("job", domain))
    assert all(t.action == "updated" for t in applied.transitions)
