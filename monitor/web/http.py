"""The HTTP plumbing every resource shares: sending JSON and pages with the security headers, one error style,
request parsing, and the same-origin and token checks for writes."""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from twisted.web import resource

from monitor.errors import BadRequest, HttpError, InvalidTransition, NotFound
from monitor.web import triage

log = logging.getLogger(__name__)

SAFE_HEADER_VALUE = re.compile(r"^[\x20-\x7e]{1,200}$")
TOKEN_IN_URL = "send the token in an Authorization header or the form body, never in the URL; nothing was changed"


def send(request, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> bytes:
    """Every response, whatever its status or type, carries the pages' CSP and security headers (unless
    ``headers`` overrides one, as evidence files do with a sandbox)."""
    request.setResponseCode(status)
    request.setHeader(b"Content-Type", content_type.encode())
    request.setHeader(b"Cache-Control", b"no-store")
    for name, value in {**triage.PAGE_HEADERS, **(headers or {})}.items():
        request.setHeader(name.encode(), value.encode())
    return body


def send_json(request, status: int, data: Any, headers: dict[str, str] | None = None) -> bytes:
    return send(request, status, json.dumps(data, indent=1, default=str).encode(), "application/json", headers)


def send_html(request, status: int, page: bytes, headers: dict[str, str] | None = None) -> bytes:
    return send(request, status, page, "text/html; charset=utf-8", headers)


def path_parts(request) -> list[str]:
    return [p.decode("utf-8", "replace") for p in request.postpath if p]


def query_args(request) -> dict[str, str]:
    return {k.decode("utf-8", "replace"): v[-1].decode("utf-8", "replace") for k, v in request.args.items()}


def token_in_url(request) -> bool:
    """Whether the query string names a token parameter (with or without a value)."""
    return token_in_target(request.uri)


def token_in_target(target: bytes) -> bool:
    """Whether a request target's query string names a token parameter."""
    query = urlsplit(target).query
    return any("token" in name.lower() for name, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True))


class Leaf(resource.Resource):
    """One endpoint: GET (and HEAD) and optionally POST handlers; errors as JSON, or as pages when ``html``.

    Every other method is a 405 with ``Allow`` in the same style (Twisted would answer PUT or DELETE with its
    own unstyled "501 Huh?" page).
    """

    isLeaf = True

    def __init__(self, get: Callable[[Any], bytes], post: Callable[[Any], bytes] | None = None, html: bool = False):
        super().__init__()
        self._get, self._post, self.send_html = get, post, html

    def render(self, request) -> bytes:
        handler = {b"GET": self._get, b"HEAD": self._get, b"POST": self._post}.get(request.method)
        if handler is None:
            allow = "GET, HEAD, POST" if self._post is not None else "GET, HEAD"
            method = request.method.decode("latin-1")[:20]
            return self._error(request, HttpError(405, f"method {method!r} not allowed", {"Allow": allow}))
        if request.method == b"POST" and token_in_url(request):
            # Checked before the token itself, so the answer does not depend on whether the URL's token is right:
            # a secret in a URL reaches logs, history and proxies, and the request is wrong whoever sends it.
            return self._error(request, BadRequest(TOKEN_IN_URL))
        return self._run(handler, request)

    def _run(self, handler: Callable[[Any], bytes], request) -> bytes:
        try:
            return handler(request)
        except HttpError as exc:
            return self._error(request, exc)
        except NotFound as exc:
            return self._error(request, HttpError(404, str(exc)))
        except InvalidTransition as exc:
            return self._error(request, HttpError(409, f"{exc}; nothing was changed"))
        except Exception:
            log.exception("HTTP handler failed for %s", request.uri)
            return self._error(request, HttpError(500, "internal error; see the daemon log"))

    def _error(self, request, exc: HttpError) -> bytes:
        if not self.send_html:
            return send_json(request, exc.status, {"error": str(exc)}, exc.headers)
        parts = path_parts(request)
        back = triage.incident_path(int(parts[1])) if len(parts) >= 2 and parts[1].isdigit() else None
        return send_html(request, exc.status, triage.render_error(exc.status, str(exc), back), exc.headers)


def header(request, name: bytes) -> bytes | None:
    values = request.requestHeaders.getRawHeaders(name)
    return values[0] if values else None


def same_origin(request) -> None:
    """Refuse a change whose Origin (else Referer) names another host than the one it was sent to.

    ``Origin: null`` is what Chromium sends for a form posted from a ``Referrer-Policy: no-referrer`` page (ours),
    so it says nothing either way; the token, which another site cannot know, is what protects changes.
    """
    origin = header(request, b"origin")
    source = origin if origin not in (None, b"null") else header(request, b"referer")
    if not source:
        return
    host = urlsplit(source.decode("latin-1")).netloc.lower()
    allowed = {h.decode("latin-1").lower() for h in (header(request, b"host"), header(request, b"x-forwarded-host"))
               if h}  # fmt: skip
    if host not in allowed:
        raise HttpError(403, "cross-origin request refused (Origin/Referer is another site); nothing was changed")


def authorize(request, token: bytes | None, form_token: bytes | None, api: bool) -> None:
    """Allow a change only with the configured token (Bearer header or form field), compared in constant time."""
    if token is None:
        raise HttpError(403, "read-only: no API token is configured (http.api_token), so changes are refused")
    same_origin(request)
    auth = header(request, b"authorization") or b""
    scheme, _, value = auth.partition(b" ")
    given = value.strip() if scheme.lower() == b"bearer" and value.strip() else form_token
    if not given:
        if api:
            raise HttpError(401, "an API token is required: send Authorization: Bearer <http.api_token>",
                             {"WWW-Authenticate": 'Bearer realm="scrapewatch"'})  # fmt: skip
        raise HttpError(403, "the API token is required to change an incident; nothing was changed")
    if not hmac.compare_digest(given, token):
        log.warning("refused an incident change with a wrong API token from %s", request.getClientAddress().host)
        raise HttpError(403, "wrong API token; nothing was changed")


def api_gate(token: bytes | None):
    """The check a POST to /api/ passes when its headers have arrived, before its body is read: the token travels in
    the Authorization header there, so an unauthenticated body is never read (the triage form's token is in its body,
    so triage POSTs are judged after it, within http.max_request_bytes)."""

    def gate(method: bytes, target: bytes, request) -> None:
        if method != b"POST" or not target.startswith(b"/api/"):
            return
        if token_in_target(target):
            raise BadRequest(TOKEN_IN_URL)
        authorize(request, token, None, api=True)

    return gate


def not_found(request) -> bytes:
    raise NotFound("no such path; see /")
