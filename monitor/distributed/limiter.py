"""Per-domain politeness across every worker: a counting semaphore of expiring leases per domain (a Redis sorted
set scored by expiry) plus the time of the domain's last job start, checked and taken atomically in one Lua script."""

from __future__ import annotations

import asyncio
import time

import redis.asyncio as aioredis

from monitor.distributed.queue import Names

# KEYS: (lease zset, last-start key) per domain. ARGV: lease ms, token, concurrency, delay ms.
# Returns 0 when every domain's lease was taken, else the milliseconds to wait before asking again.
# Redis's clock (TIME), not the workers': workers on several machines agree on it.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease, token = tonumber(ARGV[1]), ARGV[2]
local limit, delay = tonumber(ARGV[3]), tonumber(ARGV[4])
local wait = 0
for i = 1, #KEYS, 2 do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
  if redis.call('ZSCORE', KEYS[i], token) == false and redis.call('ZCARD', KEYS[i]) >= limit then
    wait = math.max(wait, 200)
  end
  local last = tonumber(redis.call('GET', KEYS[i + 1]) or '0')
  if delay > 0 and now - last < delay then
    wait = math.max(wait, delay - (now - last))
  end
end
if wait > 0 then return wait end
for i = 1, #KEYS, 2 do
  redis.call('ZADD', KEYS[i], now + lease, token)
  redis.call('PEXPIRE', KEYS[i], lease * 2)
  if delay > 0 then redis.call('SET', KEYS[i + 1], now, 'PX', delay) end
end
return 0
"""

# KEYS: lease zsets. ARGV: lease ms, token. Extends the token's leases that still exist.
_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], 'XX', now + tonumber(ARGV[1]), ARGV[2])
  redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[1]) * 2)
end
return 0
"""


class DomainLimiter:
    """At most ``concurrency`` jobs per domain at once and ``delay`` seconds between job starts on a domain, for all
    workers together. A lease expires after ``lease_seconds`` unless renewed, so a killed worker frees its domains."""

    def __init__(self, client: aioredis.Redis, names: Names, concurrency: int, delay: float, lease_seconds: float):
        self._client, self._names = client, names
        self._concurrency, self._delay_ms = concurrency, int(delay * 1000)
        self._lease_ms = max(1000, int(lease_seconds * 1000))
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)

    def _keys(self, domains: list[str]) -> list[str]:
        keys: list[str] = []
        for domain in sorted(set(domains)):
            keys += [self._names.lease(domain), self._names.last_start(domain)]
        return keys

    async def acquire(self, domains: list[str], token: str, until: float) -> float:
        """Take a lease on every domain at once (all or none); the seconds waited. TimeoutError past ``until``."""
        if not domains:
            return 0.0
        keys, started = self._keys(domains), time.monotonic()
        while True:
            wait_ms = await self._acquire(keys=keys, args=[self._lease_ms, token, self._concurrency, self._delay_ms])
            if not wait_ms:
                return time.monotonic() - started
            if time.time() + wait_ms / 1000 > until:
                raise TimeoutError(f"no lease on {', '.join(domains[:3])} before the job's deadline")
            await asyncio.sleep(wait_ms / 1000)

    async def renew(self, domains: list[str], token: str) -> None:
        if domains:
            await self._renew(keys=[self._names.lease(d) for d in sorted(set(domains))], args=[self._lease_ms, token])

    async def release(self, domains: list[str], token: str) -> None:
        if domains:
            pipe = self._client.pipeline(transaction=False)
            for domain in sorted(set(domains)):
                pipe.zrem(self._names.lease(domain), token)
            await pipe.execute()
