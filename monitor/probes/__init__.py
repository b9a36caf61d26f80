"""Probe kinds as units: one module per kind behind the Probe protocol, and the registry that lists them."""
