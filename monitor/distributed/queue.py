"""The Redis side shared by the coordinator and the workers: key names, the connection, consumer groups, and the
queue's depth and age. Jobs and results are Redis Streams entries ``{job: id, data: JSON}``."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from monitor.net import is_soundcloud_host
from monitor.settings import DistributedSettings

log = logging.getLogger(__name__)

WORKERS_GROUP = "workers"
COORDINATOR_GROUP = "coordinator"
# Connection trouble is waited out (a restarted Redis, a failover); any other Redis error is a bug and raised.
TRANSIENT = (RedisConnectionError, RedisTimeoutError, OSError)
T = TypeVar("T")


@dataclass(frozen=True)
class Names:
    """The Redis keys of one deployment (``distributed.key_prefix``)."""

    jobs: str
    results: str
    dead: str
    prefix: str

    @classmethod
    def of(cls, settings: DistributedSettings) -> Names:
        return cls(
            settings.key(settings.jobs_stream),
            settings.key(settings.results_stream),
            settings.key(settings.dead_letter_stream),
            settings.key_prefix,
        )

    def blob(self, sha: str) -> str:
        return f"{self.prefix}:blob:{sha}"

    def attempts(self, job: str) -> str:
        return f"{self.prefix}:attempts:{job}"

    def lease(self, domain: str) -> str:
        return f"{self.prefix}:lease:{domain}"

    def last_start(self, domain: str) -> str:
        return f"{self.prefix}:last:{domain}"


# How long one command may take on the connections that carry results and blobs. A chunk's result is tens of MiB, read
# in pieces between the coordinator's evaluations of other domains: redis-py's default of 5 s cut such reads off. Not
# longer: a reply lost with its connection (a Redis restart) is only noticed by this timeout. A read cut off anyway is
# read again from the coordinator's pending entries.
BULK_TIMEOUT_SECONDS = 30.0


def connect(url: str, socket_timeout: float = 5.0) -> aioredis.Redis:
    """A redis-py asyncio client; it reconnects by itself on the next command after a dropped connection.
    ``socket_timeout``: the longest wait for one reply (a blocking read's own block time comes on top)."""
    return aioredis.Redis.from_url(
        url, socket_connect_timeout=5, socket_timeout=socket_timeout, health_check_interval=10
    )


async def ensure_group(client: aioredis.Redis, stream: str, group: str) -> None:
    """Create ``group`` on ``stream`` (and the stream) reading from its start; an existing group is kept."""
    try:
        await client.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def is_nogroup(exc: BaseException) -> bool:
    """True for the error of a group that is gone (a Redis restarted without persistence)."""
    return isinstance(exc, ResponseError) and "NOGROUP" in str(exc)


async def persist(what: str, until: float, call: Callable[[], Awaitable[T]]) -> T:
    """``call()`` retried through connection trouble until it succeeds or ``until`` (epoch seconds) passes."""
    delay = 0.2
    while True:
        try:
            return await call()
        except TRANSIENT as exc:
            if time.time() + delay > until:
                raise
            log.warning("%s: Redis unreachable (%s); retrying in %.1fs", what, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def entry_age(entry_id: bytes | str, now: float) -> float:
    """Seconds since a stream entry was added (its id starts with the server's milliseconds)."""
    raw = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return max(0.0, now - int(raw.split("-")[0]) / 1000)


async def queue_stats(client: aioredis.Redis, names: Names) -> dict[str, Any]:
    """Jobs in the stream (waiting or taken), jobs taken and not finished, and the oldest job's age."""
    pipe = client.pipeline(transaction=False)
    pipe.xlen(names.jobs)
    pipe.xrange(names.jobs, count=1)
    pipe.time()
    depth, first, server = await pipe.execute()
    now = server[0] + server[1] / 1e6
    try:
        taken = (await client.xpending(names.jobs, WORKERS_GROUP))["pending"]
    except ResponseError:  # no group yet: nothing taken
        taken = 0
    return {"depth": depth, "taken": taken, "oldest_age_seconds": entry_age(first[0][0], now) if first else 0.0}


def job_domains(value: Any) -> list[str]:
    """The hosts a spider job will crawl: every http(s) URL's host in its arguments (start URLs, a recipe, an index),
    except SoundCloud's own (a canary's track URL is data the spider submits, never a host it crawls)."""
    hosts: set[str] = set()
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str) and v.startswith(("http://", "https://")):
            host = urlsplit(v).hostname
            if host and not is_soundcloud_host(host.lower()):
                hosts.add(host.lower())
        elif isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list | tuple):
            stack.extend(v)
    return sorted(hosts)


def dumps(data: dict[str, Any]) -> dict[str, str]:
    """A stream entry's fields for ``data`` (a job or a result)."""
    return {"job": data["job"], "data": json.dumps(data, separators=(",", ":"))}


def loads(fields: dict[bytes, bytes]) -> dict[str, Any]:
    """The job or result a stream entry holds."""
    return json.loads(fields[b"data"])


__all__ = [
    "BULK_TIMEOUT_SECONDS",
    "COORDINATOR_GROUP",
    "TRANSIENT",
    "WORKERS_GROUP",
    "Names",
    "RedisError",
    "connect",
    "dumps",
    "ensure_group",
    "entry_age",
    "is_nogroup",
    "job_domains",
    "loads",
    "persist",
    "queue_stats",
]
