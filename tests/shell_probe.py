"""Run smtpshell as ``python -m smtpshell`` does, keeping a log of the order of three
things inside it: each write to the server, each reply taken in, and each time a
prompt is left.

    python tests/shell_probe.py LOG ARGS...

A pty test reads the log afterwards to check an order the screen cannot show (a
command written before the prompt was left; a group written before any reply).
Nothing here changes what the program does: the wrapped methods are called as they
were, and the log is written after them.
"""

from __future__ import annotations

import atexit
import sys
from typing import Any

from prompt_toolkit.application import Application

from smtpshell.cli.main import main
from smtpshell.core.session import Session

log = open(sys.argv[1], "a", encoding="utf-8", buffering=1)  # noqa: SIM115 (program-long)
atexit.register(log.close)
write, on_reply, run_async = Session._write, Session._on_reply, Application.run_async


def logged_write(self: Session, stream: Any, data: bytes) -> None:
    write(self, stream, data)
    for line in data.decode("utf-8", "replace").splitlines():
        log.write(f"wrote {line}\n")


def logged_on_reply(self: Session, reply: Any) -> None:
    log.write(f"reply {reply.code}\n")
    on_reply(self, reply)


async def logged_run_async(self: Application[Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return await run_async(self, *args, **kwargs)
    finally:
        log.write("left the prompt\n")


Session._write = logged_write  # type: ignore[method-assign]
Session._on_reply = logged_on_reply  # type: ignore[method-assign]
Application.run_async = logged_run_async  # type: ignore[method-assign]
raise SystemExit(main(sys.argv[2:]))
