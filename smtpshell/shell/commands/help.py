"""``?`` lists the local commands; ``exit`` leaves the shell."""

from __future__ import annotations

from typing import TYPE_CHECKING

from smtpshell.errors import UsageError
from smtpshell.render.tables import help_entry, help_table
from smtpshell.shell.registry import LocalCommand

if TYPE_CHECKING:
    from smtpshell.shell.context import CommandContext

RULE = (
    "A line whose first word is a local command runs here; anything else goes to the "
    "server as typed. Start a line with \\ to send it as typed even so (\\mx sends 'mx'). "
    "'? COMMAND' or 'COMMAND --help' explains one command."
)
DATA_RULE = (
    "In DATA, every line is message text: '.' alone or Ctrl-D ends the message. "
    "Ctrl-D at the prompt leaves."
)


async def show_help(ctx: CommandContext, rest: str) -> None:
    """List local commands (SMTP's own HELP goes to the server)."""
    rest = rest.strip()
    if rest:
        entry = ctx.local_commands.help_for(rest)
        if entry is None:
            raise UsageError(f"no local command {rest!r}")
        ctx.show(help_entry(*entry))
        return
    ctx.show(help_table(ctx.local_commands.help_rows()))
    ctx.info(RULE)
    ctx.info(DATA_RULE)


async def leave(ctx: CommandContext, rest: str) -> None:
    """Leave the shell (closing the connection without QUIT; Ctrl-D does the same)."""
    ctx.exit()


HELP = LocalCommand("?", show_help, usage="? [COMMAND]", aliases=("commands",))
EXIT = LocalCommand("exit", leave, aliases=("bye",))
