"""The real command line, run in-process with an injected environment and checked as
(stdout, stderr, exit status)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cli_runner import run_cli

from smtpshell import __version__
from smtpshell.server import BackgroundServer, MaildirStore, free_port


def test_version() -> None:
    out, _, status = run_cli("--version")
    assert (out.strip(), status) == (f"smtpshell {__version__}", 0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["--tls", "--starttls"], "not allowed with argument"),
        (["--connect", "host:99999"], "bad port '99999'"),
        (["--connect", "[::1"], "unclosed '['"),
        (["--timeout", "soon"], "not a number of seconds"),
        (["--demo", "--connect", "x"], "--demo and --connect exclude each other"),
        (["serve", "--user", "nocolon"], "NAME:PASSWORD"),
        (["serve", "--port", "http"], "port"),
        (["--connect", "ho\udcffst:25"], "not UTF-8"),  # undecodable argv (PEP 383)
        (["--connect", "mail\x1b[2J.example"], "control character"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    out, err, status = run_cli(*args)
    assert status == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err + out


def test_unreachable_host_is_one_line_exit_1() -> None:
    port = free_port()
    _out, err, status = run_cli("--connect", f"127.0.0.1:{port}")
    assert status == 1
    assert err.strip() == f"error: cannot connect to 127.0.0.1:{port}: Connection refused"


def test_missing_cafile_is_one_line(tmp_path: Path) -> None:
    # A usage error, found before anything connects: exit status 2.
    _, err, status = run_cli(
        "--connect", "127.0.0.1:1", "--tls", "--cafile", str(tmp_path / "nope.pem")
    )
    assert status == 2
    missing = tmp_path / "nope.pem"
    assert err.strip() == f"smtpshell: error: argument --cafile: {missing}: no such file"


def test_piped_session_reads_lines_like_a_user(server: BackgroundServer, tmp_path: Path) -> None:
    script = "\n".join(
        [
            "EHLO pipe.test",
            "MAIL FROM:<a@example.test>",
            "RCPT TO:<b@example.test>",
            "DATA",
            "Subject: piped",
            "",
            ".dot",
            ".",
            "QUIT",
            "",
        ]
    )
    out, err, status = run_cli(
        "--connect",
        f"127.0.0.1:{server.port}",
        stdin=script,
        environ={"NO_COLOR": "1", "XDG_DATA_HOME": str(tmp_path)},
    )
    assert status == 0, err
    assert "> EHLO pipe.test\n250-smtpshell.local" in out
    assert "354 End data" in out and "221 Bye" in out
    assert "\x1b[" not in out  # piped output carries no colour
    messages = MaildirStore(server.store).messages()
    assert [p.read_bytes() for p in messages] == [b"Subject: piped\r\n\r\n.dot\r\n"]


def test_piped_session_exit_status_reflects_errors(server: BackgroundServer) -> None:
    out, err, status = run_cli(
        "--connect", f"127.0.0.1:{server.port}", stdin="NOOP\nNOOP\x00x\nQUIT\n"
    )
    assert status == 1
    assert "error: refusing to send a control character (NUL)" in err
    assert "221" in out


def test_serve_help_lists_its_options() -> None:
    out, _, status = run_cli("serve", "--help")
    assert status == 0
    for option in ("--host", "--port", "--tls-port", "--user", "--store", "--auth-plaintext"):
        assert option in out


def test_help_lists_options_and_subcommands() -> None:
    out, _, status = run_cli("--help")
    assert status == 0
    for word in ("--connect", "--tls", "--starttls", "--cafile", "--insecure", "--demo", "serve"):
        assert word in out


def test_startup_imports_stay_light() -> None:
    # A CLI starts often: the heavy modules load only when needed.
    code = (
        "import sys, smtpshell.cli.main as m; "
        "print(sorted(n for n in ('rich', 'prompt_toolkit', 'aiosmtpd', 'cryptography', 'dns')"
        " if n in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_piped_session_does_not_load_the_prompt_machinery() -> None:
    port = free_port()
    code = (
        "import sys; from smtpshell.cli.main import main; "
        f"main(['--connect', '127.0.0.1:{port}', '--no-history']); "
        "print('prompt_toolkit' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], input="", capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
