"""The command line: the one place that wires parts together. Every error rises to
``main``, which turns it into one line and an exit status (``cli/status.py``)."""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from smtpshell import __version__
from smtpshell.cli.environment import Environment
from smtpshell.cli.status import EXPECTED, ExitStatus, describe_os_error, outcome
from smtpshell.core.arguments import ArgumentParser, add_connect_arguments, connect_options
from smtpshell.errors import UsageError

if TYPE_CHECKING:
    from smtpshell.core.dns import ResolverConfig
    from smtpshell.core.options import ConnectOptions

PROGRAM = "smtpshell"
# What a shell started without a server says first: how to connect, how to get help.
NOT_CONNECTED = (
    "Not connected: type connect HOST [PORT] to connect, help (or ?) for the local "
    "commands, exit to leave."
)

DESCRIPTION = """\
Talk to SMTP servers by hand: an interactive shell over plain TCP, STARTTLS or
implicit TLS, with coloured replies and helpers.

  smtpshell HOST [PORT]  connect, as telnet HOST PORT does (also HOST:PORT, --connect)

subcommands:
  smtpshell serve ...    run the embedded local SMTP server (smtpshell serve --help)
  smtpshell replay ...   replay transcripts against a server as tests (smtpshell replay --help)
  smtpshell send ...     send a message, composed or prepared (smtpshell send --help)
  smtpshell config ...   profiles for send and connect (smtpshell config --help)
  smtpshell check ...    check a domain's mail setup: DNS, exchangers, TLS, DANE
                         (smtpshell check --help)
"""


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="smtpshell",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "host", nargs="?", metavar="HOST[:PORT]", help="connect on start, as --connect does"
    )
    parser.add_argument(
        "port",
        nargs="?",
        metavar="PORT",
        help="the port, as in telnet HOST PORT: a number, or smtp, submission, smtps",
    )
    parser.add_argument(
        "--connect", metavar="HOST[:PORT]", help="connect on start (port 25, or 465 with --tls)"
    )
    add_connect_arguments(parser)
    parser.add_argument(
        "--demo",
        action="store_true",
        help="start the embedded server on loopback and connect to it",
    )
    parser.add_argument(
        "--nameserver",
        metavar="HOST[:PORT]",
        help="DNS resolver for every lookup: host names, mx, direct delivery "
        "(default: $SMTPSHELL_NAMESERVER, else the system's)",
    )
    parser.add_argument(
        "--record",
        type=Path,
        metavar="FILE",
        help="record the session as a transcript (replay it with smtpshell replay FILE)",
    )
    parser.add_argument(
        "--force", action="store_true", help="let --record replace an existing FILE"
    )
    parser.add_argument("--no-history", action="store_true", help="keep no command history on disk")
    parser.add_argument(
        "--exit-zero",
        action="store_true",
        help="piped: exit 0 even when a command got a 4xx or 5xx reply (failures still exit 1)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="piped: echo each line of message text"
    )
    parser.add_argument("--version", action="version", version=f"smtpshell {__version__}")
    return parser


def main(argv: Sequence[str] | None = None, env: Environment | None = None) -> int:
    env = env or Environment()
    args = list(sys.argv[1:] if argv is None else argv)
    program = f"{PROGRAM} {args[0]}" if args and args[0] in _SUBCOMMANDS else PROGRAM
    try:
        return _dispatch(args, env)
    except EXPECTED as exc:
        shown = outcome(exc, program)
        stream = env.stdout if shown.to_stdout else env.stderr
        stream.write(shown.message)
        stream.flush()
        return shown.status


def _dispatch(args: list[str], env: Environment) -> int:
    subcommand = _SUBCOMMANDS.get(args[0]) if args else None
    if subcommand is not None:
        return subcommand(args[1:], env)
    options = build_parser().parse_args(args)
    target = _target(options)
    if options.demo:
        return _demo(options, env)
    return _shell(target, options, env)


def _target(options: argparse.Namespace) -> ConnectOptions | None:
    """What to connect to on start: ``HOST [PORT]``, ``HOST:PORT`` or ``--connect``."""
    host = options.host
    if host in _SUBCOMMANDS:
        # Only a first word names a subcommand: `smtpshell --no-history serve` would
        # otherwise connect to a host called serve.
        raise UsageError(
            f"{host} is a subcommand and goes first: smtpshell {host} ... "
            f"(to connect to a host named {host}, use --connect {host})"
        )
    if options.demo and (options.connect or host):
        given = "--connect" if options.connect else "HOST"
        raise UsageError(f"--demo and {given} exclude each other")
    if options.connect and host:
        raise UsageError(
            f"two servers: --connect {options.connect} and {host} "
            "(write HOST PORT, HOST:PORT or --connect HOST:PORT)"
        )
    if options.force and options.record is None:
        raise UsageError("--force goes with --record FILE")
    address = options.connect or host
    if address is None:
        return None
    return connect_options(address, options, port=options.port)


def _shell(target: ConnectOptions | None, options: argparse.Namespace, env: Environment) -> int:
    # Imported here, not at the top: --version and --help need none of it.
    import asyncio

    from smtpshell.render.plain import make_printer
    from smtpshell.shell.app import Shell, ShellConfig

    colour = _colour(env)
    # Without colour (a pipe, a file, NO_COLOR) lines are written as they are:
    # rich is imported only by a command that shows a table.
    console = make_printer(env.stdout, colour)
    err_console = None if env.interactive else make_printer(env.stderr, colour)
    resolver = _resolver(options, env)  # a usage error before anything is created
    config = ShellConfig(
        history_file=_history_file(options, env),
        resolver=resolver,
        record=options.record,
        replace_record=options.force,
        connect_defaults=connect_options(None, options),
        exit_zero=options.exit_zero,
        verbose=options.verbose,
        profiles_file=lambda: env.profiles_file,
        environ=env.environ,
    )
    if not env.interactive and isinstance(env.stdin, io.TextIOWrapper):
        # Piped input is read as UTF-8 whatever the locale, and bytes that are not
        # UTF-8 survive as surrogates: an 8-bit message body is sent as it is.
        env.stdin.reconfigure(encoding="utf-8", errors="surrogateescape")
    shell = Shell(console, config, interactive=env.interactive, err_console=err_console)
    if env.interactive:
        # prompt_toolkit imports ctypes as each prompt starts (to save and restore
        # the SIGINT handler); imported now, before connecting, it no longer sits
        # between the server's greeting and the first prompt.
        import ctypes  # noqa: F401
    if target is None and env.interactive:
        console.print(NOT_CONNECTED, style="notice")
    return asyncio.run(shell.run(target, env.stdin))


def _history_file(options: argparse.Namespace, env: Environment) -> Path | None:
    """Where to keep the prompt's history, or None when there is no prompt or no
    usable data directory: a broken one costs the history, never the shell."""
    if options.no_history or not env.interactive:
        return None
    path = env.data_dir / "history"
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    except OSError as exc:
        print(
            f"{PROGRAM}: warning: no command history: {describe_os_error(exc)}",
            file=env.stderr,
            flush=True,
        )
        return None
    return path


def _resolver(options: argparse.Namespace, env: Environment) -> ResolverConfig:
    from smtpshell.core.dns import ResolverConfig, ResolverConfigError

    try:
        # One time-out for every wait, DNS lookups included: --timeout 60 is for a
        # slow network, resolver and all.
        return ResolverConfig.from_env(
            options.nameserver, timeout=options.timeout, environ=env.environ
        )
    except ResolverConfigError as exc:
        raise UsageError(f"--nameserver: {exc}") from exc


def _colour(env: Environment) -> bool:
    from smtpshell.render.theme import colour_wanted

    return colour_wanted(env.stdout, env.environ)


def _serve(args: list[str], env: Environment) -> int:
    from smtpshell.server import command

    parser = ArgumentParser(prog="smtpshell serve", description="Run the embedded SMTP server.")
    command.configure_parser(parser)
    options = parser.parse_args(args)
    command.check_options(options)
    if options.script is not None:
        from smtpshell.playback import command as playback

        return playback.run(options, env.stdout, env.stderr, env.environ, env.data_dir)
    command.serve(command.config_from_args(options, env.data_dir), env.stdout)
    return ExitStatus.OK


def _replay(args: list[str], env: Environment) -> int:
    from smtpshell.replay import command

    parser = ArgumentParser(
        prog="smtpshell replay",
        description="Replay transcripts against a server; exit 0 if all pass, 1 if any "
        "fails, 2 for usage errors.",
    )
    command.configure_parser(parser)
    options = parser.parse_args(args)
    return command.run(
        options, env.stdout, env.stderr, env.environ, _colour(env), env.password_asker()
    )


def _send(args: list[str], env: Environment) -> int:
    from smtpshell.send import command

    parser = ArgumentParser(prog="smtpshell send")
    command.configure_parser(parser)
    options = parser.parse_args(args)
    command.check_options(options)
    streams = command.Streams(env.stdin, env.stdout, env.stderr, env.environ)
    if options.record is None:
        return command.run(options, streams, lambda: env.profiles_file, env.password_asker())
    from smtpshell.replay.recorder import TranscriptRecorder, open_recording

    with open_recording(options.record, options.force) as file:
        recorder = TranscriptRecorder(file)
        try:
            return command.run(
                options, streams, lambda: env.profiles_file, env.password_asker(), [recorder]
            )
        except UsageError:
            # Refused before anything was sent: no recording to keep.
            Path(options.record).unlink(missing_ok=True)
            raise
        finally:
            recorder.close()


def _check(args: list[str], env: Environment) -> int:
    from smtpshell.check import command

    parser = ArgumentParser(prog="smtpshell check", description=command.DESCRIPTION)
    command.configure_parser(parser)
    options = parser.parse_args(args)
    return command.run(options, env.stdout, env.stderr, env.environ, _colour(env))


def _config(args: list[str], env: Environment) -> int:
    from smtpshell.cli.config_command import run_config

    return run_config(args, env)


_SUBCOMMANDS: dict[str, Callable[[list[str], Environment], int]] = {
    "serve": _serve,
    "replay": _replay,
    "send": _send,
    "config": _config,
    "check": _check,
}


def _demo(options: argparse.Namespace, env: Environment) -> int:
    from smtpshell.cli.demo import run_demo

    return run_demo(options, env, _shell)
