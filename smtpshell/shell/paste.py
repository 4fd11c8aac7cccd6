"""A paste is sent as pasted: one line per line, nothing added, no Enter needed.

A terminal delivers a paste as one event (bracketed paste). Its first line joins
what is already typed and is accepted at once; the other complete lines wait here,
and the shell shows each at a prompt, as if typed, before it sends it, so each
reply comes under the line it answers. A last line without a line ending is left
at the next prompt, to edit and send with Enter.

Lines that answer an AUTH challenge, by the registry's rule for a block (the lines
after an AUTH line), are shown masked; a last line left to edit that is one is
typed as a secret.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

    from smtpshell.shell.registry import Registry

MASK = "********"


@dataclass
class PastedLines:
    """What a paste left to do after its first line."""

    # The complete lines after the first, each with where its secret part starts.
    waiting: list[tuple[str, int | None]] = field(default_factory=list)
    tail: str = ""  # the last line, without a line ending: left at the next prompt
    tail_secret: bool = False
    accepting: bool = False  # the line being accepted came from a paste

    def take(self) -> list[tuple[str, int | None]]:
        waiting, self.waiting = self.waiting, []
        return waiting

    def take_tail(self) -> tuple[str, bool]:
        tail, secret = self.tail, self.tail_secret
        self.tail, self.tail_secret = "", False
        return tail, secret


def masked(line: str, secret_start: int | None) -> str:
    """A line as shown: from where its secret starts, ``********`` (no length told)."""
    return line if secret_start is None else line[:secret_start] + MASK


def paste_bindings(
    pasted: PastedLines,
    registry: Registry,
    typing_secret: Callable[[], bool],
    in_data: Callable[[], bool],
) -> KeyBindings:
    # Here, not at the top: a piped session never loads prompt_toolkit.
    from prompt_toolkit.key_binding import KeyBindings
    from prompt_toolkit.keys import Keys

    bindings = KeyBindings()

    @bindings.add(Keys.BracketedPaste)
    def _paste(event: KeyPressEvent) -> None:
        data = event.data.replace("\r\n", "\n").replace("\r", "\n")
        buffer = event.current_buffer
        if "\n" not in data:
            buffer.insert_text(data)
            return
        first, *rest = data.split("\n")
        buffer.insert_text(first)
        lines = [buffer.text, *rest]
        # In DATA every line is message text (RFC 5321 4.1.1.4), never a credential.
        starts = (
            [None] * len(lines) if in_data() else registry.secret_starts(lines, typing_secret())
        )
        pasted.waiting = list(zip(rest[:-1], starts[1:-1], strict=True))
        pasted.tail = rest[-1]
        pasted.tail_secret = bool(pasted.tail) and starts[-1] is not None
        pasted.accepting = True
        try:
            buffer.validate_and_handle()
        finally:
            pasted.accepting = False

    return bindings
