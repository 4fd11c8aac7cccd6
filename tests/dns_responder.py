"""A small authoritative DNS server on loopback, for tests and manual checks.

It serves records given as Python data over UDP and TCP on one port number,
from an asyncio loop in a background thread:

    zone = {("mx.test", "MX"): [(3600, "10 mx1.mx.test.")],
            ("mx1.mx.test", "A"): [(300, "127.0.0.1")]}
    with DnsResponder(zone) as responder:
        ...  # ask responder.nameserver, e.g. "127.0.0.1:40213"

It answers every name as authoritative: a name that is not in the data (and
has no descendants in it) is NXDOMAIN, an existing name without the asked type
is NODATA (RFC 8020 for empty non-terminals); CNAMEs are followed within the
data; negative answers carry the closest SOA (RFC 2308 3). Replies too big for
UDP are truncated (TC), and the client retries over TCP (RFC 7766).

To stand in for a validating resolver, `authenticated` names the owners whose
answers carry the AD bit (RFC 4035 3.2.3): data "validated by DNSSEC".

For time-out tests, `black_hole=True` reads queries and never answers, and
`faults` makes single questions go unanswered ("drop") or fail with an rcode.
Malformed packets are ignored; nothing a client sends can stop the thread.

As a script, for manual and interop use:

    python tests/dns_responder.py --port 5353 [--zone FILE [--origin test.]]

serves the built-in TEST_ZONE, or a master file (RFC 1035 5) when given.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import socket
import struct
import threading
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import cast

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone

# (owner name, record type) -> [(TTL, record data in master-file syntax)].
# Names in record data are absolute whether or not they end with a dot.
Records = Mapping[tuple[str, str], Sequence[tuple[int, str]]]

TEST_ZONE: dict[tuple[str, str], list[tuple[int, str]]] = {
    ("test", "SOA"): [(3600, "ns.test. hostmaster.test. 1 3600 600 86400 300")],
    ("test", "NS"): [(3600, "ns.test.")],
    ("ns.test", "A"): [(3600, "127.0.0.1")],
    ("mx.test", "MX"): [
        (3600, "10 mx1.mx.test."),
        (3600, "10 mx2.mx.test."),
        (3600, "20 backup.mx.test."),
        (3600, "5 dead.mx.test."),
    ],
    ("mx1.mx.test", "A"): [(300, "127.0.0.1")],
    ("mx1.mx.test", "AAAA"): [(300, "::1")],
    ("mx2.mx.test", "A"): [(300, "127.0.0.1")],
    ("backup.mx.test", "A"): [(300, "127.0.0.1")],
    ("backup.mx.test", "AAAA"): [(300, "::1")],
    # Nothing listens on 127.0.0.9: connecting there fails, as to a dead host.
    ("dead.mx.test", "A"): [(300, "127.0.0.9")],
    ("aonly.test", "A"): [(600, "127.0.0.1")],
    ("nullmx.test", "MX"): [(3600, "0 .")],
    ("alias.test", "CNAME"): [(900, "mx.test.")],
    ("nomail.test", "TXT"): [(300, '"v=spf1 -all"')],
}

_CHAIN_LIMIT = 8  # CNAME hops followed before giving up on a loop
_UDP_LIMIT = 512  # RFC 1035 4.2.1, without EDNS


def _name(text: str) -> dns.name.Name:
    return dns.name.from_text(text, origin=dns.name.root)


class Zone:
    """The records served, indexed for answering."""

    def __init__(self, records: Records) -> None:
        self.rrsets: dict[dns.name.Name, dict[int, dns.rrset.RRset]] = {}
        self.existing: set[dns.name.Name] = set()
        for (owner, rdtype_text), entries in records.items():
            name, rdtype = _name(owner), dns.rdatatype.from_text(rdtype_text)
            rrset = dns.rrset.RRset(name, dns.rdataclass.IN, rdtype)
            for ttl, text in entries:
                rdata = dns.rdata.from_text(
                    dns.rdataclass.IN, rdtype, text, origin=dns.name.root, relativize=False
                )
                rrset.add(rdata, ttl)  # one TTL per RRset: the smallest (RFC 2181 5.2)
            self.rrsets.setdefault(name, {})[rdtype] = rrset
            # An owner's ancestors exist too, if only as empty non-terminals.
            while name != dns.name.root and name not in self.existing:
                self.existing.add(name)
                name = name.parent()

    def lookup(
        self, qname: dns.name.Name, rdtype: int
    ) -> tuple[dns.rcode.Rcode, list[dns.rrset.RRset]]:
        """(rcode, answer RRsets) for one question, following CNAMEs."""
        answer: list[dns.rrset.RRset] = []
        name = qname
        for _ in range(_CHAIN_LIMIT):
            node = self.rrsets.get(name, {})
            if rdtype in node:
                return dns.rcode.NOERROR, [*answer, node[rdtype]]
            if rdtype == dns.rdatatype.ANY and node:
                return dns.rcode.NOERROR, [*answer, *node.values()]
            cname = node.get(dns.rdatatype.CNAME)
            if cname is None:
                # RFC 6604: the rcode is about the last name of the chain.
                found = name in self.existing
                return (dns.rcode.NOERROR if found else dns.rcode.NXDOMAIN), answer
            answer.append(cname)
            name = cname[0].target
        return dns.rcode.SERVFAIL, []

    def soa_for(self, name: dns.name.Name) -> dns.rrset.RRset | None:
        """The SOA of the closest enclosing zone, with its negative-caching TTL."""
        while True:
            soa = self.rrsets.get(name, {}).get(dns.rdatatype.SOA)
            if soa is not None:
                negative = dns.rrset.RRset(name, dns.rdataclass.IN, dns.rdatatype.SOA)
                negative.add(soa[0], min(soa.ttl, soa[0].minimum))  # RFC 2308 3
                return negative
            if name == dns.name.root:
                return None
            name = name.parent()


class DnsResponder:
    """An authoritative DNS server on a free port, in a background thread."""

    def __init__(
        self,
        records: Records | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        black_hole: bool = False,
        faults: Mapping[tuple[str, str], str] | None = None,
        authenticated: Sequence[str] = (),
    ) -> None:
        self.zone = Zone(TEST_ZONE if records is None else records)
        self.authenticated = {_name(owner) for owner in authenticated}
        self.host = host
        self.black_hole = black_hole
        # (name, type) -> "drop" or an rcode name such as "SERVFAIL".
        self.faults = {
            (_name(n), dns.rdatatype.from_text(t)): action
            for (n, t), action in (faults or {}).items()
        }
        self._requested_port = port
        self._port = 0
        self._queries: list[tuple[str, str, str]] = []
        self.errors: list[Exception] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._startup_error: BaseException | None = None

    # -- public face -----------------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self._port

    @property
    def nameserver(self) -> str:
        """The "HOST:PORT" string to hand to --nameserver ("[::1]:PORT" for IPv6)."""
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"{shown}:{self._port}"

    @property
    def queries(self) -> list[tuple[str, str, str]]:
        """Questions received so far: (transport "udp"/"tcp", name, type)."""
        with self._lock:
            return list(self._queries)

    def start(self) -> DnsResponder:
        udp, tcp = _bind_pair(self.host, self._requested_port)
        self._port = udp.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(udp, tcp, ready), name="dns-responder", daemon=True
        )
        self._thread.start()
        if not ready.wait(10) or self._startup_error is not None:
            self.stop()
            raise RuntimeError("DNS responder did not start") from self._startup_error
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop may be closed already
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop = self._thread = None

    def __enter__(self) -> DnsResponder:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- serving ---------------------------------------------------------------------------

    def _run(self, udp: socket.socket, tcp: socket.socket, ready: threading.Event) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            transport, _ = loop.run_until_complete(
                loop.create_datagram_endpoint(lambda: _UdpProtocol(self), sock=udp)
            )
            server = loop.run_until_complete(asyncio.start_server(self._serve_tcp, sock=tcp))
        except BaseException as exc:
            self._startup_error = exc
            udp.close()
            tcp.close()
            loop.close()
            ready.set()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            transport.close()
            server.close()
            for task in asyncio.all_tasks(loop):
                task.cancel()
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # RFC 1035 4.2.2 / RFC 7766 6.2.1: two-byte length, then the message;
        # several queries may follow each other on one connection.
        try:
            while True:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                reply = self.reply(await reader.readexactly(length), "tcp")
                if reply is not None:
                    writer.write(struct.pack("!H", len(reply)) + reply)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def reply(self, wire: bytes, transport: str) -> bytes | None:
        """The reply to one query in wire format, or None to stay silent."""
        try:
            return self._reply(wire, transport)
        except Exception as exc:  # a test server must outlive any input: stay silent
            with self._lock:
                self.errors.append(exc)  # for tests to check that none happened
            return None

    def _reply(self, wire: bytes, transport: str) -> bytes | None:
        if self.black_hole:
            return None
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None  # malformed: there is no sane header to answer
        if query.flags & dns.flags.QR:
            return None  # a response sent to us; answering could loop
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if query.opcode() != dns.opcode.QUERY:
            response.set_rcode(dns.rcode.NOTIMP)
        elif len(query.question) != 1:
            response.set_rcode(dns.rcode.FORMERR)
        elif query.question[0].rdclass != dns.rdataclass.IN:
            response.set_rcode(dns.rcode.REFUSED)
        elif not self._answer(query.question[0], response, transport):
            return None
        return self._to_wire(query, response, transport)

    def _answer(self, question: dns.rrset.RRset, response: dns.message.Message, via: str) -> bool:
        """Fill in the answer; False when a fault says to stay silent."""
        qname, rdtype = question.name, question.rdtype
        with self._lock:
            self._queries.append((via, qname.to_text(), dns.rdatatype.to_text(rdtype)))
        fault = self.faults.get((qname, rdtype))
        if fault == "drop":
            return False
        if fault is not None:
            response.set_rcode(dns.rcode.from_text(fault))
            return True
        rcode, rrsets = self.zone.lookup(qname, rdtype)
        if qname in self.authenticated:
            response.flags |= dns.flags.AD
        response.set_rcode(rcode)
        response.answer.extend(rrsets)
        if _is_negative(rcode, rrsets, rdtype):
            soa = self.zone.soa_for(qname)
            if soa is not None:
                response.authority.append(soa)
        return True

    def _to_wire(
        self, query: dns.message.Message, response: dns.message.Message, via: str
    ) -> bytes:
        if via == "tcp":
            return response.to_wire(max_size=65535)
        limit = max(_UDP_LIMIT, query.payload) if query.edns >= 0 else _UDP_LIMIT
        try:
            return response.to_wire(max_size=limit)
        except dns.exception.TooBig:
            # RFC 2181 9: too big for UDP, send an empty reply with TC set.
            response.answer.clear()
            response.authority.clear()
            response.additional.clear()
            response.flags |= dns.flags.TC
            return response.to_wire(max_size=limit)


def _is_negative(rcode: dns.rcode.Rcode, rrsets: list[dns.rrset.RRset], rdtype: int) -> bool:
    """NXDOMAIN or NODATA, possibly at the end of a CNAME chain (RFC 2308 2)."""
    if rcode == dns.rcode.NXDOMAIN:
        return True
    if rcode != dns.rcode.NOERROR or rdtype == dns.rdatatype.ANY:
        return False
    return not rrsets or rrsets[-1].rdtype != rdtype


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, responder: DnsResponder) -> None:
        self.responder = responder
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The selector loop's datagram transport is not a DatagramTransport subclass.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        reply = self.responder.reply(data, "udp")
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:
        pass  # e.g. ICMP port unreachable from a client gone away; keep serving


def _bind_pair(host: str, port: int) -> tuple[socket.socket, socket.socket]:
    """A UDP and a TCP socket bound to the same port (a free one when port is 0)."""
    family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    for _ in range(50):
        udp = socket.socket(family, socket.SOCK_DGRAM)
        tcp = socket.socket(family, socket.SOCK_STREAM)
        try:
            udp.bind((host, port))
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind((host, udp.getsockname()[1]))
            tcp.listen(16)
        except OSError:
            udp.close()
            tcp.close()
            if port:
                raise
            continue  # the TCP side of this free UDP port is taken: try another
        udp.setblocking(False)
        tcp.setblocking(False)
        return udp, tcp
    raise OSError(f"no port free for both UDP and TCP on {host}")


def records_from_zone_file(path: str, origin: str | None = None) -> Records:
    """Records in the DnsResponder format from a master file (RFC 1035 5)."""
    zone = dns.zone.from_file(path, origin=origin, relativize=False, check_origin=False)
    records: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for name, ttl, rdata in zone.iterate_rdatas():
        key = (name.to_text(), dns.rdatatype.to_text(rdata.rdtype))
        records.setdefault(key, []).append((ttl, rdata.to_text()))
    return records


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a test DNS zone on UDP and TCP.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--zone", help="master file to serve instead of the built-in test zone")
    parser.add_argument("--origin", help="origin for a zone file without $ORIGIN")
    parser.add_argument("--black-hole", action="store_true", help="never answer")
    args = parser.parse_args(argv)
    records = records_from_zone_file(args.zone, args.origin) if args.zone else None
    responder = DnsResponder(records, host=args.host, port=args.port, black_hole=args.black_hole)
    with responder:
        print(f"serving on {responder.nameserver} (UDP and TCP); Ctrl-C stops", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
