"""What a client knows of its SMTP conversation, without any I/O.

The session tells :class:`SmtpState` what it sends and what the server answers; the
state says what the last EHLO offered, whether message text is expected, whether
an AUTH exchange waits for a response, whether TLS is on, and which replies are
still owed. Replies come in the order of the commands (RFC 5321 4.1, RFC 2920 3.1),
so a queue of verbs is enough to tell which command a reply answers.
"""

from __future__ import annotations

from collections import deque

from smtpshell.protocol.commands import verb_of
from smtpshell.protocol.ehlo import Capabilities, parse_ehlo
from smtpshell.protocol.reply import Reply

# What a reply may answer besides a command verb.
GREETING = "<greeting>"  # the server speaks first (RFC 5321 3.1)
END_DATA = "<end of data>"  # the "." that ends message text (RFC 5321 4.1.1.4)
AUTH_RESPONSE = "<auth response>"  # a line sent while a 334 is pending (RFC 4954 4)


class SmtpState:
    """The SMTP state of one connection, fed with what is sent and what comes back."""

    def __init__(self) -> None:
        self.greeting: Reply | None = None
        # None until an EHLO (or LHLO) succeeds, after HELO, and after TLS starts.
        self.capabilities: Capabilities | None = None
        self.in_data = False  # a 354 came: lines are message text until the end of data
        self.auth_pending = False  # a 334 came: the next line answers the challenge
        self.tls = False
        self.tls_pending = False  # STARTTLS got 220: the handshake is next (RFC 3207 4)
        # STARTTLS was sent and TLS is not on yet: nothing else may be sent (a refusal
        # or a failed handshake ends the connection instead).
        self.tls_requested = False
        self._awaiting: deque[str] = deque()

    @property
    def awaiting(self) -> tuple[str, ...]:
        """What the replies still owed will answer, oldest first."""
        return tuple(self._awaiting)

    def verb_for(self, line: str) -> str:
        """What ``line`` is for reply correlation if it is sent now.

        While a 334 is pending, any line is the response to the challenge (RFC 4954
        4), whatever it looks like: ``AUTH_RESPONSE``. Otherwise the command verb.
        """
        return AUTH_RESPONSE if self.auth_pending else verb_of(line)

    def sent(self, verb: str) -> None:
        """Something that awaits a reply was sent: a command's verb, or ``GREETING``
        (on connecting) or ``END_DATA``."""
        self._awaiting.append(verb)
        if verb == "STARTTLS":
            self.tls_requested = True
        elif verb == END_DATA:
            # The "." is on its way: what comes next is a command again, even if
            # its reply is never waited for (Ctrl-C).
            self.in_data = False

    def replied(self, reply: Reply) -> str | None:
        """Take ``reply`` as the answer to the oldest thing awaiting one.

        Returns what it answers, or None when nothing was awaiting a reply: the
        server spoke unasked (an idle 421 before it closes, RFC 5321 3.8).
        """
        if not self._awaiting:
            return None
        verb = self._awaiting.popleft()
        self._apply(verb, reply)
        return verb

    def _apply(self, verb: str, reply: Reply) -> None:
        if verb == GREETING:
            self.greeting = reply
        elif verb in ("EHLO", "LHLO") and reply.code == 250:
            self.capabilities = parse_ehlo(reply)
        elif verb == "HELO" and reply.code == 250:
            self.capabilities = None  # RFC 5321 4.1.1.1: HELO announces no extensions
        elif verb == "DATA" and reply.code == 354:
            self.in_data = True
        elif verb == END_DATA:
            self.in_data = False
        elif verb == "STARTTLS" and reply.code == 220:
            self.tls_pending = True
        if verb in ("AUTH", AUTH_RESPONSE):
            # RFC 4954 4: a 334 asks for another line; any other reply ends the exchange.
            self.auth_pending = reply.code == 334

    def tls_started(self) -> None:
        """TLS is on. RFC 3207 4.2: everything learned before it is forgotten, so a
        new EHLO is needed."""
        self.tls = True
        self.tls_pending = False
        self.tls_requested = False
        self.capabilities = None

    def closed(self) -> None:
        """The connection is gone: no reply will come, no exchange is under way.

        What was learned (greeting, capabilities, TLS) stays readable.
        """
        self._awaiting.clear()
        self.in_data = False
        self.auth_pending = False
        self.tls_pending = False
        self.tls_requested = False
