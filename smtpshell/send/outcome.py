"""What `smtpshell send` reports: its exit status and its ``--json`` document.

The exit statuses follow the piped shell session's (swaks's numbers for the stage
that failed, 21 to 29) and add what a sender needs to tell apart: some recipients
refused while the others got the message, and a temporary failure worth trying
again later (75, sendmail's EX_TEMPFAIL from sysexits.h, which mail programs that
call a sendmail already understand).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

from smtpshell.protocol.reply import Reply
from smtpshell.send.transaction import Delivery, Failure, Stage

JSON_VERSION = 1


class SendStatus(enum.IntEnum):
    OK = 0  # every recipient accepted the message
    FAILURE = 1  # smtpshell could not do its part (a file, an internal problem)
    USAGE = 2  # the command line or a profile is wrong; nothing was sent
    CONNECTION = 3  # no server reached, or the connection was lost before the end
    PARTIAL = 4  # some recipients got the message, some did not (see --json)
    GREETING = 21  # the server refused us at the greeting (5xx)
    HELO = 22
    MAIL = 23  # the sender refused, or the message does not fit the server
    RCPT = 24  # every recipient refused
    DATA = 25
    MESSAGE = 26  # the message refused after its final "."
    AUTH = 28
    TLS = 29  # STARTTLS refused or not offered when required, certificate not valid
    TEMPORARY = 75  # a 4xx reply stopped delivery: try again later (EX_TEMPFAIL)


_BY_STAGE = {
    Stage.CONNECT: SendStatus.CONNECTION,
    Stage.GREETING: SendStatus.GREETING,
    Stage.HELO: SendStatus.HELO,
    Stage.STARTTLS: SendStatus.TLS,
    Stage.AUTH: SendStatus.AUTH,
    Stage.MAIL: SendStatus.MAIL,
    Stage.RCPT: SendStatus.RCPT,
    Stage.DATA: SendStatus.DATA,
    Stage.MESSAGE: SendStatus.MESSAGE,
    Stage.LOCAL: SendStatus.FAILURE,
}


def failure_status(failure: Failure) -> SendStatus:
    if failure.temporary:
        return SendStatus.TEMPORARY
    return _BY_STAGE[failure.stage]


def exit_status(deliveries: Sequence[Delivery]) -> SendStatus:
    """0 when every recipient got the message; PARTIAL when some did; otherwise what
    stopped the first delivery (in the order the recipients were given)."""
    wanted = sum(len(d.recipients) for d in deliveries)
    got = sum(len(d.delivered) for d in deliveries)
    if wanted and got == wanted:
        return SendStatus.OK
    if got:
        return SendStatus.PARTIAL
    for delivery in deliveries:
        if delivery.failure is not None:
            return failure_status(delivery.failure)
    return SendStatus.FAILURE  # nothing delivered, nothing failed: cannot happen


def _reply(reply: Reply | None) -> dict[str, Any] | None:
    if reply is None:
        return None
    return {"code": reply.code, "enhanced_code": reply.enhanced_code, "text": reply.text}


def report(deliveries: Sequence[Delivery], sender: str, size: int) -> dict[str, Any]:
    """The ``--json`` document. Keys are stable (documented in the README); server
    text is carried as JSON strings, whose escaping keeps control characters inert."""
    status = exit_status(deliveries)
    return {
        "version": JSON_VERSION,
        "status": int(status),
        "outcome": status.name.lower(),
        "sender": sender,
        "size": size,
        "deliveries": [_delivery(d) for d in deliveries],
    }


def _delivery(delivery: Delivery) -> dict[str, Any]:
    delivered = set(delivery.delivered)
    failure = delivery.failure
    return {
        "domain": delivery.domain,
        "server": delivery.server or None,
        "tls": delivery.tls,
        "tls_verified": delivery.tls_verified,
        "recipients": [
            {
                "address": outcome.address,
                "accepted": outcome.address in delivered,
                **(_reply(outcome.reply) or dict.fromkeys(("code", "enhanced_code", "text"))),
            }
            for outcome in delivery.recipients
        ],
        "message": _reply(delivery.message_reply),
        "queue_id": delivery.queue_id,
        "failure": None
        if failure is None
        else {
            "stage": failure.stage.value,
            "reason": failure.reason,
            "temporary": failure.temporary,
            "reply": _reply(failure.reply),
        },
        "timings": {name: round(seconds, 6) for name, seconds in delivery.timings.items()},
    }
