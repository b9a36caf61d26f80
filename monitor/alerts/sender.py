"""The alert sender: routes new outbox rows to channels, groups bursts, sends each message in a thread with a
timeout, and records the outcome (sent, retry with exponential backoff and jitter, dead letter).

Delivery is at least once. A delivery is marked sent only after its channel accepted the message, so the one
possible duplicate is a crash after the channel accepted and before that mark was committed; every message
carries a stable idempotency key (``incident-{id}-event-{event}:{channel}``) for receivers that deduplicate.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import sqlite3
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor import metrics
from monitor.alerts import templates
from monitor.alerts.channels import Channel, Message, SendResult, build_channels
from monitor.alerts.router import Mute
from monitor.errors import StorageError
from monitor.settings import AlertChannel, Settings
from monitor.store import alerts as store_alerts
from monitor.store.core import Store

log = logging.getLogger("scrapewatch.alerts")
DIGEST_LIMIT = 20
STORAGE_BACKOFF_MAX_SECONDS = 300.0


def backoff_seconds(failed_attempts: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Delay before the next attempt after ``failed_attempts`` failures: base·2^(n-1), capped, with "equal
    jitter" (half fixed, half random) so that many failed deliveries do not retry in lockstep."""
    delay = min(cap, base * 2 ** max(0, failed_attempts - 1))
    return delay / 2 + (rng or random).random() * delay / 2


@dataclass
class DrainReport:
    """What one drain did (for logs and tests)."""

    routed_muted: int = 0
    messages_sent: int = 0
    deliveries_sent: int = 0
    failures: int = 0
    dead: int = 0
    rate_limited: int = 0
    sent_keys: list[str] = field(default_factory=list)


@dataclass
class _Planned:
    channel: str
    rows: list[dict[str, Any]]
    message: Message | None
    error: str | None = None  # why there is no message
    final: bool = False  # retrying cannot help: dead letter at once


class AlertSender:
    """Drains the outbox through the configured channels; ``drain()`` is the scheduler job."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        channels: dict[str, Channel] | None = None,
        clock: Callable[[], datetime] | None = None,
        rng: random.Random | None = None,
    ):
        self.store = store
        self.settings = settings.alerts
        self.channels = channels if channels is not None else build_channels(self.settings.channels)
        self.configs: dict[str, AlertChannel | None] = {c.name: c for c in self.settings.channels} or {"log": None}
        # Until the daemon has listened (http.listen may say port 0), links use the configured address.
        self.api_base = self.settings.api_base_url or f"http://{settings.http.listen}"
        self._clock = clock or (lambda: datetime.now(UTC))
        self._rng = rng or random.Random()
        self._lock = asyncio.Lock()
        self._again = False
        self._stopping = False
        self._tasks: set[asyncio.Future] = set()
        self._storage_failures = 0  # drains in a row that the database refused
        self._storage_retry_at = self._clock()
        self._window: dict[str, deque[float]] = {name: deque() for name in self.channels}
        for name in self.channels:  # every configured channel exports its counters from the start
            metrics.ALERTS_SENT.labels(name)
            metrics.ALERTS_FAILED.labels(name)
            metrics.ALERTS_MUTED.labels(name)

    def listening_at(self, base_url: str) -> None:
        """The daemon's bound address (``http://host:port``, known once it listens): the base of alert links
        unless ``alerts.api_base_url`` is configured."""
        if self.settings.api_base_url:
            return
        self.api_base = base_url
        if base_url.startswith(("http://0.0.0.0:", "http://[::]:")):
            log.warning(
                "alert links read %s (a wildcard address): set alerts.api_base_url to a reachable URL", base_url
            )

    # ---- the job -------------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    async def run_job(self, what: str = "drain") -> None:
        """The scheduler job (``drain`` or ``digest``). APScheduler cancels running jobs when it shuts down; the
        work runs shielded so that a send in flight is finished and recorded (``stop()`` waits for it)."""
        if self._storage_failures and self._clock() < self._storage_retry_at:
            return  # backing off: the database refused the last drain
        task = asyncio.ensure_future(self.drain() if what == "drain" else self.enqueue_digest())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            log.debug("alert sender: the scheduler stopped; the %s in progress finishes on its own", what)
        except (StorageError, sqlite3.Error) as exc:
            self._storage_failed(exc)
        else:
            self._storage_recovered()

    def _storage_failed(self, exc: Exception) -> None:
        """Back off (the drain interval doubled per failure, up to 5 minutes); one log line when it starts."""
        self._storage_failures += 1
        delay = min(STORAGE_BACKOFF_MAX_SECONDS, self.settings.drain_interval_seconds * 2**self._storage_failures)
        self._storage_retry_at = self._clock() + timedelta(seconds=delay)
        if self._storage_failures == 1:
            log.error("alert sender: the database refused a drain (%s); retrying with backoff, alerts wait in the "
                      "outbox", exc)  # fmt: skip

    def _storage_recovered(self) -> None:
        if self._storage_failures:
            log.warning("alert sender: the database takes writes again after %d failed drain(s); sending resumes",
                        self._storage_failures)  # fmt: skip
            self._storage_failures = 0

    def drain_again(self) -> None:
        """New alerts were committed during a drain: go round once more before returning."""
        self._again = True

    async def drain(self) -> DrainReport:
        """Route, mute, group and send everything that is due; a call during a drain makes it go round again."""
        if self._lock.locked():
            self._again = True
            return DrainReport()
        async with self._lock:
            report = await self._drain_once()
            while self._again and not self._stopping:
                self._again = False
                more = await self._drain_once()
                for name in vars(report):
                    setattr(report, name, getattr(report, name) + getattr(more, name))
            return report

    async def stop(self, timeout: float | None = None) -> None:
        """Let the send in flight finish (and be recorded), then send nothing more."""
        self._stopping = True
        wait = timeout if timeout is not None else self.settings.send_timeout_seconds + 5
        try:
            await asyncio.wait_for(self._lock.acquire(), wait)
        except TimeoutError:
            log.warning("alert sender: a send is still running after %.0fs; stopping without it", wait)
            return
        self._lock.release()

    async def _drain_once(self) -> DrainReport:
        report = DrainReport()
        now = self._clock()
        mutes = self._mutes(now)
        for source in (
            store_alerts.route_new(self.store, self.configs, mutes, now),
            store_alerts.mute_pending(self.store, mutes, now),
        ):
            for channel, n in source.items():
                metrics.ALERTS_MUTED.labels(channel).inc(n)
                report.routed_muted += n
        rows = store_alerts.due(self.store, now)
        limited: set[str] = set()
        for planned in self._plan(rows):
            if self._stopping:
                break
            if planned.channel in limited or self._rate_limited(planned.channel):
                limited.add(planned.channel)
                report.rate_limited += len(planned.rows)
                continue
            if planned.message is None:
                result = SendResult(False, planned.error)
            else:
                result = await self._send(planned.channel, planned.message)
            self._record(planned, result, report)
        if limited:
            log.info("alert sender: rate limit reached for %s; the rest waits for the next drain", sorted(limited))
        return report

    # ---- planning ------------------------------------------------------------------------------------

    def _plan(self, rows: list[dict[str, Any]]) -> list[_Planned]:
        """One message per delivery, except a (channel, domain) with more than group_threshold due at once."""
        buckets: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for row in rows:
            key = (row["channel"], row["domain"] if row["transition"] != "digest" else f"\0digest{row['id']}")
            buckets.setdefault(key, []).append(row)
        planned: list[tuple[int, _Planned]] = []
        for (channel_name, domain), group in buckets.items():
            channel = self.channels.get(channel_name)
            if channel is None:
                for row in group:
                    error = f"channel {channel_name} is no longer configured"
                    planned.append((row["id"], _Planned(channel_name, [row], None, error, final=True)))
                continue
            if len(group) > self.settings.group_threshold:
                planned.append((group[0]["id"], self._render(channel, group, domain)))
            else:
                planned.extend((row["id"], self._render(channel, [row], domain)) for row in group)
        return [p for _, p in sorted(planned, key=lambda item: item[0])]

    def _render(self, channel: Channel, rows: list[dict[str, Any]], domain: str) -> _Planned:
        try:
            if len(rows) > 1:
                keys = sorted(r["idempotency_key"] for r in rows)
                digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]
                alerts = [{**r["alert"], "delivery_key": r["idempotency_key"]} for r in rows]
                message = templates.render_group(
                    channel.style, alerts, domain, f"group-{digest}:{channel.name}", self.api_base
                )
            elif rows[0]["transition"] == "digest":
                message = templates.render_digest(
                    channel.style, rows[0]["alert"], rows[0]["idempotency_key"], self.api_base
                )
            else:
                message = templates.render_alert(
                    channel.style, rows[0]["alert"], rows[0]["idempotency_key"], self.api_base
                )
        except Exception as exc:  # a template bug fails these deliveries, not the drain
            log.exception("alert sender: cannot render a message for %s", channel.name)
            return _Planned(channel.name, rows, None, f"template error: {type(exc).__name__}: {exc}")
        return _Planned(channel.name, rows, message)

    # ---- sending -------------------------------------------------------------------------------------

    async def _send(self, channel_name: str, message: Message) -> SendResult:
        channel = self.channels[channel_name]
        if self.settings.dry_run:
            log.warning("DRY RUN: would send to %s (%s): %s [%s]", channel_name, channel.masked_url,
                        message.title, message.idempotency_key)  # fmt: skip
            return SendResult(True, "dry run")
        timeout = self.settings.send_timeout_seconds
        self._window[channel_name].append(time.monotonic())
        try:
            return await asyncio.wait_for(asyncio.to_thread(channel.send, message, timeout), timeout)
        except TimeoutError:
            # The thread may still deliver later; then the retry is the documented duplicate.
            return SendResult(False, f"no answer within {timeout:.0f}s")
        except Exception as exc:
            return SendResult(False, f"{type(exc).__name__}: {exc}")

    def _record(self, planned: _Planned, result: SendResult, report: DrainReport) -> None:
        now = self._clock()
        ids = [r["id"] for r in planned.rows]
        if result.ok:
            key = planned.message.idempotency_key if planned.message else ""
            store_alerts.mark_sent(self.store, ids, key, now, result.error)  # error carries "dry run"
            report.messages_sent += 1
            report.deliveries_sent += len(ids)
            report.sent_keys.append(key)
            if not self.settings.dry_run:
                metrics.ALERTS_SENT.labels(planned.channel).inc()
            log.info("alert sent to %s: %s (%d alert(s))", planned.channel, key, len(ids))
            return
        error = result.error or "failed"
        outcomes = []
        for row in planned.rows:
            failed = row["attempts"] + 1
            if failed >= self.settings.max_attempts or planned.final:
                outcomes.append((row["id"], None))
            else:
                delay = backoff_seconds(
                    failed, self.settings.retry_base_seconds, self.settings.retry_max_seconds, self._rng
                )
                outcomes.append((row["id"], now + timedelta(seconds=delay)))
        dead = store_alerts.mark_failed(self.store, outcomes, error, now)
        report.failures += 1
        report.dead += dead
        metrics.ALERTS_FAILED.labels(planned.channel).inc()
        keys = ", ".join(r["idempotency_key"] for r in planned.rows[:3])
        log.warning(
            "alert to %s failed (%s): %s%s", planned.channel, keys, error, f"; {dead} dead letter(s)" if dead else ""
        )

    def _rate_limited(self, channel_name: str) -> bool:
        config = self.configs.get(channel_name)
        limit = config.rate_limit_per_minute if config is not None else 0
        if not limit:
            return False
        window = self._window.setdefault(channel_name, deque())
        cutoff = time.monotonic() - 60
        while window and window[0] < cutoff:
            window.popleft()
        return len(window) >= limit

    def _mutes(self, now: datetime) -> list[Mute]:
        return [Mute.from_config(m) for m in self.settings.mutes] + store_alerts.db_mutes(self.store, now)

    # ---- probe health and digest ---------------------------------------------------------------------

    def digest_channels(self) -> list[str]:
        return [c.name for c in self.settings.channels if c.digest]

    async def enqueue_digest(self) -> int:
        """Queue this period's digest of open incidents for every channel with ``digest: true``, then drain."""
        names = self.digest_channels()
        if not names:
            return 0
        now = self._clock()
        period = int(now.timestamp() // self.settings.digest_interval_seconds)
        open_rows = [r for r in self.store.list_incidents(limit=10000) if r["status"] in ("open", "acknowledged")]
        by_severity: dict[str, int] = {}
        for sev in ("critical", "high", "medium", "low", "info"):
            n = sum(1 for r in open_rows if r["severity"] == sev)
            if n:
                by_severity[sev] = n
        from monitor.incidents import SEVERITY_RANK

        top = sorted(open_rows, key=lambda r: (-SEVERITY_RANK[r["severity"]], r["last_seen"]))[:DIGEST_LIMIT]
        payload = {
            "open": len(open_rows),
            "by_severity": by_severity,
            "incidents": [{k: r[k] for k in ("id", "severity", "kind", "domain", "title", "last_seen")} for r in top],
            "period_start": datetime.fromtimestamp(period * self.settings.digest_interval_seconds, UTC).isoformat(),
        }
        added = store_alerts.enqueue_digest(self.store, names, period, payload, now)
        await self.drain()
        return added
