"""Local commands for the connection: ``connect``, ``disconnect`` and ``tls``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from smtpshell.core.arguments import (
    ArgumentParser,
    add_connect_arguments,
    connect_defaults,
    connect_options,
    port_number,
    split_arguments,
)
from smtpshell.errors import NotConnected, UsageError
from smtpshell.render.tables import tls_table
from smtpshell.shell.commands.auth import connect_profile
from smtpshell.shell.commands.dns import connect_mx
from smtpshell.shell.commands.help import leave, show_help
from smtpshell.shell.registry import Handler, LocalCommand

if TYPE_CHECKING:
    from smtpshell.shell.context import CommandContext

# At `smtpshell>` there is no server to send QUIT or HELP to: they mean what telnet's
# quit and help mean. Connected, they are SMTP verbs and go to the server.
_OFFLINE: dict[str, Handler] = {"quit": leave, "help": show_help}


def meaning_offline(line: str) -> tuple[Handler, str] | None:
    """The local meaning of a line typed while not connected, and the rest of the
    line, or None. A line begun with a backslash has none: it is meant for a server."""
    word, _, rest = line.strip().partition(" ")
    handler = _OFFLINE.get(word.lower())
    return (handler, rest) if handler is not None else None


async def connect(ctx: CommandContext, rest: str) -> None:
    """Connect to a server, with --mx to a domain's first answering MX host, or as a
    profile says (logging in with its password)."""
    parser = ArgumentParser(prog="connect", add_help=False)
    parser.add_argument("address", nargs="?")
    # `connect HOST PORT`, as telnet's `open HOST PORT`; --port is for --mx.
    parser.add_argument("port_apart", nargs="?", metavar="PORT")
    parser.add_argument("--mx", metavar="DOMAIN")
    parser.add_argument("--port", type=port_number, metavar="N")
    parser.add_argument("--profile", metavar="NAME")
    add_connect_arguments(parser)
    args = parser.parse_args(split_arguments(rest), connect_defaults(ctx.connect_defaults))
    if args.profile is not None:
        if args.address is not None or args.mx is not None:
            raise UsageError("give one of HOST[:PORT], --mx DOMAIN and --profile NAME")
        await connect_profile(ctx, args.profile)
        return
    if args.mx is not None:
        if args.address is not None:
            raise UsageError("give either HOST[:PORT] or --mx DOMAIN, not both")
        await connect_mx(ctx, args)
        return
    if args.address is None:
        raise UsageError("connect needs HOST[:PORT] or --mx DOMAIN (or HOST PORT)")
    if args.port is not None:
        raise UsageError("--port goes with --mx; otherwise write HOST PORT or HOST:PORT")
    await ctx.connect(connect_options(args.address, args, port=args.port_apart))


async def disconnect(ctx: CommandContext, rest: str) -> None:
    """Close the connection without sending QUIT."""
    if not ctx.session.connected:
        raise NotConnected("not connected")
    await ctx.session.close()


async def show_tls(ctx: CommandContext, rest: str) -> None:
    """Show the TLS version, cipher and the server's certificate."""
    session = ctx.session
    if session.tls is None:
        ctx.info("not using TLS" + ("" if session.connected else " (not connected)"))
        return
    if not session.connected:
        ctx.info("not connected: these are the closed connection's TLS details")
    ctx.show(tls_table(session.tls))


COMMANDS = (
    LocalCommand(
        "connect",
        connect,
        usage="connect HOST[:PORT] | HOST PORT | --mx DOMAIN [--port N] | --profile NAME "
        "[--tls|--starttls] "
        "[--cafile PEM] [--insecure] [--helo NAME] [--timeout SECONDS]",
        aliases=("open",),
    ),
    LocalCommand("disconnect", disconnect, aliases=("close",)),
    LocalCommand("tls", show_tls, usage="tls"),
)
