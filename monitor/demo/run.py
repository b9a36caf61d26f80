"""``scrapewatch demo``: the real daemon against the simulated internet, reached through its proxy."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from monitor.demo.audio_sites import DemoAudio, demo_audio
from monitor.demo.case_demo import draft_and_export
from monitor.demo.intel_sites import DemoIntel, intel_summary
from monitor.demo.internet import BackgroundInternet
from monitor.demo.scraping_config import demo_scraping_settings
from monitor.demo.sites import demo_sites
from monitor.runtime.crawl import CrawlService
from monitor.runtime.daemon import Daemon
from monitor.settings import Settings, WatchTarget

log = logging.getLogger(__name__)
DEMO_INTERVAL = 15
WATCH_INTERVAL = 60
# The simulated third parties (monitor/demo/exposure_sites.py, embed_sites.py): a "SoundCloud to MP3" downloader, a
# JS player proxying HLS (rendered in Chromium), a re-upload page with a tagged MP3 (and, with planetblupi music, an
# untagged re-encode found by its fingerprint), a mirror, and a blog with the official widget (rendered: the
# widget's own requests come from its frame) that must raise nothing.
DEMO_TARGETS = (
    ("sc2mp3-fast", "https://sc2mp3-fast.example/", False),
    ("scplayer", "https://scplayer.example/", True),
    ("reupload", "https://reupload.example/", False),
    ("scmirror", "https://scmirror.example/", False),
    ("indie-blog", "https://indie-blog.example/", True),
)


def demo_settings(settings: Settings, proxy_url: str, audio: DemoAudio | None = None) -> Settings:
    """The user's settings with every probe routed to the simulated internet and short intervals; unless the user
    configured their own, a simulated watchlist, downloader canaries, archives and a dataset hub are probed too
    (with ``audio``: a catalogue naming reference audio, and a downloader that rips it without tags)."""
    demo = settings.model_copy(deep=True)
    demo.http.proxy = proxy_url
    demo.http.no_proxy = []
    demo.http.timeout_seconds = min(demo.http.timeout_seconds, 10)
    for d in demo.protected_domains:
        d.interval_seconds = DEMO_INTERVAL
        d.jitter_seconds = 2
    if not demo.scraping.downloaders and not demo.scraping.wayback.enabled and demo.catalogue.path is None:
        fragment = demo_scraping_settings(proxy_url)
        demo.catalogue.path = Path(fragment["catalogue"]["path"])
        if audio is not None:
            fragment["scraping"]["downloaders"].append({**audio.recipe, "interval_seconds": DEMO_INTERVAL})
            demo.catalogue.path = audio.catalogue
            demo.audio.max_reference_seconds = min(demo.audio.max_reference_seconds, 120)  # a quick start-up
        demo.scraping = type(demo.scraping).model_validate(fragment["scraping"])
    if not demo.watch.targets:
        demo.watch.targets = [
            WatchTarget(name=name, start_urls=[url], render=render, interval_seconds=WATCH_INTERVAL)
            for name, url, render in DEMO_TARGETS
        ]
    return demo


async def run_demo(
    settings: Settings, once: bool = False, change_after: float = 30.0, echo: Callable[[str], None] = print
) -> bool:
    """Serve the simulated internet in a thread and run the daemon against it.

    ``once``: one cycle with the original files, switch the simulated robots.txt, one more cycle, exit.
    Otherwise the switch happens after ``change_after`` seconds and the daemon runs until stopped.
    """
    sites = demo_sites()
    audio, line = demo_audio(settings.storage.data_dir / "demo-audio", sites)
    echo(line)
    if audio is not None:
        sites.update(audio.sites)
    intel = DemoIntel.start(settings.storage.data_dir / "demo-rdap")
    sites.update(intel.sites)
    with BackgroundInternet(sites) as net:
        demo = demo_settings(settings, net.url, audio)
        intel.configure(demo, DEMO_INTERVAL)
        echo(f"simulated internet (forward proxy) at {net.url}; no real site is contacted")
        echo(f"database: {demo.storage.database_path}")
        # Chromium trusts the simulated internet's TLS key (by its SPKI pin) for the rendered targets.
        daemon = Daemon(demo, CrawlService(demo, browser_spki_pin=net.internet.leaf_spki_sha256))
        await daemon.start(serve_http=not once)
        try:
            if once:
                echo("cycle 1/2: fetching the original policy files and crawling the watchlist")
                ok = await daemon.run_once()
                net.internet.set_phase(1)
                echo("cycle 2/2: the simulated soundcloud.com has changed its robots.txt")
                ok = await daemon.run_once() and ok
                _summary(daemon, echo)
                return ok
            echo(f"metrics: http://{demo.http.listen_host}:{daemon.port}/metrics")
            echo(
                f"incidents: http://{demo.http.listen_host}:{daemon.port}/api/incidents  or  scrapewatch incidents list"
            )
            echo(f"the simulated robots.txt changes in {change_after:.0f}s; press Ctrl-C to stop")
            loop = asyncio.get_running_loop()
            loop.call_later(change_after, _switch, net)
            await daemon.serve()
            return True
        finally:
            await daemon.stop()
            intel.stop()


def _switch(net: BackgroundInternet) -> None:
    net.internet.set_phase(1)
    log.info("demo: the simulated soundcloud.com robots.txt just changed")


def _summary(daemon: Daemon, echo: Callable[[str], None]) -> None:
    """Cases first, as `scrapewatch case list` orders them (most recently seen first; one line per offender: its
    incidents and severity, the domains merged into it), then the open incidents that belong to no case (policy,
    probe health)."""
    assert daemon.store is not None
    cases = daemon.store.list_cases(limit=500)
    echo(f"{len(cases)} case(s), one per offender:")
    for c in cases:
        facts = daemon.store.case_facts(c["id"]) or {"domains": [], "incidents": []}
        merged = [d for d in facts["domains"] if d["domain"] != c["domain"]]
        also = "".join(f" + {d['domain']} ({d['reason']})" for d in merged)
        open_now = sum(i["status"] in ("open", "acknowledged") for i in facts["incidents"])
        echo(f"  case #{c['id']} [{c['severity']}] {c['domain']}{also}: {c['incidents']} incident(s), "
             f"{open_now} open, {c['status']}")  # fmt: skip
    in_cases = {r[0] for r in daemon.store.db.execute("SELECT incident_id FROM case_incidents")}
    rows = daemon.store.list_incidents(limit=200)
    active = [r for r in rows if r["status"] in ("open", "acknowledged") and r["id"] not in in_cases]
    echo(f"{len(active)} open incident(s) outside cases:")
    for r in active:
        echo(f"  #{r['id']} [{r['severity']}] {r['title']}")
    for line in intel_summary(daemon.store):
        echo(line)
    draft_and_export(daemon.store, daemon.settings.storage.data_dir / "exports", daemon.catalogue, echo)
    echo("see them with: scrapewatch case list, scrapewatch case show ID, scrapewatch incidents list")
