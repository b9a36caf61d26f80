"""The daemon's HTTP side: /metrics, health and readiness, the JSON API, the triage pages."""
