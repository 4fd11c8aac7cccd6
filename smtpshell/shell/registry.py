"""Local commands: the rule that tells them from SMTP, the help, the secret rule.

The rule: a line whose first word (any case) names a local command runs locally;
every other line goes to the server as typed. No local command is named like an SMTP
verb (a test checks this against the verb list), so HELP, AUTH and DATA always reach
the server. A leading backslash sends the rest of the line as typed: ``\\mx`` sends "mx".
A first word one typing slip from a local command's name (and no SMTP verb) is taken
for a mistake, not for SMTP: ``b46 secret`` must not reach the server.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from smtpshell.protocol import secrets
from smtpshell.protocol.commands import SMTP_VERBS, verb_of

if TYPE_CHECKING:
    from smtpshell.shell.context import CommandContext

Handler = Callable[["CommandContext", str], Awaitable[None]]


@dataclass(frozen=True)
class LocalCommand:
    name: str
    handler: Handler
    usage: str = ""
    aliases: tuple[str, ...] = ()
    secret_args: bool = False  # arguments masked while typed and kept out of history
    # It may ask for a secret: keys typed ahead while it runs are thrown away.
    asks_secret: bool = False

    @property
    def summary(self) -> str:
        doc = inspect.getdoc(self.handler) or ""
        return doc.splitlines()[0] if doc else ""

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    @property
    def help_row(self) -> tuple[str, str]:
        """(usage, summary), as ``?`` shows them."""
        return self.usage or self.name, self.summary


class Registry:
    """The local commands of one shell, in the order ``?`` lists them."""

    def __init__(self, commands: Iterable[LocalCommand]) -> None:
        self._ordered = tuple(commands)
        self._by_name: dict[str, LocalCommand] = {}
        for command in self._ordered:
            for name in command.names:
                if name in self._by_name:
                    raise ValueError(f"local command {name!r} declared twice")
                self._by_name[name] = command

    def __iter__(self) -> Iterator[LocalCommand]:
        return iter(self._ordered)

    def names(self) -> list[str]:
        """Every name and alias, sorted (for completion)."""
        return sorted(self._by_name)

    def match(self, line: str) -> tuple[LocalCommand, str] | None:
        """The local command a line invokes and the rest of the line, or None.

        Only the space after the command word is dropped: ``b64`` encodes the rest
        exactly as typed, leading and trailing spaces included.
        """
        word, _, rest = line.lstrip().partition(" ")
        command = self._by_name.get(word.lower())
        return (command, rest) if command else None

    def near_miss(self, line: str) -> tuple[str, LocalCommand] | None:
        """The local command (name, command) a line's first word looks like a slip
        of the keyboard for: one letter added, dropped, changed, or two swapped.

        Never for an SMTP verb, a local command, or a line begun with a backslash
        (it is sent as typed), and never for a one-letter word or name.
        """
        word = line.lstrip().partition(" ")[0].lower()
        if len(word) < 2 or word in self._by_name or line.startswith("\\"):
            return None
        if verb_of(line) in SMTP_VERBS:
            return None
        for name in sorted(self._by_name):
            if len(name) >= 2 and _one_edit_apart(word, name):
                return name, self._by_name[name]
        return None

    def secret_start(self, line: str, auth_pending: bool = False) -> int | None:
        """Where the secret part of a typed line begins, or None.

        The credentials of an AUTH exchange, by protocol's one rule (RFC 4954 4),
        and the arguments of a local command such as ``b64 TEXT``. While a 334 is
        pending the line is an AUTH response, never a local command.
        """
        start = secrets.secret_start(line, auth_pending)
        if start is not None or auth_pending:
            return start
        found = self.match(line)
        if found is None and (slip := self.near_miss(line)) is not None:
            # Refused, not run; but what was meant for b64 is as secret as b64's.
            found = slip[1], line.lstrip().partition(" ")[2]
        if found is None or not found[0].secret_args or not found[1]:
            return None
        return len(line) - len(found[1])

    def secret_starts(self, lines: list[str], auth_pending: bool = False) -> list[int | None]:
        """:meth:`secret_start` for each line of a pasted block, in order.

        Lines after an ``AUTH`` line answer its challenges (RFC 4954 4) before any
        334 has arrived: they are secret until the block cancels the exchange
        (``*``) or goes on with an SMTP command.
        """
        starts: list[int | None] = []
        for line in lines:
            if auth_pending and (line.strip() == secrets.CANCEL or _is_command(line)):
                auth_pending = False
            starts.append(self.secret_start(line, auth_pending))
            if not auth_pending and verb_of(line.removeprefix("\\")) == "AUTH":
                auth_pending = True
        return starts

    def help_rows(self) -> list[tuple[str, str]]:
        return [command.help_row for command in self]

    def help_for(self, line: str) -> tuple[str, str] | None:
        found = self.match(line)
        return found[0].help_row if found else None


def asks_for_help(rest: str) -> bool:
    """Whether a local command's arguments are only ``-h`` or ``--help``."""
    return rest.strip() in ("-h", "--help")


def _one_edit_apart(typed: str, name: str) -> bool:
    """One insertion, deletion, substitution or swap of neighbours (Damerau)."""
    if typed == name or abs(len(typed) - len(name)) > 1:
        return False
    if len(typed) != len(name):
        short, long = sorted((typed, name), key=len)
        return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))
    differ = [i for i, (a, b) in enumerate(zip(typed, name, strict=True)) if a != b]
    if len(differ) == 1:
        return True
    first, second = differ if len(differ) == 2 else (0, 0)
    return second == first + 1 and (typed[first], typed[second]) == (name[second], name[first])


def _is_command(line: str) -> bool:
    """Whether a line starts with an SMTP verb, so it is no longer an AUTH answer."""
    return verb_of(line.removeprefix("\\")) in SMTP_VERBS
