"""run_probe, the one boundary of every probe kind: a probe that raises on every run still records its runs, opens
probe_health after ``alerts.probe_failures`` of them (in the run's own transaction) and turns /readyz unready; the
next clean run resolves it and readiness comes back."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import pytest

from monitor.probes.base import Job, Outcome, ProbeBase, run_probe
from monitor.probes.registry import KINDS
from monitor.runtime import reactor
from monitor.runtime.daemon import Daemon


def readyz(port: int) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def fetch(port: int) -> tuple[int, dict]:
    # urllib blocks; the daemon's HTTP server runs on this thread's reactor, so ask from a worker thread.
    return asyncio.get_running_loop().run_in_executor(None, readyz, port)


def test_a_probe_that_raises_every_run_is_recorded_opens_probe_health_and_turns_readyz_unready(settings):
    settings.protected_domains = settings.protected_domains[:1]
    domain = settings.protected_domains[0]
    domain.domain = "soundcloud.invalid"  # never fetched: the crawler is stopped before the first run
    domain.interval_seconds, domain.jitter_seconds = 3600, 0
    settings.alerts.probe_failures = 2
    daemon = Daemon(settings)

    async def scenario():
        await daemon.start(serve_http=True)
        # Every crawl raises from now on (a stopped crawler refuses to start one): the probe raises each run.
        await daemon.crawl.stop()
        (probe,) = [p for p in daemon.probes if p.kind == "policy_snapshot"]
        (job,) = [j for j in daemon.jobs() if j.kind == "policy_snapshot"]
        serving = asyncio.ensure_future(daemon.serve())  # the scheduler's first run is run 1
        for _ in range(100):
            await asyncio.sleep(0.05)
            if daemon.store.last_runs():
                break
        for run in (1, 2):
            if run == 2:  # the next run, as the scheduler would start it an interval later
                assert await daemon._run_job(probe, job) is False
            rows = list(daemon.store.db.query("SELECT * FROM probe_runs WHERE job = ? ORDER BY id", [job.id]))
            assert [r["outcome"] for r in rows][-run:] == ["error"] * run
            assert rows[-1]["error_kind"] == "crash" and rows[-1]["error_detail"].startswith("CrawlError: ")
            health = daemon.store.list_incidents(kind="probe_health")
            status, body = await fetch(daemon.port)
            if run == 1:  # below the threshold: no incident, still ready
                assert health == [] and status == 200 and body["crashing_jobs"] == [], body
            else:
                assert [(i["status"], i["data"]["error_kinds"]) for i in health] == [("open", {"crash": 2})]
                assert status == 503 and body["crashing_jobs"] == [job.id] and not body["ready"], body
        outbox = [r["transition"] for r in daemon.store.db.query("SELECT transition FROM alert_outbox")]
        assert outbox == ["opened"]
        daemon.request_stop()
        await serving
        await daemon.stop()

    reactor.run(scenario())


class _Flaky(ProbeBase):
    """A probe kind of the test's own: raises while ``broken``, else finds nothing (what a healthy run looks like)."""

    kind = "flaky"

    def __init__(self, store):
        self.store, self.health_threshold, self.broken = store, 2, True

    def domain_of(self, spec):
        return "flaky.example"

    async def observe(self, job: Job) -> Outcome:
        if self.broken:
            raise ValueError("parser blew up")
        from monitor.incidents import Evaluation

        return Outcome(Evaluation(scope="flaky"))


def test_run_probe_records_the_exception_and_a_clean_run_resolves_probe_health(store):
    probe = _Flaky(store)
    for _ in range(3):
        applied = asyncio.run(probe.run("flaky:one", None))
        assert applied.outcome == "error"
    (inc,) = store.list_incidents(kind="probe_health")
    assert inc["status"] == "open" and inc["title"] == "flaky:one failed 3 runs in a row"
    detail = [r["error_detail"] for r in store.db.query("SELECT error_detail FROM probe_runs")]
    assert detail == ["ValueError: parser blew up"] * 3
    probe.broken = False
    applied = asyncio.run(run_probe(probe, probe.job("flaky:one", None)))
    assert applied.outcome == "success" and [t.action for t in applied.transitions] == ["resolved"]


def test_cancellation_is_recorded_and_not_swallowed(store):
    probe = _Flaky(store)

    async def observe(job):
        raise asyncio.CancelledError

    probe.observe = observe
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(run_probe(probe, probe.job("flaky:one", None)))
    # Only the daemon's shutdown cancels a run: it is kept as an error of kind 'shutdown', not lost.
    rows = list(store.db.query("SELECT outcome, error_kind FROM probe_runs"))
    assert rows == [{"outcome": "error", "error_kind": "shutdown"}]


def test_every_registered_kind_goes_through_the_boundary():
    for cls in KINDS.values():
        assert issubclass(cls, ProbeBase) and cls.run is ProbeBase.run
