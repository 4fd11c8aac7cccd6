"""Colour by meaning: one theme with semantic names, one console per program."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

STYLES = {
    "reply.positive": "bold green",
    "reply.intermediate": "bold cyan",
    "reply.transient": "bold yellow",
    "reply.permanent": "bold red",
    "reply.unknown": "bold magenta",
    # Its own colour: many terminals show no italics, and the code is what to look up.
    "reply.enhanced": "italic magenta",
    "reply.text": "",
    "reply.decoded": "dim italic",
    "client": "blue",
    "secret": "dim",
    "control": "reverse",
    "notice": "dim",
    "warning": "yellow",
    "error": "bold red",
    "tls": "green",
    "heading": "bold",
    "pass": "bold green",
    "fail": "bold red",
}


# Wider than any reply line a server may send (8 KiB, protocol/reply.py): nothing
# piped wraps.
PIPE_WIDTH = 1 << 16


def colour_wanted(stream: IO[str], environ: Mapping[str, str] | None = None) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR", "") != "":
        return False
    return _is_terminal(stream)


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def make_console(stream: IO[str] | None = None, colour: bool | None = None) -> Console:
    from rich.console import Console
    from rich.theme import Theme

    target = stream if stream is not None else sys.stdout
    wanted = colour_wanted(target) if colour is None else colour
    return Console(
        file=stream,
        # Piped output has no width to fit, unless COLUMNS gives one: a table row stays
        # one line a script can read (rich would assume 80 columns).
        width=None if _is_terminal(target) or os.environ.get("COLUMNS") else PIPE_WIDTH,
        theme=Theme(STYLES),
        force_terminal=wanted,
        no_color=not wanted,
        color_system="auto" if wanted else None,
        highlight=False,
        markup=False,
        emoji=False,
        soft_wrap=True,
    )
