"""What a local command may touch: a handler gets a CommandContext, never the Shell.

A handler reads the session, shows what it found, asks the user, connects, records
and leaves; the prompt, the terminal and the event loop stay the shell's business.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from rich.console import RenderableType

    from smtpshell.core.dns import ResolverConfig
    from smtpshell.core.options import ConnectOptions
    from smtpshell.core.session import Session


class CommandHelp(Protocol):
    """What ``?`` reads of the local commands: usage lines and summaries."""

    def help_rows(self) -> list[tuple[str, str]]:
        """(usage, summary) of every command, in the order ``?`` lists them."""
        ...

    def help_for(self, line: str) -> tuple[str, str] | None:
        """(usage, summary) of the command ``line`` names, or None."""
        ...


class CommandContext(Protocol):
    @property
    def session(self) -> Session:
        """The SMTP session, connected or not."""
        ...

    @property
    def resolver(self) -> ResolverConfig:
        """The DNS resolver for every lookup (``mx``, ``connect``)."""
        ...

    @property
    def local_commands(self) -> CommandHelp: ...

    @property
    def connect_defaults(self) -> ConnectOptions:
        """What ``connect`` uses for the options it is not given (--timeout...)."""
        ...

    @property
    def profiles_file(self) -> Path | None:
        """The profiles file ``connect --profile NAME`` reads (None: none)."""
        ...

    @property
    def environ(self) -> Mapping[str, str]:
        """The environment a profile's ``password_env`` is read from."""
        ...

    @property
    def recording_path(self) -> Path | None:
        """Where the transcript is being recorded, or None."""
        ...

    def show(self, renderable: RenderableType) -> None:
        """Show a result (a table, base64) on the output."""
        ...

    def info(self, message: str) -> None:
        """A remark about what happened, set apart from results."""
        ...

    def error(self, message: str) -> None:
        """Report a failure; a piped session then ends with exit status 1."""
        ...

    async def ask(self, question: str, secret: bool = False) -> str:
        """One line from the user, echo off when ``secret``; never kept in history."""
        ...

    async def confirm(self, question: str) -> bool:
        """A yes-or-no question; False unless the user answers yes (or cannot be asked)."""
        ...

    async def connect(self, options: ConnectOptions) -> bool:
        """Open a connection in place of the current one; False (already reported)
        when it failed, and then the current one is kept."""
        ...

    def start_recording(self, path: Path, replace: bool = False) -> None:
        """Record to ``path`` (an existing file only when ``replace``), ending the
        recording under way once the new one has started."""
        ...

    def stop_recording(self) -> Path | None:
        """Stop recording; the path recorded to, or None when not recording."""
        ...

    def exit(self) -> None:
        """Leave the shell once the current line is done."""
        ...
