"""Reproducible benchmarks; see RESULTS.md."""
