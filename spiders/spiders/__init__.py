"""The spiders scrapewatch runs (``scrapy list`` shows them)."""
