"""Local commands for DNS: ``mx DOMAIN`` and the direct delivery behind ``connect --mx``.

Both ask the configured resolver (``--nameserver``, ``SMTPSHELL_NAMESERVER``), not
the system's: what is shown is exactly where direct delivery would go.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import TYPE_CHECKING

from smtpshell.core.arguments import ArgumentParser, connect_options, seconds_up_to, split_arguments
from smtpshell.core.direct import SMTP_PORT, connect_direct
from smtpshell.core.dns import lookup_mx
from smtpshell.render.tables import mx_renderable
from smtpshell.shell.registry import REGISTRY

if TYPE_CHECKING:
    from smtpshell.shell.app import Shell


@REGISTRY.command("mx", usage="mx DOMAIN [--timeout SECONDS]")
async def mx(shell: Shell, rest: str) -> None:
    """Look up a domain's mail exchangers with their addresses, in preference order."""
    parser = ArgumentParser(prog="mx", add_help=False)
    parser.add_argument("domain")
    parser.add_argument("--timeout", type=seconds_up_to(300, "DNS time-out"), metavar="SECONDS")
    args = parser.parse_args(split_arguments(rest))
    config = shell.config.resolver
    if args.timeout is not None:
        config = dataclasses.replace(config, timeout=args.timeout)
    result = await lookup_mx(args.domain, config)
    shell.console.print(mx_renderable(result))


async def connect_mx(shell: Shell, args: argparse.Namespace) -> None:
    """``connect --mx DOMAIN``: try the MX hosts in order; stop at the first 220."""
    session = shell.session
    options = connect_options(None, args)
    session.timeout = options.timeout
    await connect_direct(
        session,
        args.mx,
        shell.config.resolver,
        port=args.port or SMTP_PORT,
        mode=options.tls_mode,
        tls=options.tls,
        helo=options.helo,
    )
