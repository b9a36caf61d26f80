"""The ``scrapewatch`` command line: a root group that registers one module per command family."""

from monitor.cli.root import main

__all__ = ["main"]
