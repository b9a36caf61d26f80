"""What a rendered page may reach: Chromium's flags, the script that takes sockets away from pages, the
egress check of every browser request (names resolved when Chromium would connect directly)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from monitor.net import check_address, check_host, literal_ip
from spiders.middlewares import resolve

logger = logging.getLogger(__name__)

# Hosts Chromium 156 still calls on its own with every flag above (measured through a recording proxy: extension
# and component updates, sign-in). They bypass the proxy and resolve to nothing, so the calls die in the browser.
BACKGROUND_HOSTS = (
    "update.googleapis.com",
    "clients2.google.com",
    "clients1.google.com",
    "accounts.google.com",
    "clientservices.googleapis.com",
    "optimizationguide-pa.googleapis.com",
    "safebrowsingohttpgateway.googleapis.com",
    "content-autofill.googleapis.com",
    "redirector.gvt1.com",
    "*.gvt1.com",
)
HOST_RESOLVER_RULES = "--host-resolver-rules=" + ", ".join(f"MAP {host} ~NOTFOUND" for host in BACKGROUND_HOSTS)

# Chromium's own background traffic (updates, sign-in, sync, safe browsing, hints) would reach the proxy as if
# pages made it; the attack run saw update.googleapis.com and clients2.google.com with the first three flags alone.
CHROMIUM_ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-breakpad",
    "--disable-crash-reporter",
    "--no-pings",
    "--metrics-recording-only",
    "--safebrowsing-disable-auto-update",
    "--disable-features=OptimizationHints,OptimizationGuideModelDownloading,MediaRouter,Translate,"
    "AccountConsistency,SigninInterceptBubble,AutofillServerCommunication,CertificateTransparencyComponentUpdater,"
    "InterestFeedContentSuggestions,PrivacySandboxSettings4,NetworkTimeServiceQuerying,DialMediaRouteProvider",
    "--no-first-run",
    "--no-default-browser-check",
    "--mute-audio",
    # A hostile page's script heap stops at 512 MB (V8 aborts the renderer) instead of growing to the machine's.
    "--js-flags=--max-old-space-size=512",
    "--renderer-process-limit=4",
    HOST_RESOLVER_RULES,
]

# Playwright's routes (and the Fetch domain) never see WebSocket, WebTransport or WebRTC connections, so a page
# could reach ws://127.0.0.1 past every other check. No evidence needs them: pages lose the constructors, and so do
# their workers (init scripts never run in a worker: each starts from a blob that locks its globals first).
NO_SOCKETS_SCRIPT = r"""
(function lock() {
  const refuse = (name) => function () {
    throw new DOMException(name + " is disabled in this crawler", "SecurityError");
  };
  for (const name of ["WebSocket", "WebTransport", "RTCPeerConnection", "webkitRTCPeerConnection"]) {
    try {
      Object.defineProperty(globalThis, name, {value: refuse(name), writable: false, configurable: false});
    } catch (e) {}
  }
  const wrap = (name) => {
    const Original = globalThis[name];
    if (typeof Original !== "function" || typeof Blob === "undefined") return;
    const Locked = function (url, options) {
      const absolute = new URL(String(url), globalThis.location.href).href;
      const module = options && options.type === "module";
      const target = JSON.stringify(absolute);
      const load = module ? "import " + target + ";" : "importScripts(" + target + ");";
      const blob = new Blob(["(" + lock.toString() + ")();\n" + load], {type: "text/javascript"});
      return new Original(URL.createObjectURL(blob), options);
    };
    Locked.prototype = Original.prototype;
    try {
      Object.defineProperty(globalThis, name, {value: Locked, writable: false, configurable: false});
    } catch (e) {}
  };
  wrap("Worker");
  wrap("SharedWorker");
})();
"""


def _bypassed(host: str, bypass: list[str]) -> bool:
    """Whether Chromium may connect to ``host`` directly, by its proxy bypass list (read generously)."""
    for entry in bypass:
        entry = entry.strip().lower()
        if entry == "<local>" and "." not in host:
            return True
        domain = entry.lstrip("*").lstrip(".")
        if entry == "*" or host == domain or host.endswith("." + domain):
            return True
    return False


class BrowserEgress:
    """PLAYWRIGHT_ABORT_REQUEST with the crawl's settings: :func:`monitor.net.check_host` on every browser request,
    and for names Chromium resolves itself (no proxy, or a proxy bypass entry) the addresses they resolve to.

    Residual risk, as for EgressGuardMiddleware: Chromium resolves the name again (DNS rebinding window).
    """

    def __init__(self, launch_options: dict[str, Any], resolve_timeout: float):
        proxy = launch_options.get("proxy") or {}
        self._direct = not proxy.get("server")
        self._bypass = [e for e in str(proxy.get("bypass") or "").split(",") if e.strip()]
        self._timeout = resolve_timeout

    async def __call__(self, request: Any) -> bool:
        try:
            parts = urlsplit(request.url)
            host = (parts.hostname or "").lower()
        except ValueError:
            return True
        if parts.scheme not in ("http", "https", "ws", "wss"):
            return False  # data:, blob: and the like never leave the browser
        if check_host(host) is not None:
            return True
        bare = host.rstrip(".")
        if literal_ip(bare) is not None or not (self._direct or _bypassed(bare, self._bypass)):
            return False
        try:
            addresses = await resolve(
                bare, parts.port or (443 if parts.scheme in ("https", "wss") else 80), self._timeout
            )
        except Exception:  # Chromium could not connect either; refusing costs nothing
            return True
        refused = next((reason for a in addresses if (reason := check_address(a))), None)
        if refused:
            logger.info("browser request to %s refused: it resolves to %s", host, refused)
        return refused is not None
