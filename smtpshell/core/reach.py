"""Reaching the server that connect options name: by host name, or a domain's MX hosts.

- Without a configured resolver, a host name is the system's to resolve, as it is
  for telnet, openssl s_client and swaks.
- With one (``--nameserver``, ``SMTPSHELL_NAMESERVER``), every lookup goes there: the
  host's A and AAAA records come from it and each address is tried in turn, IPv4
  first, while TLS still checks the certificate against the name that was given
  (and sends it as SNI). ``localhost`` is never asked about (RFC 6761 6.3).
- ``connect --mx DOMAIN`` is direct delivery's search (direct.py).

The connect options' time-out also bounds the lookups made for them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import ssl

from smtpshell.core.direct import SMTP_PORT, connect_direct, describe_failure
from smtpshell.core.dns import ResolverConfig, resolve_addresses
from smtpshell.core.options import ConnectOptions
from smtpshell.core.session import Session
from smtpshell.errors import SmtpShellError, TlsError
from smtpshell.protocol.endpoint import Endpoint, TlsMode
from smtpshell.protocol.reply import Reply

SMTPS_PORT = 465  # RFC 8314 3.3: implicit TLS from the first byte
# How long a plain connection to the SMTPS port waits for a greeting before it
# asks whether the server is waiting for a TLS handshake instead.
TLS_PATIENCE = 1.0


async def reach(session: Session, options: ConnectOptions, resolver: ResolverConfig) -> Reply:
    """Connect ``session`` as ``options`` say, looking names up with ``resolver``; the
    greeting. Raises what ``Session.connect``, the lookup or direct delivery raise."""
    session.timeout = options.timeout
    resolver = dataclasses.replace(resolver, timeout=options.timeout)
    if options.mx is not None:
        found = await connect_direct(
            session,
            options.mx,
            resolver,
            port=options.port or SMTP_PORT,
            mode=options.tls_mode,
            tls=options.tls,
            helo=options.helo,
        )
        return found.greeting
    endpoint = options.endpoint
    if resolver.nameserver is None or _needs_no_lookup(endpoint.host):
        return await _connect(session, endpoint, options)
    return await _connect_by_name(session, endpoint, options, resolver)


def _needs_no_lookup(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        # RFC 6761 6.3: localhost is the loopback, whatever a name server says.
        return host.lower().rstrip(".") == "localhost"
    return True


async def _connect_by_name(
    session: Session, endpoint: Endpoint, options: ConnectOptions, resolver: ResolverConfig
) -> Reply:
    ipv4, ipv6 = await resolve_addresses(endpoint.host, resolver)
    # IPv4 first, as for MX hosts: a fixed order makes what is tried predictable.
    addresses = (*ipv4, *ipv6)
    for index, address in enumerate(addresses):
        session.notify(f"trying {endpoint.host} [{address}]:{endpoint.port}...")
        try:
            return await _connect(session, Endpoint(address, endpoint.port), options, endpoint.host)
        except SmtpShellError as exc:
            if index == len(addresses) - 1 or not _not_reached(exc):
                raise
            session.notify(f"... {describe_failure(exc)}")
    raise AssertionError("resolve_addresses returns at least one address")


def _not_reached(exc: SmtpShellError) -> bool:
    """True when the connection itself failed (refused, unreachable, no answer):
    then another address of the same host may do better. A TLS failure or a
    server that never greets would be the same on every address."""
    cause = exc.__cause__
    return isinstance(cause, OSError) and not isinstance(cause, ssl.SSLError)


async def _connect(
    session: Session, endpoint: Endpoint, options: ConnectOptions, server_hostname: str = ""
) -> Reply:
    """``Session.connect``; a plain connection to the SMTPS port that stays silent
    for a second is asked whether it is waiting for TLS (see :func:`speaks_tls`)."""
    dial = session.connect(
        endpoint, options.tls_mode, options.tls, options.helo, server_hostname or None
    )
    if (
        options.tls_mode is TlsMode.IMPLICIT
        or endpoint.port != SMTPS_PORT
        or options.timeout <= TLS_PATIENCE
    ):
        return await dial
    attempt = asyncio.ensure_future(dial)
    try:
        done, _ = await asyncio.wait({attempt}, timeout=TLS_PATIENCE)
        silent = not done and session.greeting is None  # --starttls may still be busy
        if silent and await speaks_tls(endpoint, server_hostname, TLS_PATIENCE):
            raise TlsError(
                f"{endpoint} speaks TLS from the first byte and sends no greeting in "
                "plain text (port 465 is implicit TLS, RFC 8314): connect with --tls"
            )
        return await attempt
    finally:
        if not attempt.done():
            attempt.cancel()
            await asyncio.wait({attempt})
            if not attempt.cancelled():
                attempt.exception()  # it ended on its own meanwhile: nothing to report
            await session.close()


async def speaks_tls(endpoint: Endpoint, server_hostname: str, seconds: float) -> bool:
    """Whether the server answers a TLS handshake, asked on a second connection that
    is closed at once (nothing is verified: only the language of the answer counts).

    An implicit-TLS server says nothing until the client's ClientHello, so a silent
    plain connection cannot tell it from a server slow to greet. Only the SMTPS port
    is asked: a ClientHello sent to a port 25 server that delays its greeting on
    purpose would count against us as talking before the greeting.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    loop = asyncio.get_running_loop()
    gone = loop.create_future()
    try:
        async with asyncio.timeout(2 * seconds):
            transport, _ = await loop.create_connection(
                lambda: _Probe(gone),
                endpoint.host,
                endpoint.port,
                ssl=context,
                server_hostname=server_hostname or None,
                ssl_handshake_timeout=seconds,
            )
    except ssl.SSLError as exc:
        # An alert (no shared cipher, a client certificate wanted) is TLS too; "wrong
        # version number" is a server that answered in plain text.
        return "ALERT" in (exc.reason or "")
    except OSError:  # refused, reset, or no handshake within the time (TimeoutError)
        return False
    transport.abort()
    await asyncio.wait({gone}, timeout=seconds)  # the socket is closed before we go on
    return True


class _Probe(asyncio.Protocol):
    def __init__(self, gone: asyncio.Future[None]) -> None:
        self._gone = gone

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._gone.done():
            self._gone.set_result(None)
