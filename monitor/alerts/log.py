"""The built-in channel when no Apprise channel is configured: alerts are written to the log."""

from __future__ import annotations

import json
import logging

from monitor.store import Store, utcnow

log = logging.getLogger("scrapewatch.alerts")


def drain_to_log(store: Store, limit: int = 500) -> int:
    """Log every pending outbox row once and mark it sent; returns how many were delivered."""
    rows = list(store.db.query("SELECT * FROM alert_outbox WHERE status = 'pending' ORDER BY id LIMIT ?", [limit]))
    for row in rows:
        p = json.loads(row["payload"])
        log.warning(
            "ALERT [%s] %s %s: %s (incident #%d, %s)",
            p["severity"].upper(),
            p["transition"],
            p["kind"],
            p["title"],
            p["incident_id"],
            row["idempotency_key"],
        )
        store.mark_sent(row["id"], utcnow())
    return len(rows)
