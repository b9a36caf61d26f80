"""Dashboards, provisioning, Prometheus and Alertmanager configuration; ``dashboards.generator`` writes the JSON."""
