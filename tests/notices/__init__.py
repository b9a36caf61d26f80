"""Takedown notices, evidence bundles and their commands."""
