"""Loopback HTTP servers that never stop sending (endless header lines, endless bodies, decompression bombs)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import zlib
from collections.abc import Callable, Iterator


def header_flood() -> Iterator[bytes]:
    """A 200 status line, then 16 KB header lines forever (just under the 16 KiB line cap of Twisted's LineReceiver)."""
    yield b"HTTP/1.1 200 OK\r\n"
    lines = b"".join(b"X-Flood: %s\r\n" % (b"v" * 16000) for _ in range(64))
    while True:
        yield lines


def endless_body(content_type: bytes = b"text/html") -> Iterator[bytes]:
    """A 200 response with no length whose HTML body never ends."""
    yield b"HTTP/1.1 200 OK\r\nContent-Type: " + content_type + b"\r\nConnection: close\r\n\r\n<html><body><p>"
    chunk = b"<p>endless " + b"x" * 1000 + b"</p>\n"
    chunk *= 1024
    while True:
        yield chunk


def gzip_bomb(decoded_bytes: int = 2 << 30) -> Iterator[bytes]:
    """An HTML page whose ~2 MB gzip body decodes to ``decoded_bytes`` (2 GiB by default)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: a gzip stream
    body = [packer.compress(b"<html><body><p>")]
    block = b"a" * (1 << 20)
    body.extend(packer.compress(block) for _ in range(decoded_bytes >> 20))
    body.append(packer.flush())
    payload = b"".join(body)
    yield (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(payload)
    )
    yield payload


REPLIES = {"header_flood": header_flood, "endless_body": endless_body, "gzip_bomb": gzip_bomb}


class EndlessServer:
    """Serves one of REPLIES to every connection on 127.0.0.1 from a child process (so that it sends at full speed,
    not at the pace the test process's GIL allows), until the client hangs up or the test ends."""

    def __init__(self, reply: str):
        self.reply = reply
        self._proc: subprocess.Popen[str] | None = None
        self.port = 0

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> EndlessServer:
        self._proc = subprocess.Popen(
            [sys.executable, __file__, self.reply], stdout=subprocess.PIPE, text=True, start_new_session=True
        )
        assert self._proc.stdout is not None
        self.port = int(self._proc.stdout.readline())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._proc is not None
        self._proc.kill()
        self._proc.wait(10)


def _talk(conn: socket.socket, reply: Callable[[], Iterator[bytes]]) -> None:
    conn.settimeout(10)
    with conn:
        try:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                head += chunk
            for data in reply():
                conn.sendall(data)
        except OSError:
            pass  # the client hung up: what the limits are for


def _serve(name: str) -> None:
    reply = REPLIES[name]
    if name == "gzip_bomb":
        payload = list(gzip_bomb())  # built once, before the port is announced
        reply = lambda: iter(payload)  # noqa: E731
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    print(sock.getsockname()[1], flush=True)
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=_talk, args=(conn, reply), daemon=True).start()


if __name__ == "__main__":
    _serve(sys.argv[1])
