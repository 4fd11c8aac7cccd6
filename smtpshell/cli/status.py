"""Exit statuses, and the one place that turns an exception into what the user sees.

Every command (the shell, ``serve``, ``replay``) lets its errors rise to here: an error
becomes one line on stderr and a status, never a traceback. Anything not listed here is
a bug, and its traceback is the most useful thing to show.

A piped shell session has statuses of its own for commands that got a 4xx or 5xx
reply, 20 to 29 by stage as swaks numbers them: ``smtpshell.shell.batch.ReplyStatus``.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

from smtpshell.errors import HelpRequested, SmtpShellError, UsageError, UsageProblems


class ExitStatus(enum.IntEnum):
    OK = 0
    FAILURE = 1  # could not do what was asked: unreachable host, port in use, a file...
    USAGE = 2  # the command line itself is wrong, as argparse's own exit status
    INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C


# What the command line catches; everything else propagates with its traceback.
EXPECTED = (SmtpShellError, OSError, KeyboardInterrupt)


class Outcome(NamedTuple):
    """What to show and how to exit. (A NamedTuple: ``dataclasses`` would import
    ``inspect`` on every start, ``--version`` included.)"""

    message: str  # the line to show, newline included ("" shows nothing)
    status: ExitStatus
    to_stdout: bool = False  # help text goes to stdout; errors to stderr


def outcome(exc: BaseException, program: str) -> Outcome:
    """The line and exit status for an exception raised by ``program`` ("smtpshell serve").

    ``exc`` must be one of ``EXPECTED``; anything else is raised again.
    """
    if isinstance(exc, HelpRequested):
        return Outcome(exc.text, ExitStatus.OK, to_stdout=True)
    if isinstance(exc, UsageError):
        problems = exc.problems if isinstance(exc, UsageProblems) else [str(exc)]
        return Outcome("".join(f"{program}: error: {p}\n" for p in problems), ExitStatus.USAGE)
    # Before OSError: network errors are SmtpShellErrors and ConnectionErrors both.
    if isinstance(exc, SmtpShellError):
        return Outcome(f"{program}: error: {exc}\n", ExitStatus.FAILURE)
    if isinstance(exc, OSError):
        return Outcome(f"{program}: error: {describe_os_error(exc)}\n", ExitStatus.FAILURE)
    if isinstance(exc, KeyboardInterrupt):
        # The terminal shows ^C without a newline: end that line, add nothing else.
        return Outcome("\n", ExitStatus.INTERRUPTED)
    raise exc


def describe_os_error(exc: OSError) -> str:
    """``PATH: No such file or directory``: the file and the errno's words, one line."""
    words = exc.strerror or str(exc) or type(exc).__name__
    if exc.filename is None:
        return words
    if exc.filename2 is not None:
        return f"{exc.filename} -> {exc.filename2}: {words}"
    return f"{exc.filename}: {words}"
