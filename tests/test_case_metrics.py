"""The case metrics read from SQLite at scrape time: counts by status, notices sent, confirmed takedowns and the
median time to takedown, on a real store and through the daemon's collector."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from monitor.db import open_db
from monitor.metrics import StoreCollector
from monitor.store.core import Store
from tests.helpers.cases import finding, insert_case, store_findings


def _samples(path) -> dict[tuple[str, tuple], float]:
    registry = CollectorRegistry()
    registry.register(StoreCollector(lambda: open_db(path, migrate=False).conn))
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_case_metrics_before_and_after_takedowns(tmp_path):
    path = tmp_path / "m.db"
    store = Store(open_db(path))
    try:
        samples = _samples(path)
        assert samples[("scrapewatch_store_up", ())] == 1
        assert samples[("scrapewatch_cases", (("status", "new"),))] == 0
        assert samples[("scrapewatch_case_notices_sent", (("recipient", "hosting"),))] == 0
        assert samples[("scrapewatch_case_takedowns_confirmed", ())] == 0
        assert not [k for k in samples if k[0] == "scrapewatch_case_time_to_takedown_seconds"]  # no takedown yet

        ids = store_findings(store, [finding("a.example", 1)])
        insert_case(store, "a.example", list(ids.values()), status="investigating")
        insert_case(store, "b.example", [], status="taken_down", taken_down_minute=120,
                    notices=[("hosting", "abuse@h.test", "<1>"), ("registrar", "abuse@r.test", "<2>")])  # fmt: skip
        insert_case(store, "c.example", [], status="taken_down", taken_down_minute=60, notices=[("site", None, None)])
        insert_case(store, "d.example", [], status="new", merged_into=1)  # merged: not a case of its own
        samples = _samples(path)
        assert samples[("scrapewatch_cases", (("status", "investigating"),))] == 1
        assert samples[("scrapewatch_cases", (("status", "taken_down"),))] == 2
        assert samples[("scrapewatch_cases", (("status", "new"),))] == 0
        assert samples[("scrapewatch_case_notices_sent", (("recipient", "hosting"),))] == 1
        assert samples[("scrapewatch_case_notices_sent", (("recipient", "site"),))] == 1
        assert samples[("scrapewatch_case_takedowns_confirmed", ())] == 2
        assert abs(samples[("scrapewatch_case_time_to_takedown_seconds", ())] - 5400) < 0.01  # median of 1 h, 2 h
    finally:
        store.db.close()
