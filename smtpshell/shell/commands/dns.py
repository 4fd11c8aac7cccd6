"""Local commands for DNS: ``mx DOMAIN`` and the direct delivery behind ``connect --mx``.

Both ask the configured resolver (``--nameserver``, ``SMTPSHELL_NAMESERVER``), not
the system's: what is shown is exactly where direct delivery would go. ``connect
--mx`` hands the domain to the shell's ``connect`` (core/reach.py does the search).
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import TYPE_CHECKING

from smtpshell.core.arguments import ArgumentParser, connect_options, seconds_up_to, split_arguments
from smtpshell.core.direct import SMTP_PORT
from smtpshell.core.dns import lookup_mx
from smtpshell.render.tables import mx_renderable
from smtpshell.shell.registry import LocalCommand

if TYPE_CHECKING:
    from smtpshell.shell.context import CommandContext


async def mx(ctx: CommandContext, rest: str) -> None:
    """Look up a domain's mail exchangers with their addresses, in preference order."""
    parser = ArgumentParser(prog="mx", add_help=False)
    parser.add_argument("domain")
    parser.add_argument("--timeout", type=seconds_up_to(300, "DNS time-out"), metavar="SECONDS")
    args = parser.parse_args(split_arguments(rest))
    config = ctx.resolver
    if args.timeout is not None:
        config = dataclasses.replace(config, timeout=args.timeout)
    ctx.show(mx_renderable(await lookup_mx(args.domain, config)))


async def connect_mx(ctx: CommandContext, args: argparse.Namespace) -> None:
    """``connect --mx DOMAIN``: try the MX hosts in order; stop at the first 220."""
    options = connect_options(None, args)
    await ctx.connect(dataclasses.replace(options, mx=args.mx, port=args.port or SMTP_PORT))


COMMANDS = (LocalCommand("mx", mx, usage="mx DOMAIN [--timeout SECONDS]"),)
