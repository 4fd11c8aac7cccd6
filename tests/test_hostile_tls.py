"""Hostile TLS servers: certificates a client must refuse, and handshakes that go wrong.

Each test names the rule or the attack it guards against.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hostile_server import HostileServer, Peer, TestCA

from smtpshell.core.session import Session
from smtpshell.core.tls import TlsSettings
from smtpshell.errors import TlsError
from smtpshell.protocol.endpoint import Endpoint, TlsMode


@pytest.fixture
def ca(tmp_path: Path) -> TestCA:
    return TestCA(tmp_path)


def _starttls_script(context_of: object) -> object:
    async def script(peer: Peer) -> None:
        await peer.send(b"220 hostile ESMTP\r\n")
        while True:
            command = (await peer.command()).upper()
            if command.startswith("EHLO"):
                await peer.send(b"250-hostile\r\n250 STARTTLS\r\n")
            elif command == "STARTTLS":
                await peer.send(b"220 go ahead\r\n")
                await peer.start_tls(context_of)  # type: ignore[arg-type]
            else:
                await peer.send(b"250 ok\r\n")

    return script


@pytest.mark.parametrize("mode", [TlsMode.IMPLICIT, TlsMode.STARTTLS])
def test_certificate_with_only_a_common_name_is_refused(ca: TestCA, mode: TlsMode) -> None:
    """RFC 6125 6.4.4: with no subjectAltName, the CN is not a host name to match.
    OpenSSL (and so Python's ssl, hostname_checks_common_name) falls back to the CN
    unless told not to."""
    context = ca.issue("localhost", dns_names=None).server_context()
    server = (
        _implicit_server(context)
        if mode is TlsMode.IMPLICIT
        else HostileServer(_starttls_script(context))  # type: ignore[arg-type]
    )

    async def scenario() -> None:
        session = Session(timeout=5)
        await session.connect(
            Endpoint("localhost", server.port), mode, TlsSettings(cafile=ca.ca_file)
        )

    with server, pytest.raises(TlsError, match="does not match the host name"):
        asyncio.run(scenario())


def test_certificate_with_a_matching_san_is_accepted(ca: TestCA) -> None:
    """The control case for the test above: same CA, same name, with a SAN."""
    context = ca.issue("localhost", dns_names=["localhost"]).server_context()

    async def scenario() -> None:
        session = Session(timeout=5)
        await session.connect(
            Endpoint("localhost", server.port), TlsMode.STARTTLS, TlsSettings(cafile=ca.ca_file)
        )
        assert session.tls is not None and session.tls.verified
        await session.close()

    with HostileServer(_starttls_script(context)) as server:  # type: ignore[arg-type]
        asyncio.run(scenario())


def _implicit_server(context: object) -> HostileServer:
    """A server that speaks TLS from the first byte, then greets."""

    async def script(peer: Peer) -> None:
        await peer.start_tls(context)  # type: ignore[arg-type]
        await peer.send(b"220 hostile ESMTP\r\n")
        await peer.drain_client()

    return HostileServer(script)
