"""``smtpshell serve``: run the embedded server in the foreground until Ctrl-C.

Importing this module stays cheap: the server (asyncio, sockets, threads), aiosmtpd
and cryptography load only when ``serve`` starts one, so ``smtpshell serve --help``
does not pay for them.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from smtpshell.errors import UsageError

if TYPE_CHECKING:
    # The server itself (asyncio, sockets, threads) loads when it runs, not for --help.
    from smtpshell.server.embedded import EmbeddedServer, ServerConfig


DEFAULT_TLS_PORT = 4650


def _port_number(text: str) -> int:
    from smtpshell.protocol.endpoint import EndpointError, parse_port

    # Port 0 asks the system for any free port, as for bind(2).
    try:
        return parse_port(text, allow_zero=True)
    except EndpointError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _size(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1024 <= int(text) <= 1 << 32:
        raise argparse.ArgumentTypeError(
            f"--size-limit wants a number of bytes from 1024 to 4294967296, not {text!r}"
        )
    return int(text)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``serve`` options to ``parser`` (a subcommand's parser)."""
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, reachable from this machine only)",
    )
    parser.add_argument(
        "--port",
        type=_port_number,
        default=2525,
        help="plain SMTP port, with STARTTLS (default: 2525; 0 picks a free port)",
    )
    parser.add_argument(
        "--tls-port",
        type=_port_number,
        default=None,
        help=f"implicit-TLS (SMTPS) port (default: {DEFAULT_TLS_PORT}; 0 picks a free port)",
    )
    parser.add_argument(
        "--user",
        dest="users",
        action="append",
        default=[],
        metavar="NAME:PASSWORD",
        help="accept AUTH PLAIN, LOGIN and CRAM-MD5 for this user; repeatable. "
        "Without it no AUTH is offered",
    )
    parser.add_argument(
        "--store",
        type=Path,
        default=None,
        metavar="DIR",
        help="maildir where received messages are stored exactly as received "
        "(default: smtpshell's data directory)",
    )
    parser.add_argument(
        "--size-limit",
        type=_size,
        default=None,
        metavar="BYTES",
        help="the largest message accepted, as advertised with SIZE "
        "(default: 52428800, 50 MiB; a received message is held in memory)",
    )
    parser.add_argument(
        "--auth-plaintext",
        action="store_true",
        help="also offer AUTH before STARTTLS, as in old telnet walkthroughs "
        "(loopback addresses only)",
    )
    configure_script_options(parser)


def _connections(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 10000:
        raise argparse.ArgumentTypeError(
            f"--connections wants a number from 1 to 10000, not {text!r}"
        )
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 86400:
        raise argparse.ArgumentTypeError(f"--timeout wants seconds (more than 0), not {text!r}")
    return value


def configure_script_options(parser: argparse.ArgumentParser) -> None:
    """The options of ``serve --script``: play the server side of a transcript."""
    group = parser.add_argument_group(
        "serving a transcript",
        "play the server side of a transcript to test an SMTP client (see the README)",
    )
    group.add_argument(
        "--script",
        metavar="FILE",
        help="serve this transcript: check each client line, answer with its replies; "
        "exit 0 when the client followed it, 1 when it did not",
    )
    group.add_argument(
        "--connections",
        type=_connections,
        default=None,
        metavar="N",
        help="serve the transcript to N connections, one after another or at once (default: 1)",
    )
    group.add_argument(
        "--var",
        dest="variables",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="the value of ${NAME}; a reference without one accepts anything, and says so",
    )
    group.add_argument(
        "--env",
        dest="env_names",
        action="append",
        default=[],
        metavar="NAME",
        help="the environment variable NAME gives ${NAME}",
    )
    group.add_argument("--cert", type=Path, metavar="PEM", help="certificate chain for TLS")
    group.add_argument("--key", type=Path, metavar="PEM", help="private key of --cert")
    group.add_argument(
        "--ignore-header",
        dest="ignored_headers",
        action="append",
        default=None,
        metavar="NAME",
        help="a header field left out when the message is compared; repeatable, replaces "
        "the default (Date, Message-ID); 'none' compares every field",
    )
    group.add_argument(
        "--mismatch-reply",
        metavar="REPLY",
        help="the reply to a line that deviates (default: '554 5.5.0 smtpshell: transcript "
        "expected {expected} ({where})')",
    )
    group.add_argument(
        "--timeout",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="how long to wait for each client line (default: 30)",
    )


_SCRIPT_ONLY = {
    "connections": "--connections",
    "variables": "--var",
    "env_names": "--env",
    "cert": "--cert",
    "key": "--key",
    "ignored_headers": "--ignore-header",
    "mismatch_reply": "--mismatch-reply",
    "timeout": "--timeout",
}
_SERVER_ONLY = {
    "tls_port": "--tls-port",
    "users": "--user",
    "store": "--store",
    "size_limit": "--size-limit",
    "auth_plaintext": "--auth-plaintext",
}


def check_options(args: argparse.Namespace) -> None:
    """Refuse options that belong to the other mode (with or without ``--script``)."""
    script = getattr(args, "script", None) is not None
    names = _SERVER_ONLY if script else _SCRIPT_ONLY
    for attribute, option in names.items():
        if getattr(args, attribute, None) not in (None, [], False):
            if script:
                raise UsageError(f"{option} is for the embedded server; with --script the "
                                 "transcript decides every reply")  # fmt: skip
            raise UsageError(f"{option} needs --script FILE")


def config_from_args(args: argparse.Namespace, data_dir: Path) -> ServerConfig:
    """The server's configuration; raises ``UsageError`` for bad options.

    The maildir (unless ``--store``) and the certificates are kept in ``data_dir``.
    """
    from smtpshell.server.auth import parse_user_specs
    from smtpshell.server.embedded import ServerConfig

    users = parse_user_specs(args.users or [])
    tls_port = DEFAULT_TLS_PORT if args.tls_port is None else args.tls_port
    if args.port == tls_port and args.port != 0:
        raise UsageError(f"--port and --tls-port must differ, both are {args.port}")
    return ServerConfig(
        host=args.host,
        port=args.port,
        tls_port=tls_port,
        users=users,
        data_dir=data_dir,
        store=args.store,
        auth_plaintext=args.auth_plaintext,
        **({"size_limit": args.size_limit} if args.size_limit is not None else {}),
    )


def _connectable_host(host: str) -> str:
    # A wildcard address is something to listen on, not to connect to.
    return {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)


def _print_summary(server: EmbeddedServer, config: ServerConfig, out: TextIO) -> None:
    import shlex

    from smtpshell.server.embedded import format_address, is_loopback

    lines = [f"CA certificate: {server.ca_file}"]
    host = _connectable_host(config.host)
    if server.tls_port is not None:
        target, mode = format_address(host, server.tls_port), "--tls"
    else:
        target, mode = format_address(host, server.port), "--starttls"
    cafile = shlex.quote(str(server.ca_file))
    lines.append(f"  try: smtpshell --connect {target} {mode} --cafile {cafile}")
    lines.append(f"maildir: {server.store} (new messages appear in new/)")
    if config.users:
        where = "also before TLS" if config.auth_plaintext else "after STARTTLS or on the TLS port"
        lines.append(f"users: {', '.join(sorted(config.users))} (AUTH {where})")
    else:
        lines.append("users: none, so no AUTH is offered (add --user NAME:PASSWORD)")
    if not is_loopback(config.host):
        shown = config.host or "every interface"
        lines.append(f"note: {shown} is not a loopback address: other machines can connect")
    lines.append("press Ctrl-C to stop")
    for line in lines:
        print(line, file=out, flush=True)


async def _serve_until_stopped(config: ServerConfig, out: TextIO) -> None:
    import asyncio
    import signal

    from smtpshell.server.embedded import EmbeddedServer

    def show(line: str) -> None:
        print(line, file=out, flush=True)

    server = EmbeddedServer(config, on_event=show)
    await server.start()
    try:
        _print_summary(server, config, out)
        stop_requested = asyncio.Event()
        loop = asyncio.get_running_loop()
        handled: list[signal.Signals] = []
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(signum, stop_requested.set)
            except (NotImplementedError, RuntimeError, ValueError):
                # Windows, or not the main thread: Ctrl-C arrives as KeyboardInterrupt.
                continue
            handled.append(signum)
        try:
            await stop_requested.wait()
        finally:
            for signum in handled:
                loop.remove_signal_handler(signum)
    finally:
        await server.stop()


def serve(config: ServerConfig, out: TextIO) -> None:
    """Serve until Ctrl-C or SIGTERM; raises ``ServerError`` if the server cannot start."""
    import asyncio

    try:
        asyncio.run(_serve_until_stopped(config, out))
    except KeyboardInterrupt:
        # Ctrl-C is how this command is meant to end, even when it comes before the
        # signal handlers are in place (e.g. while keys are being made): not a failure.
        return
