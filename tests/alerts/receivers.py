"""Real alert receivers on 127.0.0.1: a webhook (HTTP) server that records what it gets and answers as told,
and an SMTP server (aiosmtpd) that keeps every message."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float

    @property
    def key(self) -> str:
        return self.body.get("idempotency_key", "")


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        hook = self.server.hook
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            body = json.loads(raw)
        except ValueError:
            body = {"raw": raw.decode("utf-8", "replace")}
        got = Received(self.path, dict(self.headers.items()), body, time.monotonic())
        with hook.lock:
            hook.received.append(got)
        if hook.on_receive is not None:
            hook.on_receive(got)
        if hook.delay:
            time.sleep(hook.delay)
        status = hook.status(got) if callable(hook.status) else hook.status
        try:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
        except OSError:  # the sender is gone (the crash tests kill it mid-request)
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    hook: WebhookReceiver


class WebhookReceiver:
    """Records every POST; answers ``status`` (an int or a function of the request) after ``delay`` seconds."""

    def __init__(self, status: int | Callable[[Received], int] = 200, delay: float = 0.0):
        self.status = status
        self.delay = delay
        self.on_receive: Callable[[Received], None] | None = None
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.hook = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """The Apprise URL of this receiver."""
        return f"json://127.0.0.1:{self.port}/hook"

    def keys(self) -> list[str]:
        with self.lock:
            return [r.key for r in self.received]

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpReceiver:
    """An aiosmtpd server on 127.0.0.1 that keeps every message it accepts."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[EmailMessage] = []
        self.envelopes: list[Any] = []
        receiver = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                receiver.envelopes.append(envelope)
                receiver.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
                return "250 Message accepted"

        self.port = free_port()
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def url(self, to: str = "tns@example.org") -> str:
        return f"mailto://127.0.0.1:{self.port}?from=scrapewatch@example.org&to={to}"

    def __enter__(self) -> SmtpReceiver:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()
