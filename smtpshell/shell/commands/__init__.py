"""The shell's local commands, one module per concern, gathered by name.

Each handler's first docstring line is its help. Nothing registers itself on
import: :func:`build_registry` is the one list, and its order is the ``?`` table's.
"""

from __future__ import annotations

from smtpshell.shell.commands import auth, capabilities, check, connection, dns, help, record
from smtpshell.shell.registry import Registry


def build_registry() -> Registry:
    """Every local command: help, the connection and leaving it, then the helpers."""
    return Registry(
        (
            help.HELP,
            *connection.COMMANDS,
            help.EXIT,
            *auth.COMMANDS,
            *capabilities.COMMANDS,
            *dns.COMMANDS,
            *check.COMMANDS,
            *record.COMMANDS,
        )
    )
