"""Which typed line is a local command: matching, aliases, the help it gives."""

from __future__ import annotations

import pytest

from smtpshell.shell.commands import build_registry
from smtpshell.shell.context import CommandContext
from smtpshell.shell.registry import LocalCommand, Registry

HELP_ORDER = ["?", "connect", "disconnect", "tls", "exit", "b64", "unb64", "login", "caps",
                  "mx", "check", "record"]  # fmt: skip


async def _documented(ctx: CommandContext, rest: str) -> None:
    """First line of help.

    More that ? does not show.
    """


async def _undocumented(ctx: CommandContext, rest: str) -> None:
    pass


def matched(line: str) -> tuple[str, str] | None:
    found = build_registry().match(line)
    return (found[0].name, found[1]) if found else None


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("tls", ("tls", "")),
        ("TLS", ("tls", "")),
        ("Mx example.com", ("mx", "example.com")),
        ("   mx example.com", ("mx", "example.com")),
        ("open 127.0.0.1:25", ("connect", "127.0.0.1:25")),
        ("CLOSE", ("disconnect", "")),
        ("bye", ("exit", "")),
        ("commands", ("?", "")),
        ("capabilities", ("caps", "")),
        ("b64  two  spaces ", ("b64", " two  spaces ")),  # only the first space is dropped
    ],
)
def test_local_commands_match_in_any_case_by_name_or_alias(
    line: str, expected: tuple[str, str]
) -> None:
    assert matched(line) == expected


@pytest.mark.parametrize(
    "line", ["\\tls", "\\mx example.com", "HELP", "AUTH PLAIN", "DATA", "mxx", "tls:", "", "   "]
)
def test_other_lines_are_not_local_commands(line: str) -> None:
    assert matched(line) is None


def test_the_registry_lists_commands_in_help_order() -> None:
    registry = build_registry()
    assert [command.name for command in registry] == HELP_ORDER
    assert [row[0].split(" ")[0] for row in registry.help_rows()] == HELP_ORDER


def test_each_build_is_complete_and_independent() -> None:
    first, second = build_registry(), build_registry()
    assert first is not second
    assert first.names() == second.names()
    assert "record" in first.names() and "bye" in first.names()


def test_help_for_a_name_or_alias() -> None:
    registry = build_registry()
    usage, summary = registry.help_for("commands") or ("", "")
    assert usage == "? [COMMAND]"
    assert summary == "List local commands (SMTP's own HELP goes to the server)."
    assert registry.help_for("HELP") is None


def test_summary_is_the_first_docstring_line_and_usage_defaults_to_the_name() -> None:
    registry = Registry(
        [LocalCommand("alpha", _documented), LocalCommand("beta", _undocumented, usage="beta X")]
    )
    assert registry.help_rows() == [("alpha", "First line of help."), ("beta X", "")]


def test_a_name_declared_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="'two' declared twice"):
        Registry([LocalCommand("one", _documented, aliases=("two",)),
                  LocalCommand("two", _documented)])  # fmt: skip
