"""A fake internet of N generated host-named domains for benchmarks, run in its own process.

Usage: python benchmarks/fake_net.py N  -> prints the proxy URL on stdout, serves until killed; on SIGTERM
it prints its own peak RSS (MiB) on stdout and exits.
"""

from __future__ import annotations

import asyncio
import resource
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from monitor.demo.internet import FakeInternet
from monitor.demo.model import Site, by_host, html, text
from monitor.settings import Settings, load_settings

ROBOTS = (
    "User-agent: GPTBot\nDisallow: /\n\nUser-agent: ClaudeBot\nUser-agent: CCBot\nDisallow: /\n\n"
    "User-agent: Google-Extended\nContent-Usage: train-ai=n\nContent-Usage: /tracks/ train-ai=n, ai-input=n\n"
    "Allow: /\n\n"
    "User-agent: *\nContent-Signal: search=yes, ai-train=no\nDisallow: /search\nDisallow: /you/\n"
    "Disallow: /*/sets/*?\nAllow: /tracks/*/streams$\n" + "".join(f"Disallow: /private/{i}/\n" for i in range(80))
)  # about 2 KB, like a real robots.txt, with every robots.txt-borne signal the audit reads
AI_TXT = "# Spawning ai.txt\nUser-Agent: *\nDisallow: *.mp3\nDisallow: *.m4a\nDisallow: *.opus\nDisallow: /media/\n"
TDMREP = '[{"location": "/*", "tdm-reservation": 1, "tdm-policy": "https://example.org/tdm-policy.json"}]'
LICENSE = (
    '<rsl xmlns="https://rslstandard.org/rsl"><content url="/"><license><permits type="usage">search</permits>'
    '<prohibits type="usage">ai-train ai-input</prohibits></license></content></rsl>'
)
PAGE = (
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Track</title><meta name="tdm-reservation" content="1">'
    '<meta name="GPTBot" content="noai"></head><body>' + "<p>comment</p>" * 2000 + "</body></html>"
)  # about 30 KB, signals in the head like a real track page
PAGE_HEADERS = (("X-Robots-Tag", "noai, noimageai"), ("tdm-reservation", "1"), ("Content-Usage", "train-ai=n"))
# The sampled pages of the default policy settings (path classes home and track).
PAGES = ("/", "/forss/flickermood")


def host(i: int) -> str:
    return f"d{i:05d}.bench.test"


def sites(n: int) -> dict[str, Site]:
    """N sites serving everything the policy audit reads: robots.txt (naming an RSL license), ai.txt, TDMRep,
    the license document and the sampled home and track pages."""
    shared = {
        "/ai.txt": text(AI_TXT),
        "/.well-known/tdmrep.json": text(TDMREP, content_type="application/json"),
        "/license.xml": text(LICENSE, content_type="application/rsl+xml"),
        **{path: html(PAGE, headers=PAGE_HEADERS) for path in PAGES},
    }
    return by_host(
        Site(host(i), {**shared, "/robots.txt": text(f"{ROBOTS}License: {license_url(i)}\n")}) for i in range(n)
    )


def license_url(i: int) -> str:
    return f"http://{host(i)}/license.xml"


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def settings_for(proxy: str, data_dir: Path) -> Settings:
    """Built-in settings with every probe routed to the fake net, no retries, storage in data_dir."""
    s = load_settings(env={})
    s.http.proxy = proxy
    s.http.retries = 0
    s.storage.data_dir = data_dir
    s.protected_domains = []
    return s


async def serve(hosts: dict[str, Site]) -> None:
    """Serve ``hosts`` behind the forward proxy: print its URL, serve until SIGTERM, then print the peak RSS."""
    net = FakeInternet(hosts)
    await net.start()
    print(net.url, flush=True)
    done = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, done.set)
    await done.wait()
    print(f"{peak_rss_mib():.0f}", flush=True)


class FakeNetProcess:
    """This script serving N domains in a subprocess (the benchmark's client does not share its CPU): ``url`` is the
    proxy; :meth:`stop` returns the server's peak RSS in MiB ("?" when it did not say)."""

    def __init__(self, n: int):
        here = Path(__file__).parent
        self.proc = subprocess.Popen(
            [sys.executable, str(here / "fake_net.py"), str(n)], stdout=subprocess.PIPE, text=True, cwd=here.parent
        )
        self.url = self.proc.stdout.readline().strip()

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.communicate(timeout=10)[0].strip() or "?"
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return "?"


def serve_main(make_sites: Callable[[int], dict[str, Site]]) -> None:
    """The benchmark servers' entry point: ``make_sites(N)`` from the command line, with uvloop when installed."""
    try:
        import uvloop

        uvloop.install()  # the server must not be the bottleneck
    except ImportError:
        pass
    asyncio.run(serve(make_sites(int(sys.argv[1]))))


if __name__ == "__main__":
    serve_main(sites)
