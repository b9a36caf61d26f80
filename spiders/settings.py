"""Scrapy project settings for scrapewatch's spiders; the daemon overlays its config via the runtime crawl service."""

from monitor.settings import DEFAULT_USER_AGENT, HttpSettings

BOT_NAME = "scrapewatch"
SPIDER_MODULES = ["spiders.spiders"]
NEWSPIDER_MODULE = "spiders.spiders"

TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"

# Neither a telnet console nor Scrapy 2.19's remote-control HTTP server (it runs code sent to it)
# belongs in a long-lived daemon: both open listening ports.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False

# Each callback output otherwise spawns CONCURRENT_ITEMS tasks; 1 measured +60 % throughput.
CONCURRENT_ITEMS = 1

USER_AGENT = DEFAULT_USER_AGENT
ROBOTSTXT_OBEY = False  # the probes fetch robots.txt itself; obeying it would be circular
COOKIES_ENABLED = False  # probes carry no state from one fetch to the next

AUTOTHROTTLE_ENABLED = True
# Two tiny files per domain per run: Scrapy's 5 s start delay only slows shutdown down.
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
CONCURRENT_REQUESTS_PER_DOMAIN = 2

REDIRECT_MAX_TIMES = 5
METAREFRESH_ENABLED = False  # an HTML page served as robots.txt is a fact to record, not a redirect

DOWNLOAD_TIMEOUT = 30
RETRY_TIMES = 1
# A probe that fails after its retries is an item with an error kind, which the daemon counts and
# may alert on; Scrapy's default ERROR line per failure would only add noise to the log.
RETRY_GIVE_UP_LOG_LEVEL = "INFO"

# The size cap is ours (SizeCapMiddleware): Scrapy's DOWNLOAD_MAXSIZE aborts on a large
# Content-Length before any byte arrives and discards the body, where we want the first cap bytes.
DOWNLOAD_MAXSIZE = 0
DOWNLOAD_WARNSIZE = 0
# Compressed bodies would make the cap count wire bytes but hand evaluators decoded ones (and a
# decompression bomb would bypass the cap entirely), so ask for identity encoding.
COMPRESSION_ENABLED = False
DEFAULT_REQUEST_HEADERS = {
    "Accept": "text/plain, */*;q=0.8",
    "Accept-Encoding": "identity",
}

# Scrapy's HTTP/1.1 handler, refusing response heads past SCRAPEWATCH_MAX_HEADER_BYTES / SCRAPEWATCH_MAX_HEADERS.
DOWNLOAD_HANDLERS = {
    "http": "spiders.http_limits.BoundedHTTP11DownloadHandler",
    "https": "spiders.http_limits.BoundedHTTP11DownloadHandler",
}

DOWNLOADER_MIDDLEWARES = {
    # Before HttpProxyMiddleware (750) so that it only turns our explicit choice into credentials.
    "spiders.middlewares.ProxyMiddleware": 740,
    # After every other process_request, right before the download handler, so that it judges
    # the final URL and proxy of each request, redirects included.
    "spiders.middlewares.EgressGuardMiddleware": 960,
    "spiders.middlewares.SizeCapMiddleware": 970,
}

# Our own settings, filled by monitor.runtime.crawl.scrapy_settings() from the daemon's config.
SCRAPEWATCH_PROXY = None
SCRAPEWATCH_NO_PROXY: list[str] = []
SCRAPEWATCH_ALLOW_PRIVATE_NETWORKS = False
SCRAPEWATCH_MAX_HEADER_BYTES = 64 * 1024
SCRAPEWATCH_MAX_HEADERS = 200
SCRAPEWATCH_MAX_RESPONSE_BYTES = HttpSettings.model_fields["max_response_bytes"].default

FEED_EXPORT_ENCODING = "utf-8"
