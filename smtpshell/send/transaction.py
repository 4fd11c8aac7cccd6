"""One mail transaction on a connected session: EHLO, optional STARTTLS and AUTH,
MAIL, RCPT, DATA, the message, QUIT (RFC 5321 3.3), and what became of each
recipient.

When the server offers PIPELINING (RFC 2920), MAIL, every RCPT and DATA go out as
one group and the replies are read afterwards: one round trip instead of two plus
one per recipient. Errors of the server are outcomes, not exceptions: a refused
recipient is something to report, not a crash; only a bug raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from smtpshell.core.authenticate import AuthError, AuthRejected, authenticate
from smtpshell.core.events import Origin
from smtpshell.errors import (
    MessageChanged,
    NetworkError,
    ProtocolError,
    SmtpShellError,
    SmtpTimeout,
    TlsError,
)
from smtpshell.protocol.auth import SUPPORTED_MECHANISMS, choose_mechanism
from smtpshell.protocol.reply import Reply

if TYPE_CHECKING:
    from smtpshell.core.session import Session
    from smtpshell.protocol.ehlo import Capabilities

# Mechanisms that put the password on the wire as it is (base64 is not a cipher):
# never over plain text to another machine unless the profile allows it.
CLEARTEXT_MECHANISMS = frozenset({"PLAIN", "LOGIN", "XOAUTH2"})

# RFC 5321 4.3.2: the reply classes each step may get (2 success, 3 "go on", 4 and 5
# refusals). Any other reply answers something else: a server out of step, or replies
# injected ahead of ours. What follows cannot be matched to what we sent, so the
# connection is closed (no QUIT, no "."), not carried on with a guess.
_MAY_GET = {
    "MAIL FROM": (2, 4, 5),
    "RCPT TO": (2, 4, 5),
    "DATA": (3, 4, 5),
    "the message": (2, 4, 5),
}

_QUEUE_ID = re.compile(r"(?:queued as|id=)\s*([A-Za-z0-9][A-Za-z0-9._-]*)", re.IGNORECASE)


class Stage(enum.Enum):
    """Where a transaction stopped; the exit status is chosen from it."""

    CONNECT = "connect"  # no server reached, or the connection was lost
    GREETING = "greeting"
    HELO = "helo"
    STARTTLS = "starttls"
    AUTH = "auth"
    MAIL = "mail"
    RCPT = "rcpt"
    DATA = "data"
    MESSAGE = "message"  # the reply after the final "."
    LOCAL = "local"  # smtpshell's side: a file changed while the message was sent


class Message(Protocol):
    """What a transaction needs of a message (``smtpshell.send.message``)."""

    @property
    def sender(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def needs_smtputf8(self) -> bool: ...
    @property
    def needs_8bitmime(self) -> bool: ...
    def chunks(self) -> Iterator[bytes]: ...


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str = field(repr=False)
    mechanism: str | None = None  # None: the best one the server offers


@dataclass(frozen=True)
class Policy:
    """The rules a transaction follows besides the message itself."""

    helo: str = "localhost"
    credentials: Credentials | None = None
    # PLAIN/LOGIN over an unencrypted connection to another machine (a profile's
    # allow_plain_auth_without_tls); loopback is always allowed.
    allow_cleartext_auth: bool = False
    # STARTTLS when the server offers it (direct delivery to an MX, RFC 3207).
    opportunistic_tls: bool = False
    pipelining: bool = True  # use PIPELINING when offered


@dataclass(frozen=True)
class Failure:
    """Why a transaction stopped before the message was accepted."""

    stage: Stage
    reason: str  # one line, for people
    reply: Reply | None = None

    @property
    def temporary(self) -> bool:
        """A 4xx reply: trying again later may succeed (sendmail's EX_TEMPFAIL)."""
        return self.reply is not None and self.reply.code // 100 == 4


@dataclass(frozen=True)
class RecipientOutcome:
    address: str
    reply: Reply | None = None  # None: never asked, the transaction stopped before

    @property
    def accepted(self) -> bool:
        return self.reply is not None and self.reply.code // 100 == 2


@dataclass
class Delivery:
    """One transaction with one server, for some of the message's recipients."""

    recipients: list[RecipientOutcome]
    server: str = ""  # "host [address]:port", once connected
    domain: str | None = None  # the recipient domain, for direct delivery
    tls: str | None = None  # the TLS version in use, None in plain text
    tls_verified: bool = False  # the certificate was verified for the server's name
    message_reply: Reply | None = None
    failure: Failure | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def delivered(self) -> list[str]:
        """The recipients that got the message."""
        if self.message_reply is None or self.message_reply.code // 100 != 2:
            return []
        return [outcome.address for outcome in self.recipients if outcome.accepted]

    @property
    def queue_id(self) -> str | None:
        if self.message_reply is None:
            return None
        found = _QUEUE_ID.search(self.message_reply.text)
        return found.group(1) if found else None


class _Stop(SmtpShellError):
    """Ends a transaction early with its failure; ``close`` when the conversation is
    out of step and the connection must end without another word."""

    def __init__(self, failure: Failure, close: bool = False) -> None:
        super().__init__(failure.reason)
        self.failure = failure
        self.close = close


def _in_step(what: str, reply: Reply) -> Reply:
    """``reply``, when it is one ``what`` may get (``_MAY_GET``); else stop and close."""
    if reply.code // 100 not in _MAY_GET[what]:
        text = " ".join(reply.lines)
        reason = (
            f"the server answered {what} with {reply.code} {text}, which is no answer to "
            "it (replies out of step); connection closed, the message not sent"
        )
        raise _Stop(Failure(Stage.CONNECT, reason, reply), close=True)
    return reply


def _refused(stage: Stage, what: str, reply: Reply) -> _Stop:
    text = " ".join(reply.lines)
    return _Stop(Failure(stage, f"{what} refused: {reply.code} {text}", reply))


async def run_transaction(
    session: Session,
    message: Message,
    delivery: Delivery,
    policy: Policy,
    progress: Callable[[int], None] | None = None,
) -> Delivery:
    """Run the transaction for ``delivery``'s recipients on ``session``, which has
    been greeted; fill in ``delivery`` and return it. The session is closed after."""
    started = time.perf_counter()
    try:
        await _transact(session, message, delivery, policy, progress)
    except _Stop as stop:
        delivery.failure = stop.failure
        if stop.close:
            await session.close("replies out of step")
    except TlsError as exc:
        delivery.failure = Failure(Stage.STARTTLS, str(exc))
    except (NetworkError, SmtpTimeout, ProtocolError) as exc:
        # A reply too long or malformed: the session has closed the connection.
        delivery.failure = Failure(Stage.CONNECT, str(exc))
    except MessageChanged as exc:
        # Part of the message may be out: the connection closes without its "." (in
        # _quit below), so the server discards it. An outcome, not an exception: the
        # other domains' deliveries go on, and --json still reports.
        delivery.failure = Failure(Stage.LOCAL, str(exc))
    finally:
        delivery.timings["transaction"] = time.perf_counter() - started
        await _quit(session)
    return delivery


async def _transact(
    session: Session,
    message: Message,
    delivery: Delivery,
    policy: Policy,
    progress: Callable[[int], None] | None,
) -> None:
    capabilities = await _hello(session, policy)
    offered_tls = capabilities is not None and capabilities.has("STARTTLS")
    if policy.opportunistic_tls and session.tls is None and offered_tls:
        await _ask(session, "STARTTLS", Stage.STARTTLS)
        capabilities = await _hello(session, policy)
    if session.tls is not None:
        delivery.tls = session.tls.version
        delivery.tls_verified = session.tls.verified
    if policy.credentials is not None:
        await _login(session, delivery, capabilities, policy)
    _check_fit(message, capabilities)
    if not await _envelope(session, message, delivery, capabilities, policy):
        return
    counted = _counting(message.chunks(), progress) if progress else message.chunks()
    reply = _in_step("the message", await session.send_message(counted))
    delivery.message_reply = reply
    if reply.code // 100 != 2:
        raise _refused(Stage.MESSAGE, "the message was", reply)


async def _ask(session: Session, line: str, stage: Stage) -> Reply:
    """Send one command, wait, and stop on anything but a 2xx or 3xx."""
    reply = await session.send(line, Origin.AUTO)
    if not reply.is_positive:
        raise _refused(stage, line.split(" ", 1)[0], reply)
    return reply


async def _hello(session: Session, policy: Policy) -> Capabilities | None:
    """EHLO, or HELO from a server that does not know EHLO (RFC 5321 3.2); the
    capabilities, or None after HELO. A session opened with --starttls has sent
    its EHLO already."""
    if session.capabilities is not None:
        return session.capabilities
    reply = await session.send(f"EHLO {policy.helo}", Origin.AUTO)
    if reply.code == 250:
        return session.capabilities
    if reply.code in (500, 502):  # EHLO unknown: an old server
        await _ask(session, f"HELO {policy.helo}", Stage.HELO)
        return None
    raise _refused(Stage.HELO, "EHLO", reply)


async def _login(
    session: Session, delivery: Delivery, capabilities: Capabilities | None, policy: Policy
) -> None:
    credentials = policy.credentials
    assert credentials is not None
    if capabilities is None:
        raise _Stop(Failure(Stage.AUTH, "the server does not know EHLO, so it offers no AUTH"))
    offered = capabilities.auth_mechanisms
    safe = session.tls is not None or session.on_loopback or policy.allow_cleartext_auth
    usable = tuple(m for m in offered if safe or m.upper() not in CLEARTEXT_MECHANISMS)
    if credentials.mechanism is not None:
        wanted = credentials.mechanism.upper()
        mechanism: str | None = wanted if wanted in {m.upper() for m in usable} else None
    else:
        mechanism = choose_mechanism(usable)
    if mechanism is None:
        raise _Stop(Failure(Stage.AUTH, _no_mechanism(offered, usable, capabilities, safe)))
    try:
        await authenticate(session, mechanism, credentials.user, credentials.password)
    except AuthRejected as exc:
        reply = Reply(exc.code, tuple(exc.text.splitlines()) or ("",))
        raise _Stop(Failure(Stage.AUTH, str(exc), reply)) from None
    except AuthError as exc:
        raise _Stop(Failure(Stage.AUTH, str(exc))) from None


def _no_mechanism(
    offered: tuple[str, ...], usable: tuple[str, ...], capabilities: Capabilities, safe: bool
) -> str:
    if not offered:
        hint = " before TLS (use --starttls)" if capabilities.has("STARTTLS") else ""
        return f"the server does not offer AUTH{hint}"
    if not safe and not usable:
        return (
            f"the server offers only {' '.join(offered)} over plain text, which would send "
            "the password readable on the network: use --starttls or --tls (or allow it in "
            "the profile with allow_plain_auth_without_tls)"
        )
    known = ", ".join(SUPPORTED_MECHANISMS)
    return f"the server offers {' '.join(offered)}; smtpshell can run {known}"


def _check_fit(message: Message, capabilities: Capabilities | None) -> None:
    """What the server must support for this message, checked before MAIL."""
    has = capabilities.has if capabilities is not None else (lambda _: False)
    limit = capabilities.size_limit if capabilities is not None else None
    if limit and message.size > limit:
        raise _Stop(
            Failure(
                Stage.MAIL,
                f"the message is {message.size} bytes; the server takes at most {limit} "
                "(SIZE, RFC 1870)",
            )
        )
    if message.needs_smtputf8 and not has("SMTPUTF8"):
        raise _Stop(
            Failure(
                Stage.MAIL,
                "an address holds non-ASCII characters, and the server does not offer "
                "SMTPUTF8 (RFC 6531): it cannot take this message",
            )
        )
    if message.needs_8bitmime and not has("8BITMIME"):
        raise _Stop(
            Failure(
                Stage.MAIL,
                "the message holds 8-bit data and the server does not offer 8BITMIME "
                "(RFC 6152): encode it (base64 or quoted-printable) first",
            )
        )


def _mail_command(message: Message, capabilities: Capabilities | None) -> str:
    params = []
    if capabilities is not None and capabilities.has("SIZE"):
        params.append(f"SIZE={message.size}")
    if message.needs_8bitmime:
        params.append("BODY=8BITMIME")
    if message.needs_smtputf8:
        params.append("SMTPUTF8")
    return " ".join([f"MAIL FROM:<{message.sender}>", *params])


async def _envelope(
    session: Session,
    message: Message,
    delivery: Delivery,
    capabilities: Capabilities | None,
    policy: Policy,
) -> bool:
    """MAIL, RCPT for each recipient, DATA; True when the message text may follow."""
    mail = _mail_command(message, capabilities)
    rcpts = [f"RCPT TO:<{outcome.address}>" for outcome in delivery.recipients]
    pipelined = policy.pipelining and capabilities is not None and capabilities.has("PIPELINING")
    if pipelined:
        futures = [session.send_nowait(line, Origin.AUTO) for line in (mail, *rcpts, "DATA")]
        replies = await _group_replies(session, futures)
        # Checked in the order sent: the first reply out of step names the culprit.
        mail_reply = _in_step("MAIL FROM", replies[0])
        _record_recipients(delivery, [_in_step("RCPT TO", r) for r in replies[1:-1]])
        data_reply = _in_step("DATA", replies[-1])
    else:
        mail_reply = _in_step("MAIL FROM", await session.send(mail, Origin.AUTO))
        if not mail_reply.is_positive:
            raise _refused(Stage.MAIL, "MAIL FROM", mail_reply)
        replies = []
        for line in rcpts:
            replies.append(_in_step("RCPT TO", await session.send(line, Origin.AUTO)))
        _record_recipients(delivery, replies)
        if not any(outcome.accepted for outcome in delivery.recipients):
            raise _all_refused(delivery)
        data_reply = _in_step("DATA", await session.send("DATA", Origin.AUTO))
    if not mail_reply.is_positive:
        if data_reply.code == 354:
            await session.end_data(Origin.AUTO)
        raise _refused(Stage.MAIL, "MAIL FROM", mail_reply)
    if not any(outcome.accepted for outcome in delivery.recipients):
        if data_reply.code == 354:
            # RFC 2920 3.1: DATA accepted with no recipient: send no text, only ".".
            await session.end_data(Origin.AUTO)
        raise _all_refused(delivery)
    if data_reply.code != 354:
        raise _refused(Stage.DATA, "DATA", data_reply)
    return True


async def _group_replies(session: Session, futures: list[asyncio.Future[Reply]]) -> list[Reply]:
    """The replies to a pipelined MAIL, RCPT... DATA group, in order.

    RFC 5321 3.8: a server may answer 421 and close at once, leaving the rest of
    the group unanswered. That is the server saying "later" (75), not a connection
    lost (3): the 421 is reported at the command it answered.
    """
    replies: list[Reply] = []
    try:
        for future in futures:
            replies.append(await session.wait_reply(future))
    except NetworkError:
        if not replies or replies[-1].code != 421:
            raise
        answered = len(replies) - 1  # MAIL, the RCPTs, then DATA
        if answered == 0:
            raise _refused(Stage.MAIL, "MAIL FROM", replies[-1]) from None
        if answered == len(futures) - 1:
            raise _refused(Stage.DATA, "DATA", replies[-1]) from None
        raise _refused(Stage.RCPT, "RCPT TO", replies[-1]) from None
    return replies


def _record_recipients(delivery: Delivery, replies: list[Reply]) -> None:
    delivery.recipients = [
        RecipientOutcome(outcome.address, reply)
        for outcome, reply in zip(delivery.recipients, replies, strict=True)
    ]


def _all_refused(delivery: Delivery) -> _Stop:
    first = next(o for o in delivery.recipients if o.reply is not None)
    assert first.reply is not None
    count = len(delivery.recipients)
    what = "the recipient was" if count == 1 else f"all {count} recipients were"
    text = " ".join(first.reply.lines)
    return _Stop(Failure(Stage.RCPT, f"{what} refused: {first.reply.code} {text}", first.reply))


def _counting(chunks: Iterator[bytes], progress: Callable[[int], None]) -> Iterator[bytes]:
    for chunk in chunks:
        yield chunk
        progress(len(chunk))


async def _quit(session: Session) -> None:
    """QUIT politely when the connection is still up, then close."""
    if session.connected and not session.in_data:
        with contextlib.suppress(SmtpShellError):  # the server left first: fine
            await session.send("QUIT", Origin.AUTO)
    await session.close()
