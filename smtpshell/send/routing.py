"""Where a message goes: to one server (a relay, a submission port, a profile's
server), or straight to each recipient domain's mail exchangers (RFC 5321 5.1).

Direct delivery runs one transaction per domain, the domains in parallel (a bounded
number at a time); each falls back along its MX list as the shell's `connect --mx`
does (``core/direct.py``), with the same resolver.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from smtpshell.core.direct import NoExchangerReached, NullMxError, connect_direct, describe
from smtpshell.core.dns import ResolverConfig
from smtpshell.core.events import Listener
from smtpshell.core.options import ConnectOptions
from smtpshell.core.session import Session
from smtpshell.core.tls import TlsSettings
from smtpshell.errors import SmtpShellError, TlsError
from smtpshell.protocol.endpoint import TlsMode
from smtpshell.send.transaction import (
    Delivery,
    Failure,
    Message,
    Policy,
    RecipientOutcome,
    Stage,
    run_transaction,
)

# Domains in flight at once: enough for a message to a few dozen domains, few
# enough not to look like a flood to anyone's firewall.
MAX_PARALLEL_DOMAINS = 8


@dataclass(frozen=True)
class ViaServer:
    """Every recipient through one server."""

    options: ConnectOptions


@dataclass(frozen=True)
class Direct:
    """Each recipient domain's own mail exchangers.

    TLS is opportunistic unless ``require_tls``: STARTTLS whenever an exchanger
    offers it, its certificate not required to verify (RFC 7435; Postfix's
    ``smtp_tls_security_level = may``), since most MX certificates are not checked by
    anyone and no password is sent. With ``require_tls`` an exchanger without
    STARTTLS, or with a certificate not valid for its MX name, gets nothing.
    """

    resolver: ResolverConfig
    port: int = 25
    tls: TlsSettings = field(default_factory=TlsSettings)
    timeout: float = 30.0
    require_tls: bool = False


Route = ViaServer | Direct


def split_by_domain(recipients: Sequence[str]) -> dict[str, list[str]]:
    """Recipients grouped by domain (case-insensitive), in the order first named."""
    groups: dict[str, list[str]] = {}
    for address in recipients:
        domain = address.rpartition("@")[2].lower()
        groups.setdefault(domain, []).append(address)
    return groups


async def deliver(
    message: Message,
    recipients: Sequence[str],
    route: Route,
    policy: Policy,
    listeners: Sequence[Listener] = (),
    progress: Callable[[int], None] | None = None,
) -> list[Delivery]:
    """Send ``message`` to ``recipients`` by ``route``: one :class:`Delivery` per
    transaction, in the order of the recipients."""
    if isinstance(route, ViaServer):
        outcomes = [RecipientOutcome(address) for address in recipients]
        return [await _via_server(message, outcomes, route, policy, listeners, progress)]
    limit = asyncio.Semaphore(MAX_PARALLEL_DOMAINS)

    async def one(domain: str, addresses: list[str]) -> Delivery:
        async with limit:
            delivery = Delivery([RecipientOutcome(a) for a in addresses], domain=domain)
            return await _direct(message, delivery, route, policy, listeners, progress)

    groups = split_by_domain(recipients)
    return list(await asyncio.gather(*(one(d, a) for d, a in groups.items())))


def _session(timeout: float, listeners: Sequence[Listener]) -> Session:
    session = Session(timeout=timeout)
    for listener in listeners:
        session.subscribe(listener)
    return session


async def _via_server(
    message: Message,
    recipients: list[RecipientOutcome],
    route: ViaServer,
    policy: Policy,
    listeners: Sequence[Listener],
    progress: Callable[[int], None] | None,
) -> Delivery:
    options = route.options
    delivery = Delivery(recipients, server=str(options.endpoint))
    session = _session(options.timeout, listeners)
    started = time.perf_counter()
    try:
        greeting = await session.open(options)
    except SmtpShellError as exc:
        return await _not_connected(session, delivery, exc)
    delivery.timings["connect"] = time.perf_counter() - started
    if greeting.code != 220:
        await session.close()
        text = " ".join(greeting.lines)
        delivery.failure = Failure(
            Stage.GREETING, f"the server greeted with {greeting.code} {text}", greeting
        )
        return delivery
    return await run_transaction(session, message, delivery, policy, progress)


async def _direct(
    message: Message,
    delivery: Delivery,
    route: Direct,
    policy: Policy,
    listeners: Sequence[Listener],
    progress: Callable[[int], None] | None,
) -> Delivery:
    assert delivery.domain is not None
    session = _session(route.timeout, listeners)
    started = time.perf_counter()
    try:
        mode = TlsMode.STARTTLS if route.require_tls else TlsMode.PLAIN
        # Opportunistic: encrypt when offered, whatever the certificate.
        tls = route.tls if route.require_tls else dataclasses.replace(route.tls, insecure=True)
        reached = await connect_direct(
            session, delivery.domain, route.resolver, port=route.port, mode=mode, tls=tls,
            helo=policy.helo,
        )  # fmt: skip
    except SmtpShellError as exc:
        return await _not_connected(session, delivery, exc)
    delivery.timings["connect"] = time.perf_counter() - started
    delivery.server = describe(reached.host, reached.endpoint)
    return await run_transaction(session, message, delivery, policy, progress)


async def _not_connected(session: Session, delivery: Delivery, exc: SmtpShellError) -> Delivery:
    """``delivery`` failed before its transaction began, at the stage ``exc`` tells."""
    await session.close()
    if isinstance(exc, NullMxError):
        stage = Stage.RCPT  # RFC 7505 3: a null MX refuses every address there, for good
    elif isinstance(exc, TlsError) or (isinstance(exc, NoExchangerReached) and exc.tls_failed):
        stage = Stage.STARTTLS
    else:
        stage = Stage.CONNECT
    delivery.failure = Failure(stage, str(exc))
    return delivery
