"""``check DOMAIN``: the report of ``smtpshell check``, inside the shell.

The options are those of the subcommand; the resolver, CA file and EHLO name
default to the shell's own (``--nameserver``, ``--cafile``, ``--helo``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smtpshell.core.arguments import ArgumentParser, split_arguments
from smtpshell.shell.registry import LocalCommand

if TYPE_CHECKING:
    from smtpshell.shell.context import CommandContext


async def check(ctx: CommandContext, rest: str) -> None:
    """Check a domain's mail setup: MX, reverse DNS, each exchanger's TLS, DANE."""
    # Here, not at the top: starting the shell should not pay for the checks.
    from rich.text import Text

    from smtpshell.check import command
    from smtpshell.check.model import Status
    from smtpshell.check.report_json import report_json
    from smtpshell.check.report_text import report_renderable
    from smtpshell.check.run import check_domain

    parser = ArgumentParser(prog="check", add_help=False)
    command.configure_parser(parser)
    defaults = ctx.connect_defaults
    parser.set_defaults(cafile=defaults.cafile, helo=defaults.helo)
    args = parser.parse_args(split_arguments(rest))
    if args.nameserver is None:
        args.nameserver = ctx.resolver.nameserver
    settings = command.settings_from_args(args, ctx.environ)
    report = await check_domain(args.domain, settings, ctx.info)
    ctx.show(Text(report_json(report)) if args.json else report_renderable(report))
    if report.status is Status.FAIL:
        ctx.error(f"check {report.domain}: {report.counts()['fail']} check(s) failed")


COMMANDS = (
    LocalCommand(
        "check",
        check,
        usage="check DOMAIN [--port N] [--only dns|tls|policy] [--json] [--relay-test]",
    ),
)
