"""Local commands: the rule that tells them from SMTP, and the registry behind help.

The rule: a line whose first word (any case) names a local command runs locally;
every other line goes to the server as typed. No local command is named like an SMTP
verb (a test checks this against the verb list), so HELP, AUTH and DATA always reach
the server. A leading backslash sends the rest of the line as typed: ``\\mx`` sends "mx".
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smtpshell.shell.app import Shell

Handler = Callable[["Shell", str], Awaitable[None]]


@dataclass(frozen=True)
class LocalCommand:
    name: str
    usage: str
    handler: Handler
    aliases: tuple[str, ...] = ()
    secret_args: bool = False  # arguments masked while typed and kept out of history

    @property
    def summary(self) -> str:
        doc = inspect.getdoc(self.handler) or ""
        return doc.splitlines()[0] if doc else ""

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


class Registry:
    def __init__(self) -> None:
        self._commands: dict[str, LocalCommand] = {}
        self._ordered: list[LocalCommand] = []

    def command(
        self,
        name: str,
        usage: str = "",
        aliases: tuple[str, ...] = (),
        secret_args: bool = False,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            entry = LocalCommand(name, usage, handler, aliases, secret_args)
            for key in entry.names:
                if key in self._commands:
                    raise ValueError(f"local command {key!r} registered twice")
                self._commands[key] = entry
            self._ordered.append(entry)
            return handler

        return register

    def match(self, line: str) -> tuple[LocalCommand, str] | None:
        """The local command a line invokes and the rest of the line, or None.

        Only the space after the command word is dropped: ``b64`` encodes the rest
        exactly as typed, leading and trailing spaces included.
        """
        word, _, rest = line.lstrip().partition(" ")
        entry = self._commands.get(word.lower())
        return (entry, rest) if entry else None

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._ordered)

    def names(self) -> list[str]:
        return sorted(self._commands)


REGISTRY = Registry()

_AUTH_WITH_RESPONSE = re.compile(r"\s*auth\s+\S+\s+", re.IGNORECASE)


def secret_start(text: str) -> int | None:
    """Index where the secret part of a line begins, or None: the initial response
    of an AUTH line (RFC 4954 4), or the arguments of a command such as ``b64``."""
    match = _AUTH_WITH_RESPONSE.match(text)
    if match:
        return match.end()
    found = REGISTRY.match(text)
    if found is None or not found[0].secret_args or not found[1]:
        return None
    return len(text) - len(found[1])
