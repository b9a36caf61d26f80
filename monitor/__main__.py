"""Allows ``python -m monitor`` as an alias of the ``scrapewatch`` command."""

from monitor.cli import main

if __name__ == "__main__":
    main()
