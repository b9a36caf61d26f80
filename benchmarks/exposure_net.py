"""A simulated watch target of N pages for the exposure benchmark, served by the demo's forward proxy in its own
process.

Usage: python benchmarks/exposure_net.py N  -> prints the proxy URL on stdout, serves until killed; on SIGTERM it
prints its own peak RSS (MiB) on stdout and exits.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.fake_net import serve_main  # noqa: E402
from monitor.demo.model import Site, by_host, html  # noqa: E402

HOST = "watch-bench.test"
LINKS_PER_PAGE = 20


def page_url(i: int) -> str:
    return f"http://{HOST}/p/{i}"


def page(i: int, n: int) -> str:
    """About 13 KB of a third-party music page: text, links to other pages, SoundCloud permalinks, a script."""
    others = [(i * 7 + k) % n for k in range(LINKS_PER_PAGE)]
    links = "".join(f'<li><a href="/p/{j}">track {j}</a></li>' for j in others)
    text = "<p>" + "Fresh uploads from independent artists, reviewed every week. " * 200 + "</p>"
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>page {i}</title></head><body>'
        f"<h1>Page {i}</h1>{text}<ul>{links}</ul>"
        f'<p>Original: <a href="https://soundcloud.com/artist-{i}/track-{i}">soundcloud.com/artist-{i}</a></p>'
        "<script>document.title += ' (ready)';</script></body></html>"
    )


def sites(n: int) -> dict[str, Site]:
    return by_host([Site(HOST, {f"/p/{i}": html(page(i, n)) for i in range(n)})])


if __name__ == "__main__":
    serve_main(sites)
