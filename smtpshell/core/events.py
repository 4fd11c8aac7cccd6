"""What a session reports. The renderer, the transcript recorder and tests all consume
the same stream, which is why the screen and a recording always agree."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from smtpshell.core.tls import TlsInfo
from smtpshell.protocol.endpoint import Endpoint, TlsMode
from smtpshell.protocol.reply import Reply


class Origin(enum.Enum):
    USER = "user"  # typed by the user: already on their screen
    AUTO = "auto"  # sent by smtpshell itself (EHLO/STARTTLS for --starttls, helpers)


@dataclass(frozen=True)
class Connected:
    endpoint: Endpoint
    mode: TlsMode
    peer: str  # the address actually reached, "ip:port"
    tls: TlsInfo | None


@dataclass(frozen=True)
class Sent:
    """A line sent. For a secret, ``public`` is only the part that may be shown."""

    public: str
    secret: bool = False
    origin: Origin = Origin.USER
    in_data: bool = False  # a line of message text (dot-stuffed on the wire)
    end_of_data: bool = False  # the "." that ends the message

    @property
    def display(self) -> str:
        if not self.secret:
            return self.public
        return f"{self.public} ********" if self.public else "********"


@dataclass(frozen=True)
class Received:
    reply: Reply
    answers: str | None  # the verb answered; None when the server spoke unasked
    unsolicited: bool = False


@dataclass(frozen=True)
class TlsStarted:
    info: TlsInfo
    ehlo_follows: bool = False  # the session sends EHLO itself next (--starttls)


@dataclass(frozen=True)
class Notice:
    text: str
    level: str = "info"  # "info", "warning" or "error"


@dataclass(frozen=True)
class Closed:
    reason: str
    by_peer: bool
    failure: bool = False  # closed by us after an error (time-out, bad reply, TLS)


Event = Connected | Sent | Received | TlsStarted | Notice | Closed
Listener = Callable[[Event], None]
