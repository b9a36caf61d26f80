"""The takedown re-check against a loopback site behind the proxy: still up after the notice, then gone (one page
answers 404, the other no longer carries the signature) -> taken down."""

from __future__ import annotations

import base64
import json

from helpers.http_servers import FakeSite, Reply

from monitor.db import open_db
from monitor.runtime import reactor
from monitor.runtime.crawl import CrawlService
from monitor.runtime.takedown import TakedownCheck, still_up
from monitor.settings import CaseSettings, load_settings
from monitor.store import EvidenceFiles, Store, case_actions
from spiders.watch_items import WatchResource
from tests.cases.support import evidence, finding, run

FAST = {"AUTOTHROTTLE_ENABLED": False, "LOG_LEVEL": "WARNING"}


def _policy(resource: str) -> str:
    doc = {"Statement": [{"Resource": resource, "Condition": {"DateLessThan": {"AWS:EpochTime": 4102444800}}}]}
    return base64.b64encode(json.dumps(doc).encode()).decode().replace("+", "-").replace("=", "_").replace("/", "~")


SIGNED = ("https://cf-media.sndcdn.com/Zq8xLm3Np7Rt.128.mp3?Policy=" + _policy("*://cf-media.sndcdn.com/Zq8xLm3Np7Rt.128.mp3*")
          + "&amp;Signature=FAKE~sig&amp;Key-Pair-Id=APKAEXAMPLE000000000")  # fmt: skip
EXPOSING = Reply(200, f'<html><body><a download href="{SIGNED}">Download MP3</a></body></html>'.encode(),
                 {"Content-Type": "text/html"})  # fmt: skip
CLEAN = Reply(200, b"<html><body><p>This content was removed.</p></body></html>", {"Content-Type": "text/html"})
PAGES = ("http://dl.example/track/1", "http://dl.example/track/2")


def test_still_up_then_taken_down_when_the_site_removes_the_material(tmp_path):
    with FakeSite({PAGES[0]: EXPOSING, PAGES[1]: EXPOSING}) as site:
        settings = load_settings(env={})
        settings.http.retries = 0
        settings.http.proxy = site.url()
        store = Store(open_db(tmp_path / "t.db"), EvidenceFiles(tmp_path / "ev"))
        f = finding("dl.example")
        run(store, [f], [evidence(f, PAGES[0]), evidence(f, PAGES[1])])
        case_actions.notice_sent(store, 1, "hosting", "abuse@host.example", "<n@sw>", "alice", 60)
        store.db.execute("UPDATE cases SET next_check_at = notice_sent_at")  # the week has passed
        check = TakedownCheck(store, CrawlService(settings, scrapy_overrides=FAST), None, CaseSettings())
        report = reactor.run(check.run())
        assert report.results == {1: "recheck"} and sorted(report.up[1]) == list(PAGES)
        view = store.case_facts(1)
        assert view["status"] == "notice_sent" and view["timeline"][-1]["action"] == "recheck"
        assert view["timeline"][-1]["note"].startswith("still up after 0 day(s): 2 of 2 URL(s)")
        assert reactor.run(check.run()).results == {}  # not due again before recheck_after_seconds
        del site.routes[PAGES[0]]  # 404 now
        site.routes[PAGES[1]] = CLEAN
        store.db.execute("UPDATE cases SET next_check_at = notice_sent_at")
        assert reactor.run(check.run()).results == {1: "taken_down"}
        view = store.case_facts(1)
        assert view["status"] == "taken_down" and view["taken_down_at"] and view["next_check_at"] is None
        assert [e["action"] for e in view["timeline"]][-3:] == ["recheck", "recheck", "taken_down"]
        assert view["timeline"][-2]["data"] == {"up": False, "days": 0, "urls": list(PAGES)}
        # The material comes back: the next probe run makes the case reappear.
        run(store, [f])
        assert store.case_facts(1)["status"] == "reappeared"
        store.db.close()


def item(url: str, status: int | None, ctype: str = "text/html") -> WatchResource:
    return WatchResource(target="t", url=url, kind="page", status=status, content_type=ctype)


def test_still_up_rules():
    urls = ["http://a.example/p", "http://a.example/f.mp3", "http://a.example/gone", "http://a.example/dns",
            "http://a.example/clean", "http://a.example/never"]  # fmt: skip
    items = [item(urls[0], 200), item(urls[1], 200, "audio/mpeg"), item(urls[2], 410), item(urls[3], None),
             item(urls[4], 200)]  # fmt: skip
    assert still_up(urls, items, {urls[0]}) == urls[:2]
