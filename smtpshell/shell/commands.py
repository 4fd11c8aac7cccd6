"""Local commands of the shell. Each handler's first docstring line is its help."""

from __future__ import annotations

from typing import TYPE_CHECKING

from smtpshell.core.arguments import (
    ArgumentParser,
    add_connect_arguments,
    connect_options,
    port_number,
    split_arguments,
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

    rest = rest.strip()
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
    usage="connect HOST[:PORT] | --mx DOMAIN [--port N] [--tls|--starttls] [--cafile PEM] "
    "[--insecure] [--helo NAME] [--timeout SECONDS]",
    aliases=("open",),
)
async def connect(shell: Shell, rest: str) -> None:
    """Connect to a server, or with --mx to a domain's first answering MX host."""
    parser = ArgumentParser(prog="connect", add_help=False)
    parser.add_argument("address", nargs="?")
    parser.add_argument("--mx", metavar="DOMAIN")
    parser.add_argument("--port", type=port_number, metavar="N")
    add_connect_arguments(parser)
    args = parser.parse_args(split_arguments(rest))
    if args.mx is not None:
        if args.address is not None:
            raise UsageError("give either HOST[:PORT] or --mx DOMAIN, not both")
        from smtpshell.shell.dns_commands import connect_mx

        await connect_mx(shell, args)
        return
    if args.address is None:
        raise UsageError("connect needs HOST[:PORT] or --mx DOMAIN")
    if args.port is not None:
        raise UsageError("--port goes with --mx; otherwise write HOST:PORT")
    await shell.connect(connect_options(args.address, args))


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
    if not shell.session.connected:
        shell.info("not connected: these are the closed connection's TLS details")
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


# The helpers register themselves on import; imported last, as they use the above.
from smtpshell.shell import (  # noqa: E402
    auth_commands,  # noqa: F401
    capability_commands,  # noqa: F401
    dns_commands,  # noqa: F401
)
