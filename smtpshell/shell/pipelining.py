"""Pasted commands go out in groups when the server offers PIPELINING (RFC 2920).

A group is a run of commands sent without waiting: MAIL, RCPT and RSET may be
followed by more (RFC 2920 3.1); any other command ends its group, as its last
(EHLO, DATA, QUIT, NOOP by RFC 2920 3.1; STARTTLS by RFC 3207 4; AUTH by RFC 4954 4,
whose answers wait for their 334). The replies come in order; each pasted line is
shown when the reply before it has been, so replies stay under their lines.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence

from smtpshell.protocol.commands import PIPELINE_MAY_CONTINUE


def group_size(verbs: Iterable[str | None]) -> int:
    """How many of the lines go out as one group: the leading MAIL, RCPT and RSET,
    and the command after them as the last. ``None`` stands for a line that is not
    a command sendable as it is (a local command, a secret, message text): it is
    never in a group. Less than 2 means no group. ``verbs`` is read no further
    than the group's end."""
    size = 0
    for verb in verbs:
        if verb is None:
            break
        size += 1
        if verb not in PIPELINE_MAY_CONTINUE:
            break
    return size


class PipelinedEchoes:
    """The lines of a group not yet on screen, each shown after the reply before it.

    ``replied`` is called for each solicited reply as it is shown; the replies owed
    to commands sent before the group (``skip``) come first and show nothing.
    """

    def __init__(self) -> None:
        self._skip = 0
        self._waiting: deque[Callable[[], None]] = deque()

    def expect(self, skip: int, shows: Sequence[Callable[[], None]]) -> None:
        self.flush()
        self._skip = skip
        self._waiting.extend(shows)

    def replied(self) -> None:
        if not self._waiting:
            return
        if self._skip:
            self._skip -= 1
            return
        self._waiting.popleft()()

    def flush(self) -> None:
        """Show every line still waiting: it was sent, and its reply will not be
        shown under it (the wait was abandoned, or the connection ended)."""
        while self._waiting:
            self._waiting.popleft()()
        self._skip = 0
