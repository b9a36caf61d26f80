"""Print a notice's HTML form to PDF with Debian's Chromium through Playwright, offline and without scripts.

Chromium is already how scrapewatch renders pages, so a notice prints with the same engine, fonts and CSS as the
triage pages; a PDF library would be one more dependency with its own (weaker) HTML and Unicode handling.
"""

from __future__ import annotations

from monitor.errors import ScrapewatchError

__all__ = ["html_to_pdf"]


def html_to_pdf(html: str, chromium_path: str, timeout_seconds: float = 60.0) -> bytes:
    """The PDF (A4) of ``html``; no request leaves the page and no script runs. Raises ScrapewatchError."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    from spiders.browser_egress import CHROMIUM_ARGS
    from spiders.rendering import browser_binary

    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=browser_binary(chromium_path),
                args=[*CHROMIUM_ARGS, "--no-proxy-server"],
                timeout=timeout_seconds * 1000,
            )
            try:
                context = browser.new_context(java_script_enabled=False, offline=True)
                page = context.new_page()
                # The notice is data from hostile sites made safe by escaping; this is the second fence.
                page.route("**/*", lambda route: route.abort())
                page.set_content(html, wait_until="load", timeout=timeout_seconds * 1000)
                return page.pdf(
                    format="A4",
                    print_background=True,
                    margin={"top": "18mm", "bottom": "18mm", "left": "16mm", "right": "16mm"},
                )
            finally:
                browser.close()
    except PlaywrightError as exc:
        raise ScrapewatchError(f"Chromium ({chromium_path}) could not print the notice: {exc}") from exc
