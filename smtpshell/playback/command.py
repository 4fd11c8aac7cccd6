"""``smtpshell serve --script FILE``: serve a transcript until the client is done.

Exit status: 0 when every connection followed the transcript to its end, 1 at the
first deviation (served connections under way are closed), 2 for usage errors (a
transcript that cannot be read or served, a bad option, a missing ``--env``).
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from smtpshell.errors import UsageError
from smtpshell.playback.conversation import DEFAULT_MISMATCH_REPLY, Settings
from smtpshell.playback.listener import PlaybackServer, tls_context
from smtpshell.playback.script import DEFAULT_IGNORED_HEADERS, load_script
from smtpshell.protocol.inert import inert
from smtpshell.transcript import environment_values, parse_var_option
from smtpshell.transcript.patterns import SERVER_LINE


def _values(args: argparse.Namespace, environ: Mapping[str, str]) -> dict[str, str]:
    values = environment_values(args.env_names, environ)
    for text in args.variables:
        name, value = parse_var_option(text)
        values[name] = value
    return values


def _ignored(args: argparse.Namespace) -> tuple[str, ...]:
    if args.ignored_headers is None:
        return DEFAULT_IGNORED_HEADERS
    return tuple(name for name in args.ignored_headers if name.casefold() != "none")


def _mismatch_reply(text: str | None) -> str:
    if text is None:
        return DEFAULT_MISMATCH_REPLY
    match = SERVER_LINE.match(text)
    if (
        match is None
        or text[0] not in "45"
        or "x" in match.group(1).lower()
        or match.group(2) == "-"
    ):
        raise UsageError(
            "--mismatch-reply wants a 4xx or 5xx reply line, such as '550 5.7.0 not as scripted'"
        )
    if not text.isprintable():
        raise UsageError("--mismatch-reply contains a control character")
    return text


def run(
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
    environ: Mapping[str, str],
    data_dir: Path,
) -> int:
    """Serve as ``args`` say; returns the exit status."""
    if args.key is not None and args.cert is None:
        raise UsageError("--key needs --cert")
    script = load_script(args.script, _values(args, environ), _ignored(args))
    context = cafile = None
    if script.needs_tls:
        context, cafile = tls_context(args.cert, args.key, data_dir / "server-tls")
    settings = Settings(context, args.timeout or 30.0, _mismatch_reply(args.mismatch_reply))
    connections = args.connections or 1
    server = PlaybackServer(
        script, settings, host=args.host, port=args.port, connections=connections
    )
    return asyncio.run(_serve(server, out, err, cafile))


def _show(out: TextIO, line: str) -> None:
    print(line, file=out, flush=True)


async def _serve(server: PlaybackServer, out: TextIO, err: TextIO, cafile: Path | None) -> int:
    await server.start()
    times = "once" if server.connections == 1 else f"{server.connections} times"
    _show(out, f"listening on {server.address} (serving {inert(server.script.path)} {times})")
    if cafile is not None:
        _show(out, f"CA certificate: {cafile}")
        _show(out, f"  clients trust it with --cafile {shlex.quote(str(cafile))}")
    try:
        await server.done.wait()
    finally:
        await server.stop(grace=0.5)
    for note in dict.fromkeys(server.notes):
        _show(out, f"note: {inert(note)}")
    if server.failures:
        for failure in server.failures:
            _show(err, inert(failure))
        return 1
    _show(out, f"{inert(server.script.path)}: served {times} as scripted")
    return 0
