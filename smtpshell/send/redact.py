"""The password kept out of everything ``smtpshell send`` shows or writes, even when
the server itself puts it there.

The session never lets a credential we send reach an event (``protocol/secrets.py``).
A hostile or careless server can still echo it back: ``535 bad password hunter2``,
or the base64 of our AUTH PLAIN or LOGIN response. That text would then go to the
terminal (``-v`` and the summary), into ``--json`` and into a ``--record``
transcript. :class:`Redactor` replaces every form of the password we sent (as typed,
as shown by ``inert``, and the base64 of each AUTH response that carries it) with a
mask, at each of those sinks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from smtpshell.core.events import Closed, Event, Listener, Notice, Received
from smtpshell.protocol.auth import b64encode_text, plain_response
from smtpshell.protocol.inert import inert

MASK = "********"  # the width of the password is not told either


class Redactor:
    """Replaces the forms of a password in text, events and JSON documents."""

    def __init__(self, user: str = "", password: str = "") -> None:
        forms: set[str] = set()
        if password:
            forms |= {
                password,
                inert(password),
                b64encode_text(password),  # AUTH LOGIN's second response
                plain_response(user, password),  # AUTH PLAIN's
            }
        # Longest first: a base64 form holds no shorter form, but the password may
        # hold its own inert form's prefix.
        self._forms = sorted(forms, key=len, reverse=True)

    def text(self, text: str) -> str:
        for form in self._forms:
            text = text.replace(form, MASK)
        return text

    def lines(self, lines: Iterable[str]) -> tuple[str, ...]:
        return tuple(self.text(line) for line in lines)

    def event(self, event: Event) -> Event:
        if not self._forms:
            return event
        if isinstance(event, Received):
            reply = dataclasses.replace(event.reply, lines=self.lines(event.reply.lines))
            return dataclasses.replace(event, reply=reply)
        if isinstance(event, Notice):
            return dataclasses.replace(event, text=self.text(event.text))
        if isinstance(event, Closed):
            return dataclasses.replace(event, reason=self.text(event.reason))
        return event

    def listener(self, listener: Listener) -> Listener:
        """``listener``, given events with the password masked."""
        if not self._forms:
            return listener

        def redacted(event: Event) -> None:
            listener(self.event(event))

        # The session names a failing listener by its qualified name.
        redacted.__qualname__ = getattr(listener, "__qualname__", type(listener).__name__)
        return redacted

    def document(self, value: Any) -> Any:
        """A JSON-ready value with every string in it redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {key: self.document(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.document(item) for item in value]
        return value
