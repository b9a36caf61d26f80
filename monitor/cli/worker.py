"""`scrapewatch worker`: a crawl worker taking jobs from the coordinator's Redis (distributed.redis_url)."""

from __future__ import annotations

from pathlib import Path

import click

from monitor.cli._common import EXIT_CONFIG, EXIT_STARTUP, config_option, fail, settings_from, setup_logging
from monitor.errors import StartupError


@click.command("worker")
@config_option
@click.option("--concurrency", default=1, show_default=True, type=click.IntRange(1, 64), help="Jobs run at once.")
@click.option("--listen", default=None, help="host:port of /metrics and /healthz (default distributed.worker_listen).")
@click.pass_context
def worker(ctx: click.Context, config_path: Path | None, concurrency: int, listen: str | None) -> None:
    """Take crawl jobs from Redis and run them (Scrapy, Chromium for rendered targets) until SIGTERM.

    The daemon (with the same distributed.redis_url) queues the jobs and stores the results; a worker needs no
    database. A job whose worker stops heart-beating is taken over by another worker after
    distributed.visibility_timeout_seconds; on SIGTERM the jobs in hand get scheduler.shutdown_grace_seconds.
    """
    from monitor.distributed.worker import run_worker
    from monitor.runtime import reactor

    settings = settings_from(ctx, config_path)
    if not settings.distributed.redis_url:
        fail("distributed.redis_url is not set: a worker takes its jobs from the coordinator's Redis", EXIT_CONFIG)
    setup_logging(settings.scheduler.log_level)
    try:
        reactor.run(run_worker(settings, concurrency, listen))
    except StartupError as exc:
        fail(str(exc), EXIT_STARTUP)
