"""Local commands for DNS: ``mx DOMAIN`` and the direct delivery behind ``connect --mx``.

Both ask the configured resolver (``--nameserver``, ``SMTPSHELL_NAMESERVER``), not
the system's: what is shown is exactly where direct delivery would go.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import TYPE_CHECKING

from smtpshell.core.direct import SMTP_PORT, connect_direct
from smtpshell.core.dns import lookup_mx
from smtpshell.core.session import TlsSettings
from smtpshell.core.target import ArgumentParser, tls_mode
from smtpshell.render.tables import mx_renderable
from smtpshell.shell.commands import split_arguments
from smtpshell.shell.registry import REGISTRY

if TYPE_CHECKING:
    from smtpshell.shell.app import Shell


@REGISTRY.command("mx", usage="mx DOMAIN [--timeout SECONDS]")
async def mx(shell: Shell, rest: str) -> None:
    """Look up a domain's mail exchangers with their addresses, in preference order."""
    parser = ArgumentParser(prog="mx", add_help=False)
    parser.add_argument("domain")
    parser.add_argument("--timeout", type=_dns_seconds, metavar="SECONDS")
    args = parser.parse_args(split_arguments(rest))
    config = shell.config.resolver
    if args.timeout is not None:
        config = dataclasses.replace(config, timeout=args.timeout)
    result = await lookup_mx(args.domain, config)
    shell.console.print(mx_renderable(result))


async def connect_mx(shell: Shell, args: argparse.Namespace) -> None:
    """``connect --mx DOMAIN``: try the MX hosts in order; stop at the first 220."""
    session = shell.session
    session.timeout = args.timeout
    await connect_direct(
        session,
        args.mx,
        shell.config.resolver,
        port=args.port or SMTP_PORT,
        mode=tls_mode(args),
        tls=TlsSettings(cafile=args.cafile, insecure=args.insecure),
        helo=args.helo,
    )


def _dns_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= 300:
        raise argparse.ArgumentTypeError(f"DNS time-out must be between 0 and 300 s, not {text}")
    return value
