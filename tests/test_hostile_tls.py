"""Hostile TLS servers: certificates a client must refuse, and handshakes that go wrong.

Each test names the rule or the attack it guards against.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from pathlib import Path

import pytest
from hostile_server import HostileServer, Script, TestCA, well_behaved

from smtpshell.core.session import Session
from smtpshell.core.tls import TlsSettings
from smtpshell.errors import TlsError
from smtpshell.protocol.endpoint import Endpoint, TlsMode


@pytest.fixture
def ca(tmp_path: Path) -> TestCA:
    return TestCA(tmp_path)


def _starttls_script(context: ssl.SSLContext) -> Script:
    return functools.partial(well_behaved, extensions=["STARTTLS"], tls=context)


@pytest.mark.parametrize("mode", [TlsMode.IMPLICIT, TlsMode.STARTTLS])
def test_certificate_with_only_a_common_name_is_refused(ca: TestCA, mode: TlsMode) -> None:
    """RFC 6125 6.4.4: with no subjectAltName, the CN is not a host name to match.
    OpenSSL (and so Python's ssl, hostname_checks_common_name) falls back to the CN
    unless told not to."""
    context = ca.issue("localhost", dns_names=None).server_context()
    server = (
        _implicit_server(context)
        if mode is TlsMode.IMPLICIT
        else HostileServer(_starttls_script(context))
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

    with HostileServer(_starttls_script(context)) as server:
        asyncio.run(scenario())


def _implicit_server(context: ssl.SSLContext) -> HostileServer:
    """A server that speaks TLS from the first byte, then greets."""
    return HostileServer(functools.partial(well_behaved, tls=context, implicit=True))
