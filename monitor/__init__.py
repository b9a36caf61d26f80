"""scrapewatch: a daemon that audits SoundCloud's AI-usage signals and hunts third-party audio exposure."""

__version__ = "0.1.0"
