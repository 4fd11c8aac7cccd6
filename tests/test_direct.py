"""Direct delivery's connection step (core/direct.py): MX lookup through a DNS responder
on loopback, SMTP servers on several loopback addresses sharing one port."""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from dns_responder import DnsResponder, Records

from smtpshell.core.direct import (
    DirectConnection,
    NoExchangerReached,
    NullMxError,
    connect_direct,
)
from smtpshell.core.dns import (
    DnsTimeoutError,
    NoSuchDomainError,
    ResolverConfig,
    delivery_order,
    lookup_mx,
)
from smtpshell.core.events import Event, Notice
from smtpshell.core.session import Session
from smtpshell.core.tls import TlsSettings
from smtpshell.protocol.endpoint import Endpoint, TlsMode

DEAD = "127.0.0.9"  # nothing listens there: connection refused
SILENT = "127.0.0.2"  # accepts, never greets
REFUSING = "127.0.0.3"  # greets with 554 (RFC 5321 3.1)
LIVE, LIVE2 = "127.0.0.1", "127.0.0.4"


@asynccontextmanager
async def smtp_servers() -> AsyncIterator[int]:
    """Servers on LIVE, LIVE2, SILENT and REFUSING, all on one port; yields the port."""
    greetings = {LIVE: b"220 live ESMTP\r\n", LIVE2: b"220 live2 ESMTP\r\n",
                 REFUSING: b"554 5.7.1 no SMTP service here\r\n", SILENT: b""}  # fmt: skip

    writers: list[asyncio.StreamWriter] = []
    handlers: list[asyncio.Task[Any]] = []

    def handler(greeting: bytes) -> Any:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            handlers.append(task)
            writers.append(writer)
            writer.write(greeting)
            await reader.read()
            writer.close()

        return serve

    first = await asyncio.start_server(handler(greetings[LIVE]), LIVE, 0)
    port = int(first.sockets[0].getsockname()[1])
    servers = [first]
    for address in (LIVE2, SILENT, REFUSING):
        servers.append(await asyncio.start_server(handler(greetings[address]), address, port))
    try:
        yield port
    finally:
        for server in servers:
            server.close()
        for writer in writers:
            writer.transport.abort()  # ends each handler's read with EOF
        async with asyncio.timeout(5):
            await asyncio.gather(*handlers)
            for server in servers:
                await server.wait_closed()


def zone(*mx: tuple[int, str], **addresses: str) -> Records:
    """``mx.test`` with the given MX records; ``host="1.2.3.4 ::1"`` adds A/AAAA."""
    records: dict[tuple[str, str], list[tuple[int, str]]] = {}
    if mx:
        records[("mx.test", "MX")] = [(3600, f"{pref} {name}.") for pref, name in mx]
    for host, text in addresses.items():
        for address in text.split():
            kind = "AAAA" if ":" in address else "A"
            records.setdefault((f"{host}.test", kind), []).append((300, address))
    return records


async def direct(
    responder: DnsResponder,
    port: int,
    domain: str = "mx.test",
    rng: random.Random | None = None,
    **options: Any,
) -> tuple[DirectConnection | Exception, list[str], Session]:
    """connect_direct with a 0.5 s SMTP time-out; (result or error, notices, session)."""
    notices: list[str] = []

    def listener(event: Event) -> None:
        if isinstance(event, Notice):
            notices.append(event.text)

    session = Session(listener, timeout=0.5)
    resolver = ResolverConfig(responder.nameserver, timeout=2.0)
    try:
        outcome: DirectConnection | Exception = await connect_direct(
            session, domain, resolver, port=port, rng=rng, **options
        )
    except Exception as exc:
        outcome = exc
    return outcome, notices, session


def test_first_answering_mx_in_preference_order_after_dead_silent_and_refusing() -> None:
    records = zone(
        (5, "dead.test"), (10, "silent.test"), (15, "refusing.test"), (20, "live.test"),
        (30, "backup.test"),
        dead=DEAD, silent=SILENT, refusing=REFUSING, live=LIVE, backup=LIVE2,
    )  # fmt: skip

    async def scenario() -> None:
        async with smtp_servers() as port:
            with DnsResponder(records) as responder:
                found, notices, session = await direct(responder, port)
            assert isinstance(found, DirectConnection), found
            assert found.endpoint == Endpoint(LIVE, port)
            assert found.host.name == "live.test" and found.host.preference == 20
            assert found.greeting.code == 220 and session.connected
            assert session.endpoint == Endpoint(LIVE, port)
            assert [a.outcome for a in found.attempts] == [
                "connection refused",
                "no complete reply to the greeting within 0.5 s (a port that expects TLS "
                "from the first byte stays silent: try --tls); connection closed",
                "greeted with 554, not 220",
                "220",
            ]
            assert notices == [
                f"trying dead.test [{DEAD}]:{port} (preference 5)...",
                "... connection refused",
                f"trying silent.test [{SILENT}]:{port} (preference 10)...",
                # The session reported the time-out as it closed (a Closed event).
                "... failed (see above)",
                f"trying refusing.test [{REFUSING}]:{port} (preference 15)...",
                "... greeted with 554, not 220",
                f"trying live.test [{LIVE}]:{port} (preference 20)...",
            ]
            await session.close()

    asyncio.run(scenario())


def test_equal_preferences_are_tried_in_random_order() -> None:
    records = zone((10, "a.test"), (10, "b.test"), a=LIVE, b=LIVE2)

    async def scenario() -> set[str]:
        reached: set[str] = set()
        async with smtp_servers() as port:
            with DnsResponder(records) as responder:
                result = await lookup_mx("mx.test", ResolverConfig(responder.nameserver))
                for seed in range(8):
                    expected = delivery_order(result, random.Random(seed))[0].name
                    found, _, session = await direct(responder, port, rng=random.Random(seed))
                    assert isinstance(found, DirectConnection)
                    assert found.host.name == expected
                    reached.add(found.host.name)
                    await session.close()
        return reached

    assert asyncio.run(scenario()) == {"a.test", "b.test"}


def test_every_address_of_a_host_is_tried_ipv4_first() -> None:
    # Nothing listens on ::1 at this port; DNS gives no order within an RRset.
    records = zone((10, "multi.test"), (20, "live.test"), multi=f"{DEAD} {SILENT} ::1", live=LIVE)

    async def scenario() -> None:
        async with smtp_servers() as port:
            with DnsResponder(records) as responder:
                found, _, session = await direct(responder, port)
            assert isinstance(found, DirectConnection)
            tried = [(a.host.name, a.endpoint.host) for a in found.attempts]
            assert set(tried[:2]) == {("multi.test", DEAD), ("multi.test", SILENT)}
            assert tried[2:] == [("multi.test", "::1"), ("live.test", LIVE)]
            await session.close()

    asyncio.run(scenario())


def test_host_without_address_is_skipped_and_said() -> None:
    records = zone((5, "gone.test"), (10, "live.test"), live=LIVE)

    async def scenario() -> None:
        async with smtp_servers() as port:
            with DnsResponder(records) as responder:
                found, notices, session = await direct(responder, port)
            assert isinstance(found, DirectConnection) and found.host.name == "live.test"
            assert notices[0] == "skipping gone.test (preference 5): no A/AAAA address"
            await session.close()

    asyncio.run(scenario())


def test_domain_without_mx_uses_its_own_address() -> None:
    records: Records = {("aonly.test", "A"): [(600, LIVE)]}

    async def scenario() -> None:
        async with smtp_servers() as port:
            with DnsResponder(records) as responder:
                found, notices, session = await direct(responder, port, domain="aonly.test")
            assert isinstance(found, DirectConnection) and found.host.preference == 0
            assert notices == [
                "aonly.test has no MX records: trying its own address (implicit MX, RFC 5321 5.1)",
                f"trying aonly.test [{LIVE}]:{port} (preference 0)...",
            ]
            await session.close()

    asyncio.run(scenario())


def test_null_mx_is_an_error_without_any_attempt() -> None:
    records: Records = {("nullmx.test", "MX"): [(3600, "0 .")]}

    async def scenario() -> None:
        with DnsResponder(records) as responder:
            error, notices, session = await direct(responder, 2525, domain="nullmx.test")
        assert isinstance(error, NullMxError)
        assert str(error) == "nullmx.test accepts no mail (null MX, RFC 7505)"
        assert notices == [] and not session.connected

    asyncio.run(scenario())


def test_nxdomain_and_dns_time_out_are_dns_errors() -> None:
    async def scenario() -> None:
        with DnsResponder(zone((10, "live.test"), live=LIVE)) as responder:
            error, notices, _ = await direct(responder, 2525, domain="nosuch.test")
        assert isinstance(error, NoSuchDomainError)
        assert str(error) == "nosuch.test: no such domain (NXDOMAIN)"
        with DnsResponder({}, black_hole=True) as hole:
            session = Session()
            config = ResolverConfig(hole.nameserver, timeout=0.3)
            with pytest.raises(DnsTimeoutError, match=r"DNS timed out after 0\.3 s"):
                await connect_direct(session, "mx.test", config)
        assert notices == []

    asyncio.run(scenario())


def test_nothing_reachable_is_one_network_error() -> None:
    records = zone((10, "dead.test"), (20, "silent.test"), dead=DEAD, silent=SILENT)

    async def scenario() -> None:
        async with smtp_servers() as port:
            with DnsResponder(records) as responder:
                error, notices, session = await direct(responder, port)
        assert isinstance(error, NoExchangerReached) and isinstance(error, ConnectionError)
        assert str(error) == "mx.test: no mail exchanger answered with 220 (2 addresses tried)"
        assert not session.connected
        assert len(notices) == 4

    asyncio.run(scenario())


def test_tls_is_verified_against_the_mx_host_name(tmp_path: Path) -> None:
    """Connected to an address from our resolver, the certificate must name the MX host."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("mx1.named.test")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    records: Records = {
        ("named.test", "MX"): [(300, "10 mx1.named.test."), (300, "20 mx2.named.test.")],
        ("mx1.named.test", "A"): [(300, LIVE)],
        ("mx2.named.test", "A"): [(300, LIVE)],
    }

    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 named ESMTP\r\n")
        with contextlib.suppress(ConnectionError):
            await reader.read()
        writer.close()

    async def scenario() -> None:
        server = await asyncio.start_server(greet, LIVE, 0, ssl=context)
        port = server.sockets[0].getsockname()[1]
        settings = TlsSettings(cafile=tmp_path / "ca.pem")
        with DnsResponder(records) as responder:
            outcome, notices, session = await direct(
                responder, port, "named.test", mode=TlsMode.IMPLICIT, tls=settings
            )
            assert isinstance(outcome, DirectConnection), (outcome, notices)
            assert outcome.host.name == "mx1.named.test"
            assert session.tls is not None and session.tls.verified
            await session.close()
        # The same certificate presented for mx2.named.test is refused by name.
        del records[("mx1.named.test", "A")]
        with DnsResponder(records) as responder:
            outcome, notices, _ = await direct(
                responder, port, "named.test", mode=TlsMode.IMPLICIT, tls=settings
            )
            assert isinstance(outcome, NoExchangerReached)
            assert any("does not match the host name" in n for n in notices), notices
        server.close()
        await server.wait_closed()

    asyncio.run(scenario())
