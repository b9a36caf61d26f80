"""A small authoritative DNS server on loopback (UDP and TCP, dnspython) answering from a zone dict: the simulated
internet's DNS for host intel in the demo and tests."""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

__all__ = ["DnsServer", "Zone"]

# name -> {"A": [...], "AAAA": [...], "CNAME": "target", "NS": [...], "MX": [(preference, host), ...]}
Zone = Mapping[str, Mapping[str, Any]]
TTL = 300


def _rrsets(name: str, rdtype: str, records: Mapping[str, Any]) -> list[dns.rrset.RRset]:
    values = records.get(rdtype)
    if values is None:
        return []
    if rdtype == "CNAME":
        values = [values]
    if rdtype == "MX":
        texts = [f"{pref} {host}." for pref, host in values]
    elif rdtype in ("CNAME", "NS"):
        texts = [f"{v}." for v in values]
    else:
        texts = [str(v) for v in values]
    return [dns.rrset.from_text_list(f"{name}.", TTL, dns.rdataclass.IN, rdtype, texts)] if texts else []


def answer(zone: Zone, wire: bytes, silent: frozenset[str]) -> bytes | None:
    """The response to one query (None: not answered, for names in ``silent`` or a malformed query)."""
    try:
        query = dns.message.from_wire(wire)
    except Exception:
        return None
    if not query.question:
        return None
    question = query.question[0]
    name = question.name.to_text().rstrip(".").lower()
    if name in silent:
        return None
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    rdtype = dns.rdatatype.to_text(question.rdtype)
    for _ in range(8):  # follow CNAMEs inside the zone, as an authoritative server does
        records = zone.get(name)
        if records is None:
            if not response.answer:
                response.set_rcode(dns.rcode.NXDOMAIN)
            break
        if "CNAME" in records and rdtype != "CNAME":
            response.answer.extend(_rrsets(name, "CNAME", records))
            name = str(records["CNAME"]).rstrip(".").lower()
            continue
        response.answer.extend(_rrsets(name, rdtype, records))
        break
    return response.to_wire()


class _Udp(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data, sock = self.request
        reply = answer(self.server.zone, data, self.server.silent)  # type: ignore[attr-defined]
        if reply is not None:
            sock.sendto(reply, self.client_address)


class _Tcp(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.settimeout(5)
        try:
            head = self.request.recv(2, socket.MSG_WAITALL)
            if len(head) < 2:
                return
            data = self.request.recv(struct.unpack("!H", head)[0], socket.MSG_WAITALL)
        except OSError:
            return
        reply = answer(self.server.zone, data, self.server.silent)  # type: ignore[attr-defined]
        if reply is not None:
            self.request.sendall(struct.pack("!H", len(reply)) + reply)


class DnsServer:
    """Serves ``zone`` on 127.0.0.1 (one port, UDP and TCP) in daemon threads; ``zone`` may be changed while it
    runs (tests move a host). Names in ``silent`` are never answered (a resolver that times out)."""

    def __init__(self, zone: Zone, silent: frozenset[str] = frozenset(), host: str = "127.0.0.1"):
        self.zone: dict[str, dict[str, Any]] = {k.lower().rstrip("."): dict(v) for k, v in zone.items()}
        self.silent = silent
        self._host = host
        self._servers: list[socketserver.BaseServer] = []

    def start(self) -> DnsServer:
        """Bind UDP and TCP on one free port and serve."""
        for _ in range(20):  # a UDP port's TCP twin may be taken: try another pair
            udp = socketserver.ThreadingUDPServer((self._host, 0), _Udp)
            try:
                tcp = socketserver.ThreadingTCPServer((self._host, udp.server_address[1]), _Tcp)
            except OSError:
                udp.server_close()
                continue
            break
        else:
            raise OSError("no free port for the DNS server")
        for server in (udp, tcp):
            server.daemon_threads = True
            server.zone, server.silent = self.zone, self.silent  # type: ignore[attr-defined]
            threading.Thread(target=server.serve_forever, name="demo-dns", daemon=True).start()
            self._servers.append(server)
        return self

    @property
    def port(self) -> int:
        """The port serving UDP and TCP."""
        return self._servers[0].server_address[1]  # type: ignore[index]

    @property
    def nameserver(self) -> str:
        """``host:port`` for the ``intel.nameservers`` setting."""
        return f"{self._host}:{self.port}"

    def stop(self) -> None:
        """Stop serving; safe to call twice."""
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers = []

    def __enter__(self) -> DnsServer:
        return self.start()

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
