"""scrapewatch's Scrapy project: spiders fetch and extract facts only; they never store, count or alert."""
