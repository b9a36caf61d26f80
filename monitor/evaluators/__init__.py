"""Pure evaluators that turn what a probe fetched into findings (no network, database, metrics or clock)."""
