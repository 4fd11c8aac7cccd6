"""Local commands driven through a CommandContext written here: no terminal, no Shell."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from rich.console import Console, RenderableType

from smtpshell.core.dns import ResolverConfig
from smtpshell.core.options import ConnectOptions
from smtpshell.core.session import Session
from smtpshell.errors import NotConnected, UsageError
from smtpshell.protocol.endpoint import TlsMode
from smtpshell.shell.commands import build_registry
from smtpshell.shell.context import CommandContext
from smtpshell.shell.registry import Registry


@dataclass
class Context:
    """Everything a handler may touch, each effect written down."""

    local_commands: Registry = field(default_factory=build_registry)
    session: Session = field(default_factory=Session)
    resolver: ResolverConfig = field(default_factory=ResolverConfig)
    connect_defaults: ConnectOptions = field(default_factory=ConnectOptions)
    recording_path: Path | None = None
    answers: list[str] = field(default_factory=list)
    said: list[str] = field(default_factory=list)
    asked: list[tuple[str, bool]] = field(default_factory=list)
    connected_to: list[ConnectOptions] = field(default_factory=list)
    left: bool = False

    def show(self, renderable: RenderableType) -> None:
        console = Console(record=True, width=300, color_system=None, markup=False)
        console.print(renderable)
        self.said += [line.rstrip() for line in console.export_text().splitlines()]

    def info(self, message: str) -> None:
        self.said.append(f"info: {message}")

    def error(self, message: str) -> None:
        self.said.append(f"error: {message}")

    async def ask(self, question: str, secret: bool = False) -> str:
        self.asked.append((question, secret))
        return self.answers.pop(0)

    async def connect(self, options: ConnectOptions) -> bool:
        self.connected_to.append(options)
        return True

    def start_recording(self, path: Path, replace: bool = False) -> None:
        self.recording_path = path

    def stop_recording(self) -> Path | None:
        path, self.recording_path = self.recording_path, None
        return path

    def exit(self) -> None:
        self.left = True


def run(ctx: Context, line: str) -> None:
    found = ctx.local_commands.match(line)
    assert found is not None, line
    command, rest = found
    handler_context: CommandContext = ctx  # what mypy checks: Context is a CommandContext

    async def handle() -> None:
        await command.handler(handler_context, rest)

    asyncio.run(handle())


def test_b64_encodes_the_rest_as_typed() -> None:
    ctx = Context()
    run(ctx, "b64 hi there")
    run(ctx, "b64 -d aGk=")
    run(ctx, "b64 -- -d x")
    run(ctx, "unb64 AGEAYg==")
    assert ctx.said == ["aGkgdGhlcmU=", "hi", "LWQgeA==", "\\x00a\\x00b"]


def test_b64_without_text_asks_with_echo_off() -> None:
    ctx = Context(answers=["pässword", ""])
    run(ctx, "b64")
    run(ctx, "b64")
    assert ctx.asked == [("Text to encode (not shown): ", True)] * 2
    assert ctx.said == ["cMOkc3N3b3Jk", "info: (empty text: its base64 is empty too)"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("unb64 !!!", "not valid base64"),
        ("unb64", "nothing to decode"),
        ("? nope", "no local command 'nope'"),
        ("mx", "the following arguments are required: domain"),
        ("connect", "connect needs HOST\\[:PORT\\] or --mx DOMAIN"),
        ("connect a --mx b", "not both"),
        ("connect a:25 --port 26", "--port goes with --mx"),
        ('connect "a', "no closing quotation"),
        ("caps x", "caps takes no arguments"),
        ("record stop", "not recording"),
    ],
)
def test_usage_errors(line: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        run(Context(), line)


@pytest.mark.parametrize("line", ["disconnect", "login alice"])
def test_commands_that_need_a_connection(line: str) -> None:
    with pytest.raises(NotConnected):
        run(Context(), line)


def test_connect_hands_the_options_to_the_context() -> None:
    ctx = Context()
    run(ctx, "open mail.example.test:587 --starttls --helo 'my host'")
    [options] = ctx.connected_to
    assert (options.host, options.port, options.mode, options.helo) == (
        "mail.example.test",
        587,
        "starttls",
        "my host",
    )


def test_help_lists_every_command_then_the_rule() -> None:
    ctx = Context()
    run(ctx, "?")
    *table, rule, data_rule = ctx.said
    assert [line.split("  ")[0].rstrip() for line in table] == [
        usage for usage, _ in build_registry().help_rows()
    ]
    assert table[-1].split()[-1] == "${VARS})."  # record's summary ends the table
    assert rule.startswith("info: A line whose first word is a local command")
    assert data_rule.startswith("info: In DATA, every line is message text")


def test_help_for_one_command() -> None:
    ctx = Context()
    run(ctx, "?  CAPABILITIES ")
    assert ctx.said == [
        "caps",
        "Show the last EHLO reply as a table: each extension and what it means.",
    ]


def test_record_starts_reports_and_stops() -> None:
    ctx = Context()
    run(ctx, "record")
    run(ctx, "record ~/session.txt")
    assert ctx.recording_path == Path("~/session.txt").expanduser()
    run(ctx, "record")
    run(ctx, "record stop")
    assert ctx.recording_path is None
    path = Path("~/session.txt").expanduser()
    assert ctx.said == [
        "info: not recording",
        f"info: recording to {path}",
        f"info: recording saved to {path}: replay it with smtpshell replay {path}",
    ]


def test_state_reports_without_a_connection() -> None:
    ctx = Context()
    run(ctx, "tls")
    run(ctx, "caps")
    assert ctx.said == [
        "info: not using TLS (not connected)",
        "info: no EHLO reply yet (connect, then type EHLO <name>)",
    ]


def test_exit_and_bye_leave() -> None:
    for line in ("exit", "BYE"):
        ctx = Context()
        run(ctx, line)
        assert ctx.left


def test_connect_takes_the_shells_defaults_for_what_it_is_not_given() -> None:
    """`smtpshell --timeout 1 --cafile ca.pem` holds for every `connect` of the shell."""
    defaults = ConnectOptions(cafile=Path("ca.pem"), insecure=False, helo="me.test", timeout=1)
    ctx = Context(connect_defaults=defaults)
    run(ctx, "connect mail.example.test:2525 --starttls")
    run(ctx, "connect mail.example.test --timeout 7 --helo other.test")
    first, second = ctx.connected_to
    assert (first.cafile, first.helo, first.timeout) == (Path("ca.pem"), "me.test", 1)
    assert first.mode is TlsMode.STARTTLS and first.port == 2525
    assert (second.cafile, second.helo, second.timeout) == (Path("ca.pem"), "other.test", 7)
    assert second.mode is None
