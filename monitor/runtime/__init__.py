"""The runtime: the reactor, spiders run as crawls, the scheduler and the daemon that owns them."""
