"""``smtpshell check DOMAIN``: a domain's mail setup, as a sending server meets it.

Exit status 0 when nothing failed, 1 when any check failed, 2 for usage errors
(found before anything is asked or sent).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TYPE_CHECKING, TextIO

from smtpshell.core.arguments import ca_file, port_number, seconds_up_to
from smtpshell.errors import UsageError
from smtpshell.protocol.inert import inert

if TYPE_CHECKING:
    from rich.status import Status as Spinner

    from smtpshell.check.model import Report
    from smtpshell.check.run import CheckSettings

EXIT_PASSED, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEFAULT_TIMEOUT = 10.0
DESCRIPTION = (
    "Check a domain's mail setup from outside: MX records and reverse DNS, every "
    "exchanger's greeting, EHLO, STARTTLS and certificate, DANE, and sender policies. "
    "No mail is sent. Exit status 0 when nothing failed, 1 when a check failed, 2 for "
    "usage errors."
)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("domain", metavar="DOMAIN", help="the domain to check")
    parser.add_argument("--port", type=port_number, default=25, metavar="PORT",
                        help="the exchangers' SMTP port (default 25)")  # fmt: skip
    parser.add_argument("--nameserver", metavar="HOST[:PORT]",
                        help="the resolver for every lookup (or SMTPSHELL_NAMESERVER)")  # fmt: skip
    parser.add_argument("--cafile", type=ca_file, metavar="PEM",
                        help="trust these CA certificates instead of the system's")  # fmt: skip
    parser.add_argument("--helo", default="localhost", metavar="NAME",
                        help="the name sent with EHLO (default localhost)")  # fmt: skip
    parser.add_argument("--timeout", type=seconds_up_to(300), default=DEFAULT_TIMEOUT,
                        metavar="SECONDS",
                        help=f"time-out of each step: a lookup, a connection, a reply, "
                        f"a handshake (default {DEFAULT_TIMEOUT:g})")  # fmt: skip
    parser.add_argument("--json", action="store_true",
                        help="print the whole report as one JSON document")  # fmt: skip
    parser.add_argument("--only", choices=("dns", "tls", "policy"), action="append",
                        help="check only DNS, the exchangers' TLS (with DANE), or the "
                        "policies; repeat for two of them")  # fmt: skip
    parser.add_argument("--mta-sts-port", type=port_number, default=443, metavar="PORT",
                        help="the port the MTA-STS policy is fetched from: 443, as RFC 8461 "
                        "says; another is for tests only")  # fmt: skip
    parser.add_argument("--relay-test", action="store_true",
                        help="also test for an open relay: MAIL FROM and RCPT TO an "
                        "outside address without AUTH, never DATA (off by default)")  # fmt: skip


def _ip_address(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def settings_from_args(args: argparse.Namespace, environ: Mapping[str, str]) -> CheckSettings:
    """Everything checked before the first packet: one line and exit status 2 if wrong."""
    from smtpshell.check.exchanger import ProbeSettings
    from smtpshell.check.run import CheckSettings
    from smtpshell.core.dns import (
        InvalidDomainError,
        ResolverConfig,
        ResolverConfigError,
        checked_domain,
    )
    from smtpshell.protocol.endpoint import find_control

    if _ip_address(args.domain):
        raise UsageError(
            f"{inert(args.domain)} is an address, not a domain: check the domain whose "
            "mail it takes (MX records belong to domains)"
        )
    try:
        checked_domain(args.domain)
    except InvalidDomainError as exc:
        raise UsageError(str(exc)) from None
    helo = args.helo
    if not helo or find_control(helo) is not None or any(c.isspace() for c in helo):
        raise UsageError(f"--helo {helo!r}: a name without spaces or control characters")
    only = frozenset(args.only) if args.only else None
    try:
        resolver = ResolverConfig.from_env(args.nameserver, args.timeout, environ)
    except ResolverConfigError as exc:
        raise UsageError(f"--nameserver: {exc}") from exc
    probe = ProbeSettings(args.port, helo, args.timeout, args.cafile, args.relay_test)
    return CheckSettings(resolver, probe, only, args.mta_sts_port)


def run(
    args: argparse.Namespace, out: TextIO, err: TextIO, environ: Mapping[str, str], colour: bool
) -> int:
    import asyncio

    settings = settings_from_args(args, environ)
    with _Progress(err, environ) as progress:
        report = asyncio.run(_check(args.domain, settings, progress))
    write_report(report, out, colour, args.json)
    return exit_status(report)


async def _check(domain: str, settings: CheckSettings, progress: _Progress) -> Report:
    from smtpshell.check.run import check_domain

    return await check_domain(domain, settings, progress.update)


def write_report(report: Report, out: TextIO, colour: bool, as_json: bool) -> None:
    if as_json:
        from smtpshell.check.report_json import report_json

        out.write(report_json(report) + "\n")
        out.flush()
        return
    from smtpshell.check.report_text import print_report
    from smtpshell.render.theme import make_console

    print_report(make_console(out, colour=colour), report)


def exit_status(report: Report) -> int:
    from smtpshell.check.model import Status

    return EXIT_FAILED if report.status is Status.FAIL else EXIT_PASSED


class _Progress:
    """A spinner line on stderr while exchangers answer; only on a terminal."""

    def __init__(self, err: TextIO, environ: Mapping[str, str]) -> None:
        self.status: Spinner | None = None
        try:
            tty = err.isatty()
        except (AttributeError, ValueError):
            tty = False
        if tty:
            from rich.console import Console

            from smtpshell.render.theme import colour_wanted

            # A terminal even without colour (NO_COLOR): the spinner line still helps.
            colour = colour_wanted(err, environ)
            console = Console(file=err, force_terminal=True, no_color=not colour,
                              highlight=False, markup=False, emoji=False)  # fmt: skip
            self.status = console.status("checking...")

    def __enter__(self) -> _Progress:
        if self.status is not None:
            self.status.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.status is not None:
            self.status.stop()

    def update(self, text: str) -> None:
        if self.status is not None:
            from rich.text import Text

            from smtpshell.protocol.inert import inert

            self.status.update(Text(inert(text)))
