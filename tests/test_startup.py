"""What each way of starting imports: nothing heavy until it is needed.

``--version`` and every ``--help`` import argparse and little else; a piped session
imports what talking SMTP needs (asyncio, ssl) but no prompt, no history, no rich
(its output is not a terminal) and no certificate parser (nobody looked at the
certificate). Each case runs the real command line in a child interpreter and lists
the modules it imported beyond those the interpreter had at start (``site`` may
load some on a given machine; they are not smtpshell's doing).

Plain output (``PlainConsole``) must read exactly as rich's colourless output did.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from pty_shell import ShellPty
from server_fixtures import stored_messages

from smtpshell.protocol.reply import Reply
from smtpshell.render.events import reply_plain, reply_text
from smtpshell.render.plain import PlainConsole, expand_tabs
from smtpshell.render.theme import make_console
from smtpshell.server import BackgroundServer

# Costly to import and needed by none of the fast paths (FIELD-NOTES "Costs measured").
HEAVY = (
    "asyncio",
    "ssl",
    "certifi",
    "rich",
    "prompt_toolkit",
    "platformdirs",
    "cryptography",
    "aiosmtpd",
    "dns",
    "re2",
    "email",
)
# A session talks SMTP over asyncio, and ssl comes with it; the rest it needs not.
HEAVY_FOR_A_SESSION = tuple(name for name in HEAVY if name not in ("asyncio", "ssl"))

# Runs the command line as ``python -m smtpshell`` does, then writes the top-level
# names of the modules imported meanwhile to the file named by argv[1].
CHILD = """\
import json, sys
before = set(sys.modules)
from smtpshell.cli.main import main
try:
    status = main(sys.argv[2:])
finally:
    new = sorted({name.partition(".")[0] for name in set(sys.modules) - before})
    with open(sys.argv[1], "w") as out:
        json.dump(new, out)
sys.exit(status)
"""


def imported_by(
    args: list[str], tmp_path: Path, stdin: bytes = b""
) -> tuple[set[str], subprocess.CompletedProcess[bytes]]:
    """Run ``smtpshell ARGS`` with stdout and stderr to pipes; the packages it
    imported, and the finished process."""
    listing = tmp_path / "modules.json"
    home = tmp_path / "data-home"
    home.mkdir(exist_ok=True)
    environ = {**os.environ, "XDG_DATA_HOME": str(home)}
    environ.pop("NO_COLOR", None)  # no colour because stdout is a pipe, not because asked
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(listing), *args],
        input=stdin,
        capture_output=True,
        timeout=30,
        env=environ,
    )
    assert b"Traceback" not in result.stderr, result.stderr.decode()
    return set(json.loads(listing.read_text())), result


@pytest.mark.parametrize(
    "args",
    [["--version"], ["--help"], ["serve", "--help"], ["replay", "--help"]],
    ids=" ".join,
)
def test_version_and_help_import_nothing_heavy(args: list[str], tmp_path: Path) -> None:
    modules, result = imported_by(args, tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.startswith(b"smtpshell 0.") or b"usage: smtpshell" in result.stdout
    assert modules.isdisjoint(HEAVY), sorted(modules.intersection(HEAVY))


MESSAGE = b"Subject: start-up\r\n\r\nhello\r\n"


def _one_transaction(first: str = "EHLO me\n") -> bytes:
    body = MESSAGE.decode().replace("\r\n", "\n")
    return (
        f"{first}MAIL FROM:<a@example.test>\nRCPT TO:<b@example.test>\nDATA\n{body}.\nQUIT\n"
    ).encode()


def test_a_piped_session_imports_no_prompt_no_rich_no_history(
    server: BackgroundServer, tmp_path: Path
) -> None:
    modules, result = imported_by(
        ["127.0.0.1", str(server.port)], tmp_path, stdin=_one_transaction()
    )
    assert result.returncode == 0, result.stderr.decode()
    assert stored_messages(server) == [MESSAGE]
    assert b"250 OK" in result.stdout
    assert b"\x1b" not in result.stdout  # not a terminal: no colour codes
    assert modules.isdisjoint(HEAVY_FOR_A_SESSION), sorted(modules & set(HEAVY_FOR_A_SESSION))


def test_a_tls_handshake_does_not_parse_the_certificate(
    server: BackgroundServer, tmp_path: Path
) -> None:
    """The certificate is read (cryptography) only when something looks at it."""
    args = ["--starttls", "--cafile", str(server.ca_file), "127.0.0.1", str(server.port)]
    modules, result = imported_by(args, tmp_path, stdin=_one_transaction(first=""))
    assert result.returncode == 0, result.stderr.decode()
    assert b"TLS established" in result.stdout
    assert stored_messages(server) == [MESSAGE]
    assert "cryptography" not in modules
    assert modules.isdisjoint(HEAVY_FOR_A_SESSION), sorted(modules & set(HEAVY_FOR_A_SESSION))


def test_the_tls_command_still_shows_the_certificate(
    server: BackgroundServer, tmp_path: Path
) -> None:
    args = ["--starttls", "--cafile", str(server.ca_file), "127.0.0.1", str(server.port)]
    modules, result = imported_by(args, tmp_path, stdin=b"tls\nQUIT\n")
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout.decode()
    assert "SHA-256" in out and "valid until" in out, out
    assert "\x1b" not in out
    assert {"cryptography", "rich"} <= modules  # loaded for the command that needs them


def test_a_table_on_the_plain_console_is_laid_out_by_rich_without_colour() -> None:
    from smtpshell.render.tables import help_table

    rows = [("connect HOST", "connect to a server"), ("tls", "show TLS and the certificate")]
    plain, rich = io.StringIO(), io.StringIO()
    PlainConsole(plain).print(help_table(rows))
    make_console(rich, colour=False).print(help_table(rows))
    assert plain.getvalue() == rich.getvalue()
    assert "connect to a server" in plain.getvalue()


SAMPLES = [
    "",
    "250 OK",
    "trailing spaces   ",
    "a\tb",
    "two\tlines\nwith\ttabs",
    "wide \u4e2d\u6587\tthen",
    "combining e\u0301\tthen",
    "zero\u200bwidth\tthen",
    "soft\xadhyphen\tthen",
    "emoji \U0001f600\tthen",
    "bell\x07 cr\r ff\x0c vt\x0b bs\x08",
    "[bold]not markup[/] :smile: not an emoji",
    "x" * 300 + "\tlong",
]


@pytest.mark.parametrize("text", SAMPLES, ids=repr)
def test_plain_console_writes_what_the_colourless_rich_console_wrote(text: str) -> None:
    plain, rich = io.StringIO(), io.StringIO()
    PlainConsole(plain).print(text, style="notice")
    make_console(rich, colour=False).print(text, style="notice")
    assert plain.getvalue() == rich.getvalue()


def test_expand_tabs_counts_columns_from_the_line_start() -> None:
    assert expand_tabs("ab\tc") == "ab      c"
    assert expand_tabs("12345678\tx") == "12345678        x"


@pytest.mark.parametrize(
    "reply",
    [
        Reply(250, ("OK",)),
        Reply(250, ("mx.example.test", "SIZE 1000", "2.0.0 PIPELINING")),
        Reply(550, ("5.1.1 no such user\tthere",)),
        Reply(334, ("VXNlcm5hbWU6",)),
        Reply(421, ("bye \x1b[2J",)),
    ],
    ids=repr,
)
def test_a_plain_reply_has_the_characters_of_the_coloured_one(reply: Reply) -> None:
    assert reply_plain(reply) == reply_text(reply).plain


def test_the_server_package_names_load_on_first_use() -> None:
    import smtpshell.server as server_package

    for name in server_package.__all__:
        assert getattr(server_package, name) is not None
    with pytest.raises(AttributeError):
        _ = server_package.NoSuchThing  # type: ignore[attr-defined]


def test_nothing_is_imported_between_the_greeting_and_the_first_prompt(
    server: BackgroundServer, start_shell: Callable[..., ShellPty]
) -> None:
    """Whatever the first prompt needs is loaded before connecting: once the server
    has spoken, the prompt follows at once. -X importtime reports each import on the
    same terminal, in order with the screen."""
    sh = start_shell("127.0.0.1", str(server.port), env={"PYTHONPROFILEIMPORTTIME": "1"})
    greeting = sh.expect(r"220 \S+ ESMTP")
    prompt = sh.expect(rf"127\.0\.0\.1:{server.port} plain>")
    between = sh.screen[greeting.end() : prompt.start()]
    assert "import time:" not in between, between
