"""A fake internet of N generated host-named domains for benchmarks, run in its own process.

Usage: python benchmarks/fake_net.py N  -> prints the proxy URL on stdout, serves until killed.
"""

from __future__ import annotations

import asyncio
import sys

from monitor.demo.internet import FakeInternet
from monitor.demo.model import Site, by_host, text

ROBOTS = (
    "User-agent: GPTBot\nDisallow: /\n\nUser-agent: ClaudeBot\nUser-agent: CCBot\nDisallow: /\n\n"
    "User-agent: *\nDisallow: /search\nDisallow: /you/\n" + "".join(f"Disallow: /private/{i}/\n" for i in range(80))
)  # about 2 KB, like a real robots.txt
AI_TXT = "# Spawning ai.txt\nUser-Agent: *\nDisallow: *.mp3\nDisallow: *.m4a\nDisallow: *.opus\n"


def host(i: int) -> str:
    return f"d{i:05d}.bench.test"


def sites(n: int) -> dict[str, Site]:
    routes = {"/robots.txt": text(ROBOTS), "/ai.txt": text(AI_TXT)}
    return by_host(Site(host(i), routes) for i in range(n))


async def main(n: int) -> None:
    net = FakeInternet(sites(n))
    await net.start()
    print(net.url, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
