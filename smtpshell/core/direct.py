"""Direct delivery's first step: reach one of a domain's mail exchangers (RFC 5321 5.1).

The MX hosts are tried in preference order (random among equal preferences), each
of their addresses in turn, until one greets with 220. Addresses come from the
configured resolver (``lookup_mx``), never the system's, so ``--nameserver``
decides where mail would go. Each attempt and its outcome is reported as a
``Notice`` through the session, to all its listeners: the core never prints.
"""

from __future__ import annotations

import errno
import random
import ssl
from dataclasses import dataclass

from smtpshell.core.dns import MxHost, ResolverConfig, delivery_order, lookup_mx
from smtpshell.core.events import Closed, Event
from smtpshell.core.session import Session
from smtpshell.core.tls import TlsSettings
from smtpshell.errors import NetworkError, SmtpShellError, TlsError
from smtpshell.protocol.endpoint import Endpoint, TlsMode
from smtpshell.protocol.reply import Reply

SMTP_PORT = 25  # RFC 5321 4.5.4.2 (relay between MTAs); 465/587 are for submission

_ERRNO_WORDS = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset",
    errno.ETIMEDOUT: "timed out",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.EADDRNOTAVAIL: "address not available",
}


class DirectDeliveryError(SmtpShellError):
    """Direct delivery cannot start; ``str(error)`` is one line."""


class NullMxError(DirectDeliveryError):
    """The domain publishes a null MX: it accepts no mail (RFC 7505)."""


class NoExchangerReached(NetworkError, DirectDeliveryError):
    """Every address of every mail exchanger failed or did not greet with 220."""

    def __init__(self, message: str, attempts: tuple[Attempt, ...] = ()) -> None:
        super().__init__(message)
        self.attempts = attempts

    @property
    def tls_failed(self) -> bool:
        """Some exchanger answered, and TLS is what failed with it."""
        return any(attempt.tls_failure for attempt in self.attempts)


@dataclass(frozen=True)
class Attempt:
    """One connection attempt to one address of one mail exchanger."""

    host: MxHost
    endpoint: Endpoint
    outcome: str  # "220" on success, else why it failed ("connection refused"...)
    reached: bool = False
    tls_failure: str = ""  # it answered, but TLS failed: why


@dataclass(frozen=True)
class DirectConnection:
    """The mail exchanger that answered, and how it was found."""

    domain: str
    host: MxHost
    endpoint: Endpoint
    greeting: Reply
    attempts: tuple[Attempt, ...]


def describe(host: MxHost, endpoint: Endpoint) -> str:
    """``mx1.mx.test [127.0.0.1]:25 (preference 10)``."""
    address = f"[{endpoint.host}]:{endpoint.port}"
    return f"{host.name} {address} (preference {host.preference})"


async def connect_direct(
    session: Session,
    domain: str,
    resolver: ResolverConfig,
    *,
    port: int = SMTP_PORT,
    mode: TlsMode = TlsMode.PLAIN,
    tls: TlsSettings | None = None,
    helo: str = "localhost",
    rng: random.Random | None = None,
) -> DirectConnection:
    """Look up the mail exchangers of ``domain`` and connect ``session`` to the first
    that greets with 220, in delivery order. DNS errors (``DnsError``) propagate as
    they are.

    With TLS, each certificate is verified against the MX host's name, not the
    address connected to: that name is what an MX certificate carries (RFC 7672,
    RFC 8461 4.1).
    """
    result = await lookup_mx(domain, resolver)
    settings = tls or TlsSettings()
    notify = session.notify

    if result.null_mx:
        raise NullMxError(f"{result.domain} accepts no mail (null MX, RFC 7505)")
    if result.implicit:
        notify(
            f"{result.domain} has no MX records: trying its own address (implicit MX, RFC 5321 5.1)"
        )
    attempts: list[Attempt] = []
    for host in delivery_order(result, rng):
        # IPv4 first: many networks still cannot reach port 25 over IPv6, and a
        # fixed order makes what is tried predictable; both families are tried.
        addresses = (*host.ipv4, *host.ipv6)
        if not addresses:
            notify(f"skipping {host.name} (preference {host.preference}): no A/AAAA address")
            continue
        for address in addresses:
            endpoint = Endpoint(address, port)
            notify(f"trying {describe(host, endpoint)}...")
            attempt, greeting, shown = await _attempt(session, host, endpoint, mode, settings, helo)
            attempts.append(attempt)
            if greeting is not None:
                return DirectConnection(result.domain, host, endpoint, greeting, tuple(attempts))
            notify("... failed (see above)" if shown else f"... {attempt.outcome}")
    raise NoExchangerReached(_none_reached(result.domain, attempts), tuple(attempts))


def _none_reached(domain: str, attempts: list[Attempt]) -> str:
    """Why no exchanger could be used, in one line. An exchanger that answered but
    failed TLS is named with the reason: its certificate, not the network, is what
    to look at (the other attempts' outcomes are on screen already)."""
    tried = len(attempts)
    if not tried:
        return f"{domain}: no mail exchanger has an address"
    tls_failed = [attempt for attempt in attempts if attempt.tls_failure]
    if tls_failed:
        first = tls_failed[0]
        others = len(tls_failed) - 1
        more = f" (and {others} more with TLS failures)" if others else ""
        where = describe(first.host, first.endpoint)
        return f"{domain}: {where} answered, but {first.tls_failure}{more}"
    plural = "es" if tried != 1 else ""
    return f"{domain}: no mail exchanger answered with 220 ({tried} address{plural} tried)"


async def _attempt(
    session: Session,
    host: MxHost,
    endpoint: Endpoint,
    mode: TlsMode,
    tls: TlsSettings,
    helo: str,
) -> tuple[Attempt, Reply | None, bool]:
    """(attempt, greeting, shown): the greeting only when the server said 220 (RFC
    5321 3.1); ``shown`` when the session already reported the failure as it closed
    (a STARTTLS handshake, a time-out), so it need not be said twice."""
    failures: list[str] = []

    def note(event: Event) -> None:
        if isinstance(event, Closed) and event.failure:
            failures.append(event.reason)

    session.subscribe(note)
    try:
        greeting = await session.connect(endpoint, mode, tls, helo, server_hostname=host.name)
    except SmtpShellError as exc:
        await session.close()
        # It answered when it greeted (STARTTLS) or began a handshake (implicit TLS);
        # a name TLS cannot carry fails before anything is sent.
        answered = session.greeting is not None or isinstance(exc.__cause__, ssl.SSLError)
        tls_failure = str(exc) if isinstance(exc, TlsError) and answered else ""
        attempt = Attempt(host, endpoint, describe_failure(exc), tls_failure=tls_failure)
        return attempt, None, str(exc) in failures
    finally:
        session.unsubscribe(note)
    if greeting.code != 220:
        # A 554 (or 421) greeting refuses the session: move on to the next host.
        await session.close()
        return Attempt(host, endpoint, f"greeted with {greeting.code}, not 220"), None, False
    return Attempt(host, endpoint, "220", reached=True), greeting, False


def describe_failure(exc: SmtpShellError) -> str:
    """A few words for a connection attempt's failure, as in "... connection refused"."""
    cause = exc.__cause__
    if isinstance(cause, OSError) and cause.errno in _ERRNO_WORDS:
        return _ERRNO_WORDS[cause.errno]
    if isinstance(exc, TlsError):
        return f"TLS failed: {exc}"
    return str(exc)  # time-outs already say which wait ran out
