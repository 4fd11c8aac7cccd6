"""Every way the command line ends: one line on stderr (or the help on stdout) and a
documented exit status, whichever command raised what."""

from __future__ import annotations

import errno
import importlib
import io
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from cli_runner import run_cli

from smtpshell.cli.status import ExitStatus, describe_os_error, outcome
from smtpshell.core.dns import NAMESERVER_ENV
from smtpshell.errors import SmtpShellError, UsageError, UsageProblems
from smtpshell.server import BackgroundServer
from smtpshell.server.auth import UserSpecError
from smtpshell.server.network import ServerError

TRANSCRIPT = "220\n> NOOP\n250\n> QUIT\n221\n"


def not_a_directory(tmp_path: Path) -> Path:
    """A path whose parent is a regular file: nothing can be created there."""
    regular = tmp_path / "regular-file"
    regular.write_text("")
    return regular / "below"


def test_statuses_are_the_documented_numbers() -> None:
    assert [int(status) for status in ExitStatus] == [0, 1, 2, 130]


@pytest.mark.parametrize("args", [["--help"], ["serve", "--help"], ["replay", "--help"]])
def test_help_goes_to_stdout_with_status_0(args: list[str]) -> None:
    out, err, status = run_cli(*args)
    assert status == ExitStatus.OK
    assert out.startswith(f"usage: smtpshell {' '.join(args[:-1])}".rstrip())
    assert err == ""


@pytest.mark.parametrize(
    ("args", "environ", "line"),
    [
        (["--bogus"], {}, "smtpshell: error: unrecognized arguments: --bogus"),
        (
            ["serve", "--port", "70000"],
            {},
            "smtpshell serve: error: argument --port: "
            "port must be a number from 0 to 65535, not '70000'",
        ),
        (
            ["serve", "--user", "alice:se\x07cret"],
            {},
            "smtpshell serve: error: --user must not contain control characters",
        ),
        (
            ["--nameserver", "[::1"],
            {},
            "smtpshell: error: --nameserver: bad address '[::1': unclosed '[' or nothing inside",
        ),
        (
            [],
            {NAMESERVER_ENV: "nope:dns"},
            f"smtpshell: error: --nameserver: {NAMESERVER_ENV}: "
            "'nope:dns': port must be a number from 1 to 65535, not 'dns'",
        ),
        (["replay", "--jobs", "0", "x"], {}, "smtpshell replay: error: argument --jobs"),
    ],
)
def test_usage_error_is_one_line_with_status_2(
    args: list[str], environ: dict[str, str], line: str
) -> None:
    out, err, status = run_cli(*args, environ={"NO_COLOR": "1", **environ})
    assert status == ExitStatus.USAGE
    assert err.startswith(line) and err.count("\n") == 1, err
    assert out == ""


def test_failure_of_a_subcommand_is_one_line_with_status_1(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        _out, err, status = run_cli(
            "serve", "--port", str(port), environ={"XDG_DATA_HOME": str(tmp_path)}
        )
    assert status == ExitStatus.FAILURE
    assert (
        err
        == f"smtpshell serve: error: cannot listen on 127.0.0.1:{port}: address already in use\n"
    )


def replay_with_junit(server: BackgroundServer, tmp_path: Path, junit: Path) -> list[str]:
    transcript = tmp_path / "noop.smtp"
    transcript.write_text(TRANSCRIPT, encoding="utf-8")
    return [
        "replay",
        str(transcript),
        "--connect",
        f"127.0.0.1:{server.port}",
        "--junit",
        str(junit),
    ]


def test_an_unwritable_report_is_a_usage_error_before_anything_is_sent(
    server: BackgroundServer, tmp_path: Path
) -> None:
    junit = not_a_directory(tmp_path) / "junit.xml"
    out, err, status = run_cli(*replay_with_junit(server, tmp_path, junit))
    assert "PASS" not in out
    assert status == ExitStatus.USAGE
    assert err == f"smtpshell replay: error: --junit {junit}: cannot write: Not a directory\n"


def test_os_error_through_the_real_program(tmp_path: Path) -> None:
    """An OSError (here the maildir under a regular file) is the file and the errno's
    words, status 1, no traceback."""
    store = not_a_directory(tmp_path) / "maildir"
    result = subprocess.run(
        [sys.executable, "-m", "smtpshell", "serve", "--port", "0", "--tls-port", "0",
         "--store", str(store)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1", "XDG_DATA_HOME": str(tmp_path)},
    )  # fmt: skip
    assert result.returncode == ExitStatus.FAILURE
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("smtpshell serve: error: ") and str(store) in result.stderr
    assert "Not a directory" in result.stderr, result.stderr


class InterruptedStdin(io.StringIO):
    """Piped input during which the user presses Ctrl-C."""

    def readline(self, size: int | None = -1) -> str:
        raise KeyboardInterrupt


def test_interrupt_ends_the_line_with_status_130() -> None:
    _out, err, status = run_cli(stdin=InterruptedStdin())
    assert status == ExitStatus.INTERRUPTED
    assert err == "\n"


def test_ctrl_c_in_the_real_program_exits_130(server: BackgroundServer, tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "smtpshell", "--connect", f"127.0.0.1:{server.port}"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1", "XDG_DATA_HOME": str(tmp_path)},
    )
    try:
        assert process.stdin is not None and process.stderr is not None
        # A line refused locally: once its error shows, the shell is back at reading
        # stdin, with no reply being waited for.
        process.stdin.write("NOOP\x00\n")
        process.stdin.flush()
        assert process.stderr.readline().startswith("error: refusing to send")
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == ExitStatus.INTERRUPTED
    assert err == "\n"


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (UsageError("x"), ExitStatus.USAGE),
        (UserSpecError("x"), ExitStatus.USAGE),
        (SmtpShellError("x"), ExitStatus.FAILURE),
        (ServerError("x"), ExitStatus.FAILURE),
        (FileNotFoundError(errno.ENOENT, "No such file or directory", "f"), ExitStatus.FAILURE),
        (KeyboardInterrupt(), ExitStatus.INTERRUPTED),
    ],
)
def test_outcome_of_each_kind_of_exception(exc: BaseException, status: ExitStatus) -> None:
    assert outcome(exc, "smtpshell").status == status


def test_several_usage_problems_are_a_line_each() -> None:
    shown = outcome(UsageProblems(["a.smtp:1: no value for ${X}", "b.smtp: cannot read"]), "p")
    assert shown.message == "p: error: a.smtp:1: no value for ${X}\np: error: b.smtp: cannot read\n"
    assert shown.status == ExitStatus.USAGE


def test_an_unexpected_exception_is_raised_again() -> None:
    bug = ZeroDivisionError("a bug")
    with pytest.raises(ZeroDivisionError):
        outcome(bug, "smtpshell")


@pytest.mark.parametrize(
    ("exc", "text"),
    [
        (
            FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), "/x/y"),
            "/x/y: No such file or directory",
        ),
        (
            OSError(errno.EXDEV, os.strerror(errno.EXDEV), "a", None, "b"),
            f"a -> b: {os.strerror(errno.EXDEV)}",
        ),
        (OSError(errno.EIO, os.strerror(errno.EIO)), os.strerror(errno.EIO)),
        (OSError("no errno at all"), "no errno at all"),
    ],
)
def test_describe_os_error(exc: OSError, text: str) -> None:
    assert describe_os_error(exc) == text


def _package_modules() -> list[str]:
    import pkgutil

    import smtpshell

    names = [info.name for info in pkgutil.walk_packages(smtpshell.__path__, "smtpshell.")]
    return [name for name in names if not name.endswith("__main__")]  # runs the program


@pytest.mark.parametrize("module_name", _package_modules())
def test_errors_raised_on_purpose_share_one_root(module_name: str) -> None:
    """One root (smtpshell.errors.SmtpShellError) for every error the package
    defines, so the command line can map each to one line and a status."""
    module = importlib.import_module(module_name)
    defined = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, BaseException)
        and value.__module__ == module_name
    ]
    assert all(issubclass(error, SmtpShellError) for error in defined), defined
    if module_name in ("smtpshell.server.network", "smtpshell.server.auth"):
        assert defined  # ServerError, UserSpecError: the scan does see them
