"""Settings of the coordinator / worker split on Redis: where the queue lives, how long a job may take, politeness."""

from __future__ import annotations

from pydantic import Field, field_validator

from monitor.settings.base import Section


class DistributedSettings(Section):
    """Off by default: without ``redis_url`` the daemon crawls in its own process and needs no Redis."""

    redis_url: str | None = Field(
        None,
        description="Redis URL (redis://host:6379/0): the daemon then queues crawls for `scrapewatch worker`.",
    )
    key_prefix: str = Field(
        "scrapewatch", min_length=1, max_length=64, description="Prefix of every Redis key and stream name."
    )
    jobs_stream: str = Field("jobs", min_length=1, description="Stream of crawl jobs (consumer group `workers`).")
    results_stream: str = Field(
        "results", min_length=1, description="Stream of job results (consumer group `coordinator`)."
    )
    dead_letter_stream: str = Field(
        "dead", min_length=1, description="Stream of jobs that failed `max_attempts` times (kept for inspection)."
    )
    visibility_timeout_seconds: float = Field(
        60.0,
        ge=0.5,
        le=3600,
        description="A taken job whose worker stopped heart-beating this long is reclaimed by another worker.",
    )
    max_attempts: int = Field(3, ge=1, le=20, description="Attempts of a job before it goes to the dead letters.")
    job_deadline_seconds: float = Field(
        900.0, ge=1, le=86_400, description="A job without a result this long after it was queued is a failed run."
    )
    stall_seconds: float = Field(
        600.0, ge=1, description="/readyz is unready while the oldest queued job is older than this."
    )
    inline_bytes_max: int = Field(
        65_536, ge=0, description="Bodies and screenshots up to this size travel inside the result message."
    )
    max_result_bytes: int = Field(
        67_108_864,
        ge=1024,
        description="Bytes of one job's result (inline plus blobs); a larger result fails the job (too_large).",
    )
    blob_ttl_seconds: int = Field(
        3600, ge=10, description="Lifetime of a larger body's Redis blob (long enough for the coordinator to read)."
    )
    results_max_length: int = Field(
        10_000, ge=100, description="Approximate cap on the results stream (entries already read are trimmed)."
    )
    domain_concurrency: int = Field(
        1, ge=1, le=64, description="Jobs crawling one domain at once, across every worker."
    )
    domain_delay_seconds: float = Field(
        1.0, ge=0, le=3600, description="Least time between the starts of two jobs on one domain, across workers."
    )
    worker_listen: str = Field(
        "127.0.0.1:9411", description="host:port of a worker's /metrics and /healthz (port 0 = any)."
    )

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"{value!r} is not a redis://, rediss:// or unix:// URL")
        return value

    def key(self, name: str) -> str:
        """The Redis key ``name`` under :attr:`key_prefix`."""
        return f"{self.key_prefix}:{name}"
