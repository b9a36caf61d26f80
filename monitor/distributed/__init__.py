"""Crawls on other machines: the coordinator's remote crawl service and `scrapewatch worker`, over Redis Streams."""

from monitor.distributed.coordinator import RemoteCrawlService
from monitor.distributed.queue import Names, connect
from monitor.distributed.worker import Worker, run_worker

__all__ = ["Names", "RemoteCrawlService", "Worker", "connect", "run_worker"]
