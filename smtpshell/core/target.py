"""What to connect to, as given by ``--connect HOST[:PORT] [--tls|--starttls] ...``.

Shared by the command line, the shell's ``connect`` command and the replayer, so
the options mean the same everywhere.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

from smtpshell.core.endpoint import Endpoint, TlsMode, parse_endpoint
from smtpshell.core.session import DEFAULT_TIMEOUT, TlsSettings
from smtpshell.errors import UsageError


@dataclass(frozen=True)
class ConnectTarget:
    endpoint: Endpoint
    mode: TlsMode = TlsMode.PLAIN
    tls: TlsSettings = field(default_factory=TlsSettings)
    helo: str = "localhost"
    timeout: float = DEFAULT_TIMEOUT


def add_tls_arguments(parser: argparse.ArgumentParser) -> None:
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
        "--cafile", type=Path, metavar="PEM", help="trust the CA certificates in PEM"
    )
    parser.add_argument(
        "--insecure", action="store_true", help="do not verify the server certificate"
    )


def add_session_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--helo", default="localhost", metavar="NAME", help="name for automatic EHLO"
    )
    parser.add_argument(
        "--timeout",
        type=seconds_up_to(86400),
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"time-out for connecting and for each reply (default {DEFAULT_TIMEOUT:g})",
    )


def tls_mode(args: argparse.Namespace) -> TlsMode:
    if getattr(args, "tls", False):
        return TlsMode.IMPLICIT
    if getattr(args, "starttls", False):
        return TlsMode.STARTTLS
    return TlsMode.PLAIN


def target_from_args(address: str, args: argparse.Namespace) -> ConnectTarget:
    mode = tls_mode(args)
    return ConnectTarget(
        endpoint=parse_endpoint(address, mode.default_port),
        mode=mode,
        tls=TlsSettings(cafile=args.cafile, insecure=args.insecure),
        helo=args.helo,
        timeout=args.timeout,
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


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of printing usage and exiting, and
    writes --help to the stream it is given (so the CLI runs in-process in tests)."""

    def __init__(self, *args: Any, out: IO[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._out = out

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)

    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        if message:
            (self._out or file or sys.stdout).write(message)
