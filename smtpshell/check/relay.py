"""The opt-in open relay test (``--relay-test``): MAIL and RCPT, never DATA.

An exchanger should take mail for its own domains only, unless the client has
authenticated (RFC 5321 3.6.2, RFC 2505 2.1): accepting a recipient at an outside
domain from an anonymous client makes it an open relay. The test names domains
reserved for examples (RFC 2606), so nothing could be delivered even by mistake,
and it stops at RCPT: no message is ever sent.
"""

from __future__ import annotations

from smtpshell.check.model import Finding, Status
from smtpshell.core.events import Origin
from smtpshell.core.session import Session
from smtpshell.errors import SmtpShellError

SENDER = "relay-test@example.org"
RECIPIENT = "relay-test@example.net"
_RFC = "RFC 5321 3.6.2"


async def relay_finding(session: Session) -> Finding:
    """Whether the server accepts an outside recipient from an anonymous sender."""
    try:
        mail = await session.send(f"MAIL FROM:<{SENDER}>", Origin.AUTO)
        if mail.code // 100 != 2:
            summary = f"relay test: MAIL FROM refused ({mail.code}), so RCPT was not tried"
            return Finding("relay", Status.INFO, summary, _RFC, {"mail": mail.code})
        rcpt = await session.send(f"RCPT TO:<{RECIPIENT}>", Origin.AUTO)
        await session.send("RSET", Origin.AUTO)
    except SmtpShellError as exc:
        return Finding("relay", Status.INFO, f"relay test not finished: {exc}", _RFC)
    details = {"sender": SENDER, "recipient": RECIPIENT, "rcpt": rcpt.code}
    first = rcpt.lines[0] if rcpt.lines else ""
    if rcpt.code // 100 == 2:
        summary = f"OPEN RELAY: RCPT TO:<{RECIPIENT}> accepted without AUTH ({rcpt.code} {first})"
        return Finding("relay", Status.FAIL, summary, _RFC, details)
    summary = f"not an open relay: RCPT TO:<{RECIPIENT}> refused ({rcpt.code} {first})"
    return Finding("relay", Status.PASS, summary, _RFC, details)
