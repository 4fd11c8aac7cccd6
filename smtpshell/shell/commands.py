"""Local commands of the shell. Each handler's first docstring line is its help."""

from __future__ import annotations

from typing import TYPE_CHECKING

from smtpshell.core.target import (
    ArgumentParser,
    add_session_arguments,
    add_tls_arguments,
    target_from_args,
)
from smtpshell.errors import NotConnected, UsageError
from smtpshell.shell.registry import REGISTRY

if TYPE_CHECKING:
    from smtpshell.shell.app import Shell

RULE = (
    "A line whose first word is a local command runs here; anything else goes to the "
    "server as typed. Start a line with \\ to send it as typed even so (\\mx sends 'mx')."
)


@REGISTRY.command("?", usage="? [COMMAND]", aliases=("commands",))
async def show_help(shell: Shell, rest: str) -> None:
    """List local commands (SMTP's own HELP goes to the server)."""
    from rich.table import Table

    if rest:
        found = REGISTRY.match(rest)
        if found is None:
            raise UsageError(f"no local command {rest!r}")
        command = found[0]
        shell.console.print(command.usage or command.name, style="heading")
        shell.console.print(command.summary)
        return
    table = Table(show_header=False, box=None, pad_edge=False)
    for command in REGISTRY:
        table.add_row(command.usage or command.name, command.summary)
    shell.console.print(table)
    shell.console.print(RULE, style="notice")
    shell.console.print(
        "In DATA, every line is message text: '.' alone or Ctrl-D ends the message. "
        "Ctrl-D at the prompt leaves.",
        style="notice",
    )


@REGISTRY.command(
    "connect",
    usage="connect HOST[:PORT] [--tls|--starttls] [--cafile PEM] [--insecure] [--helo NAME] "
    "[--timeout SECONDS]",
    aliases=("open",),
)
async def connect(shell: Shell, rest: str) -> None:
    """Connect to a server (closing any current connection)."""
    import shlex

    parser = ArgumentParser(prog="connect", add_help=False)
    parser.add_argument("address")
    add_tls_arguments(parser)
    add_session_arguments(parser)
    args = parser.parse_args(shlex.split(rest))
    await shell.connect(target_from_args(args.address, args))


@REGISTRY.command("disconnect", aliases=("close",))
async def disconnect(shell: Shell, rest: str) -> None:
    """Close the connection without sending QUIT."""
    if not shell.session.connected:
        raise NotConnected("not connected")
    await shell.session.close()


@REGISTRY.command("tls", usage="tls")
async def tls(shell: Shell, rest: str) -> None:
    """Show the TLS version, cipher and the server's certificate."""
    from rich.table import Table

    info = shell.session.tls
    if info is None:
        shell.info("not using TLS" + ("" if shell.session.connected else " (not connected)"))
        return
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_row("version", info.version)
    table.add_row("cipher", f"{info.cipher} ({info.bits} bits)")
    table.add_row("verified", "yes" if info.verified else "NO (--insecure)")
    cert = info.certificate
    if cert is not None:
        table.add_row("subject", cert.subject)
        table.add_row("alt names", ", ".join(cert.alt_names) or "(none)")
        table.add_row("issuer", cert.issuer)
        table.add_row("valid from", cert.not_before.strftime("%Y-%m-%d %H:%M:%S UTC"))
        table.add_row("valid until", cert.not_after.strftime("%Y-%m-%d %H:%M:%S UTC"))
        table.add_row("SHA-256", cert.sha256)
    shell.console.print(table)


@REGISTRY.command("exit", aliases=("bye",))
async def leave(shell: Shell, rest: str) -> None:
    """Leave the shell (closing the connection without QUIT; Ctrl-D does the same)."""
    shell.done = True
