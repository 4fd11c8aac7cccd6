"""Writing transcripts (for the recorder): text that parses back to exactly what was sent.

Every escape here undoes one rule of the parser: ``#`` after white space would start
a comment, ``${`` would be a variable, a leading ``.``/``...`` would end a body or be
a placeholder, and a note starting with ``~``, ``=`` or ``/`` would be a pattern.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from smtpshell.transcript.directive import ConnectDirective, format_directive
from smtpshell.transcript.model import template_parts
from smtpshell.transcript.patterns import SERVER_LINE

_LEADING_DOTS = re.compile(r"\\+\.")
_LEADING_MARKER = re.compile(r"^(\s*)(\\*[~=/])")
# A '#' at the start, after white space or after a backslash (str.isspace and \s agree).
_COMMENT_HASH = re.compile(r"(?<![^\s\\])#")
_SPECIAL_DOLLAR = re.compile(r"\$(?=\{)|(?<=\\)\$")


def _escape_hashes(line: str) -> str:
    """Escape each '#' the parser would read as a comment or as part of '\\#'."""
    return _COMMENT_HASH.sub(r"\\#", line) if "#" in line else line


def _escape_dollars(text: str) -> str:
    """Escape '$' before '{' (a variable) and after '\\' (else '\\$' reads as '$')."""
    return _SPECIAL_DOLLAR.sub(r"\\$", text) if "$" in text else text


def _one_line(text: str, what: str) -> None:
    if "\r" in text or "\n" in text:
        raise ValueError(f"a {what} cannot contain CR or LF: {text!r}")


def escape_client(text: str, in_body: bool = False) -> str:
    """The text after '> ' that makes the parser send ``text``."""
    _one_line(text, "client line")
    special = {"...", "."} if in_body else {"..."}
    if text.rstrip() in special or _LEADING_DOTS.match(text):
        text = "\\" + text
    return _escape_hashes("> " + _escape_dollars(text))[2:]


def escape_server(line: str) -> str:
    """A received reply line written so that it parses back as a note with that text."""
    _one_line(line, "server line")
    match = SERVER_LINE.match(line)
    if match is None:
        raise ValueError(f"not a reply line (a three-digit code and ' ' or '-'): {line!r}")
    text = _LEADING_MARKER.sub(r"\1\\\2", line[match.end() :], count=1)
    return _escape_hashes(line[: match.end()] + text)


class TranscriptWriter:
    """Builds a transcript line by line; :meth:`text` returns it, :meth:`take` the
    lines written since it was last called (a recorder appends those to its file).

    :meth:`client`, :meth:`data` and :meth:`server` escape whatever the parser would
    read specially, so parsing gives back exactly the text passed, a literal ``${X}``
    included. To write a variable instead of a recorded AUTH payload, use
    :meth:`client_template` with ``"${AUTH_USER}"``.
    """

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._taken = 0  # lines already handed out by take()
        self._protocol = False  # a client or server line has been written

    def header(self, comment_lines: Iterable[str]) -> None:
        """Comment lines at the top: what was recorded, when, how to replay."""
        for line in comment_lines:
            self.comment(line)

    def comment(self, text: str) -> None:
        """A whole-line comment; line breaks in ``text`` make several."""
        for part in text.splitlines() or [""]:
            self._lines.append(f"# {part}".rstrip())

    def directive(self, directive: ConnectDirective, another: bool = False) -> None:
        """The connect directive; it must be the first client or server line, unless
        ``another``: then it starts another connection (after a reconnect)."""
        if self._protocol and not another:
            raise ValueError("the connect directive must come before other lines")
        self._emit("> " + escape_client(format_directive(directive)), None)

    def client(self, text: str, comment: str | None = None) -> None:
        """A command, an AUTH response, or the '.' that ends a message body."""
        self._emit("> " + escape_client(text), comment)

    def client_template(self, template: str, comment: str | None = None) -> None:
        """A client line written as is, so ``${AUTH_USER}`` stays a variable."""
        _one_line(template, "client line")
        template_parts(template)  # a malformed ${...} raises ValueError now, not at replay
        self._emit("> " + template, comment)

    def data(self, text: str, comment: str | None = None) -> None:
        """One line of a message body, not dot-stuffed (the replayer stuffs it)."""
        self._emit("> " + escape_client(text, in_body=True), comment)

    def server(self, line: str, comment: str | None = None) -> None:
        """One reply line as received, such as ``250-PIPELINING``; written as a note."""
        self._emit(escape_server(line), comment)

    def _emit(self, line: str, comment: str | None) -> None:
        self._protocol = True
        line = ">" if line == "> " else line
        if comment is None:
            self._lines.append(line)
            return
        comment = " ".join(comment.splitlines())
        if line[-1:].isspace():
            # The parser drops white space before a trailing comment; keep it significant
            # by putting the comment on a line of its own.
            self.comment(comment)
            self._lines.append(line)
        else:
            self._lines.append(f"{line} # {comment}".rstrip())

    def text(self) -> str:
        return "".join(line + "\n" for line in self._lines)

    def take(self) -> str:
        """The lines written since the last call, each ending in a line feed.

        Each line is rendered once, so a recording grows in time proportional to
        what is added, however long the session already is.
        """
        new = self._lines[self._taken :]
        self._taken = len(self._lines)
        return "".join(line + "\n" for line in new)
