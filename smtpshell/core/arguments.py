"""Command-line options shared by every way of connecting, as argparse pieces.

The command line, the shell's ``connect`` and ``replay`` read ``--tls``,
``--starttls``, ``--cafile`` and the rest with these, so the options mean the same
everywhere and all build the same :class:`ConnectOptions`. Nothing here prints:
usage errors raise :class:`UsageError`, ``--help`` raises :class:`HelpRequested`.

Building a parser imports nothing but argparse: ``--help`` and ``--version`` stop
there. What reading the options needs (the options type, endpoints, ssl for a CA
file) is imported by the function that reads them.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

    from smtpshell.core.options import ConnectOptions

from smtpshell.core.defaults import DEFAULT_HELO, DEFAULT_TIMEOUT
from smtpshell.errors import HelpRequested, TlsError, UsageError
from smtpshell.protocol.inert import inert


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises instead of printing and exiting, so that the caller
    decides where text goes (the CLI in-process in tests, the shell's console)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shown: list[str] = []

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if status:
            raise UsageError((message or "").strip() or f"exit status {status}")
        raise HelpRequested("".join(self._shown))

    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        if message:
            self._shown.append(message)


def add_connect_arguments(parser: argparse.ArgumentParser) -> None:
    """``--tls | --starttls``, ``--cafile``, ``--insecure``, ``--helo``, ``--timeout``."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--tls", action="store_true", help="implicit TLS (SMTPS); port 465 unless given"
    )
    group.add_argument(
        "--starttls",
        action="store_true",
        help="plain TCP, then EHLO and STARTTLS before anything else",
    )
    parser.add_argument(
        "--cafile", type=ca_file, metavar="PEM", help="trust the CA certificates in PEM"
    )
    parser.add_argument(
        "--insecure", action="store_true", help="do not verify the server certificate"
    )
    parser.add_argument(
        "--helo", default=DEFAULT_HELO, metavar="NAME", help="name for automatic EHLO"
    )
    parser.add_argument(
        "--timeout",
        type=seconds_up_to(86400),
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"time-out for connecting, DNS lookups and each reply (default {DEFAULT_TIMEOUT:g})",
    )


def connect_options(
    address: str | None, args: argparse.Namespace, port: str | None = None
) -> ConnectOptions:
    """The options :func:`add_connect_arguments` read, with ``HOST[:PORT]`` if given.

    ``port`` is a port written apart, as in ``telnet HOST PORT``: a number or a
    service name (``smtp``, ``submission``, ``smtps``), as telnet and openssl take.
    The mode is None when neither ``--tls`` nor ``--starttls`` was given, so that
    ``replay`` can tell it from an explicit choice.
    """
    import dataclasses

    from smtpshell.core.options import ConnectOptions
    from smtpshell.protocol.endpoint import TlsMode, parse_port

    mode = TlsMode.IMPLICIT if args.tls else TlsMode.STARTTLS if args.starttls else None
    if port is not None:
        _check_port_apart(address, port)
    options = ConnectOptions.parse(
        address,
        mode=mode,
        cafile=args.cafile,
        insecure=args.insecure,
        helo=args.helo,
        timeout=args.timeout,
    )
    if port is None:
        return options
    return dataclasses.replace(options, port=parse_port(port, services=True))


def _check_port_apart(address: str | None, port: str) -> None:
    from smtpshell.protocol.endpoint import split_host_port

    if address is None:
        raise UsageError(f"a port ({port}) but no host: write HOST PORT or HOST:PORT")
    if split_host_port(address)[1] is not None:
        raise UsageError(f"two ports: {address} and {port} (write HOST PORT or HOST:PORT)")


def connect_defaults(defaults: ConnectOptions) -> argparse.Namespace:
    """A namespace to parse into so that ``defaults`` stand for the options of
    :func:`add_connect_arguments` not given (argparse keeps what is already set).

    The shell's ``connect`` uses it: ``smtpshell --timeout 5 --cafile ca.pem`` holds
    for every connection made in that shell. The TLS mode is chosen each time.
    """
    return argparse.Namespace(
        cafile=defaults.cafile,
        insecure=defaults.insecure,
        helo=defaults.helo,
        timeout=defaults.timeout,
    )


def seconds_up_to(limit: float, what: str = "time-out") -> Callable[[str], float]:
    """An argparse type: a positive number of seconds, at most ``limit``."""

    def seconds(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
        if not 0 < value <= limit:
            raise argparse.ArgumentTypeError(
                f"{what} must be between 0 and {limit:g} s, not {text}"
            )
        return value

    return seconds


def ca_file(text: str) -> Path:
    """An argparse type: a file of CA certificates, checked before anything connects."""
    from smtpshell.core.tls import check_ca_file

    path = Path(text).expanduser()
    try:
        check_ca_file(path)
    except TlsError as exc:
        # The message names the file, whose name may hold escape sequences.
        raise argparse.ArgumentTypeError(inert(str(exc))) from None
    return path


def port_number(text: str) -> int:
    """An argparse type: a port from 1 to 65535."""
    from smtpshell.protocol.endpoint import EndpointError, parse_port

    try:
        return parse_port(text)
    except EndpointError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def split_arguments(rest: str) -> list[str]:
    """A local command's arguments, split as a POSIX shell would (quotes allowed)."""
    import shlex

    try:
        return shlex.split(rest)
    except ValueError as exc:  # "No closing quotation"
        raise UsageError(f"cannot parse the arguments: {str(exc).lower()}") from None
