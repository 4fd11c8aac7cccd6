"""A console for output that shows no colour: a pipe, a file, or ``NO_COLOR``.

It writes text as the colourless rich console would, without importing rich
(tens of milliseconds at start) or rendering each line through it (over a hundred
microseconds a line). Tables and other renderables (``caps``, ``tls``, ``?``,
``mx``) still need rich to lay them out: a colourless rich console on the same
stream is made for them on first use, so they look as they always did.
"""

from __future__ import annotations

import os
from typing import IO, TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rich.console import Console

# What rich removes from any text it prints (rich.control.STRIP_CONTROL_CODES): BEL,
# BS, VT, FF and CR. Text from the network is inert before it gets here; this keeps
# our own lines the same on either console.
_STRIPPED = dict.fromkeys((0x07, 0x08, 0x0B, 0x0C, 0x0D))
TAB_SIZE = 8  # rich's default
_ZERO_WIDTH = frozenset({"Mn", "Me", "Cf"})  # combining marks, format characters


class Printer(Protocol):
    """What lines are printed on: rich's ``Console`` or a :class:`PlainConsole`."""

    @property
    def file(self) -> IO[str]:
        """The stream written to."""
        ...

    def print(self, *objects: object, style: str | None = None) -> None: ...


def make_printer(stream: IO[str], colour: bool) -> Printer:
    """Where a program's lines go: rich's console when they are coloured, else a
    :class:`PlainConsole`, which writes the same characters without importing rich."""
    if not colour:
        return PlainConsole(stream)
    from smtpshell.render.theme import make_console

    return make_console(stream, colour=True)


class PlainConsole:
    """The part of rich's ``Console`` the shell uses: ``print(text, style=NAME)``.

    Styles are accepted and ignored; each call is written and flushed at once, as
    rich does, so that stdout and stderr stay in order. A reader that went away
    (``smtpshell ... | head -1``) ends the program as it does with rich: status 1,
    no traceback.
    """

    def __init__(self, file: IO[str]) -> None:
        self.file = file
        self._rich: Console | None = None
        self._gone = False  # the reader went away: print nothing more

    def print(
        self,
        *objects: object,
        style: str | None = None,
        markup: bool | None = None,
        highlight: bool | None = None,
        end: str = "\n",
    ) -> None:
        if self._gone:
            return
        if not all(isinstance(item, str) for item in objects):
            self._rich_console().print(*objects, style=style, end=end)
            return
        text = " ".join(str(item) for item in objects).translate(_STRIPPED)
        if "\t" in text:
            text = "\n".join(expand_tabs(line) for line in text.split("\n"))
        try:
            self.file.write(text + end)
            self.file.flush()
        except BrokenPipeError:
            self._reader_gone()

    def _reader_gone(self) -> None:
        """What rich's ``Console.on_broken_pipe`` does: what is still buffered goes
        to /dev/null (so that flushing at exit fails no more), and the program ends."""
        self._gone = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self.file.fileno())
        finally:
            os.close(devnull)
        raise SystemExit(1)

    def _rich_console(self) -> Console:
        if self._rich is None:
            from smtpshell.render.theme import make_console

            self._rich = make_console(self.file, colour=False)
        return self._rich


def expand_tabs(line: str, tab_size: int = TAB_SIZE) -> str:
    """Tabs as spaces to the next stop, counting a wide character as two columns
    and a combining or format character (a zero-width space) as none, as rich does."""
    out: list[str] = []
    column = 0
    for char in line:
        if char == "\t":
            spaces = tab_size - column % tab_size
            out.append(" " * spaces)
            column += spaces
            continue
        out.append(char)
        column += _cells(char)
    return "".join(out)


def _cells(char: str) -> int:
    import unicodedata  # rarely needed: only a line with a tab gets here

    if unicodedata.category(char) in _ZERO_WIDTH and char != "\xad":  # soft hyphen shows
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
