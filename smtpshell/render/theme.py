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
    "reply.enhanced": "italic",
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


def colour_wanted(stream: IO[str], environ: Mapping[str, str] | None = None) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR", "") != "":
        return False
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
        theme=Theme(STYLES),
        force_terminal=wanted,
        no_color=not wanted,
        color_system="auto" if wanted else None,
        highlight=False,
        markup=False,
        emoji=False,
        soft_wrap=True,
    )
