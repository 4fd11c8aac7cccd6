"""A data directory that cannot be used (XDG_DATA_HOME below a regular file, the
history file a directory): one line on stderr, never a traceback. The shell still
starts, without history; the server, which needs the directory, exits 1."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pexpect
import pytest
from cli_runner import run_cli
from pty_shell import strip_escapes

from smtpshell.cli.status import ExitStatus

DataHome = Callable[[Path], tuple[Path, Path]]


def below_a_regular_file(tmp_path: Path) -> tuple[Path, Path]:
    """XDG_DATA_HOME under a regular file, and the path whose creation fails."""
    regular = tmp_path / "regular-file"
    regular.write_text("")
    return regular / "data", regular / "data" / "smtpshell"


def history_is_a_directory(tmp_path: Path) -> tuple[Path, Path]:
    history = tmp_path / "data" / "smtpshell" / "history"
    history.mkdir(parents=True)
    return tmp_path / "data", history


def program_environment(data_home: Path) -> dict[str, str]:
    environ = {**os.environ, "XDG_DATA_HOME": str(data_home), "NO_COLOR": "1"}
    environ.update(PROMPT_TOOLKIT_NO_CPR="1", TERM="xterm-256color")
    return environ


class TerminalWithStderrApart:
    """The shell in a pseudo-terminal (so it prompts), its stderr kept in a file."""

    def __init__(self, data_home: Path, stderr_file: Path) -> None:
        command = f'exec "$0" -m smtpshell 2>"{stderr_file}"'
        self.child = pexpect.spawn(
            "/bin/sh",
            ["-c", command, sys.executable],
            env=program_environment(data_home),
            encoding="utf-8",
            timeout=15,
            dimensions=(50, 160),
        )
        self.seen = ""

    def wait_for(self, text: str) -> bool:
        """True once ``text`` is on the screen; False if the program ended first."""
        while text not in strip_escapes(self.seen):
            try:
                self.seen += self.child.read_nonblocking(65536, timeout=15)
            except pexpect.EOF:
                return text in strip_escapes(self.seen)
        return True

    def exit_status(self) -> int | None:
        self.child.expect(pexpect.EOF)
        self.child.close()
        return self.child.exitstatus


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Callable[[Path], TerminalWithStderrApart]]:
    started: list[TerminalWithStderrApart] = []

    def start(data_home: Path) -> TerminalWithStderrApart:
        started.append(TerminalWithStderrApart(data_home, tmp_path / "stderr"))
        return started[-1]

    yield start
    for shell in started:
        shell.child.close(force=True)


@pytest.mark.parametrize("broken", [below_a_regular_file, history_is_a_directory])
def test_interactive_shell_starts_without_history(
    tmp_path: Path, terminal: Callable[[Path], TerminalWithStderrApart], broken: DataHome
) -> None:
    data_home, failing = broken(tmp_path)
    shell = terminal(data_home)
    started = shell.wait_for("smtpshell>")  # the space is drawn as a cursor move
    errors = (tmp_path / "stderr").read_text(encoding="utf-8")
    assert started, errors
    shell.child.send("exit\r")
    assert shell.exit_status() == ExitStatus.OK
    errors = (tmp_path / "stderr").read_text(encoding="utf-8")
    assert errors.startswith(f"smtpshell: warning: no command history: {failing}: "), errors
    assert errors.count("\n") == 1, errors


def test_piped_shell_needs_no_data_directory(tmp_path: Path) -> None:
    data_home, _ = below_a_regular_file(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "smtpshell"],
        input="exit\n",
        capture_output=True,
        text=True,
        timeout=60,
        env=program_environment(data_home),
    )
    assert (result.returncode, result.stderr) == (ExitStatus.OK, "")


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["serve", "--port", "0", "--tls-port", "0"],
            "smtpshell serve: error: cannot write to the maildir {data}/maildir: Not a directory",
        ),
        (
            ["serve", "--port", "0", "--tls-port", "0", "--store", "{tmp}/maildir"],
            "smtpshell serve: error: cannot set up TLS certificates in {data}/server-tls: "
            "Not a directory",
        ),
        (
            ["--demo"],
            "smtpshell: error: cannot start the embedded server: "
            "cannot write to the maildir {data}/maildir: Not a directory",
        ),
    ],
)
def test_server_without_its_data_directory_exits_1(
    tmp_path: Path, args: list[str], line: str
) -> None:
    data_home, data = below_a_regular_file(tmp_path)
    args = [arg.format(tmp=tmp_path) for arg in args]
    expected = line.format(data=data) + "\n"
    result = subprocess.run(
        [sys.executable, "-m", "smtpshell", *args],
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        env=program_environment(data_home),
    )
    assert (result.returncode, result.stderr) == (ExitStatus.FAILURE, expected)
    # In-process, the data directory comes from the injected environment alone.
    _out, err, status = run_cli(*args, environ={"XDG_DATA_HOME": str(data_home)})
    assert (status, err) == (ExitStatus.FAILURE, expected)
