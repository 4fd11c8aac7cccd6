"""Drive smtpshell through a real pseudo-terminal, as a user does.

What a pty shows is full of escape sequences (colours, cursor moves), so matching
happens on the text with them stripped, from where the last match ended.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import pexpect

_ESCAPES = re.compile(
    r"\x1b\[[0-9;?<=>]*[ -/]*[@-~]"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC
    r"|\x1b[()][0-9A-Za-z]"  # charset
    r"|\x1b[=>78DEHMNOcZ]"
)


def strip_escapes(text: str) -> str:
    return _ESCAPES.sub("", text).replace("\r", "")


class ShellPty:
    def __init__(
        self,
        args: list[str],
        data_home: Path,
        env: dict[str, str] | None = None,
        program: list[str] | None = None,
    ) -> None:
        """Run ``python -m smtpshell ARGS``, or ``program`` (a command and its
        arguments, such as a shell pipeline) when given."""
        environ = dict(os.environ)
        environ.update(
            XDG_DATA_HOME=str(data_home),
            PROMPT_TOOLKIT_NO_CPR="1",
            TERM="xterm-256color",
            COLUMNS="160",
            LINES="50",
        )
        environ.pop("NO_COLOR", None)
        environ.update(env or {})
        self.raw = ""
        self._pos = 0
        command = program or [sys.executable, "-m", "smtpshell", *args]
        self.child = pexpect.spawn(
            command[0],
            command[1:],
            env=environ,
            encoding="utf-8",
            codec_errors="replace",
            timeout=15,
            dimensions=(50, 160),
        )

    @property
    def screen(self) -> str:
        """Everything shown so far, escape sequences removed."""
        return strip_escapes(self.raw)

    def _pump(self, timeout: float) -> None:
        try:
            self.raw += self.child.read_nonblocking(65536, timeout=timeout)
        except pexpect.TIMEOUT:
            pass
        except pexpect.EOF:
            raise

    def expect(self, pattern: str, timeout: float = 15) -> re.Match[str]:
        """Wait until ``pattern`` (a regex) appears after the previous match."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen
            match = regex.search(text, self._pos)
            if match:
                self._pos = match.end()
                return match
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"{pattern!r} not seen within {timeout} s; screen after last match:\n"
                    + text[self._pos :][-3000:]
                )
            try:
                self._pump(min(remaining, 0.2))
            except pexpect.EOF:
                text = self.screen
                match = regex.search(text, self._pos)
                if match:
                    self._pos = match.end()
                    return match
                raise AssertionError(
                    f"{pattern!r} not seen before the program ended; screen:\n"
                    + text[self._pos :][-3000:]
                ) from None

    def type(self, line: str) -> None:
        """Type a line and press Enter."""
        self.child.send(line + "\r")

    def keys(self, keys: str) -> None:
        self.child.send(keys)

    def close(self) -> int | None:
        """Press Ctrl-D until the program ends; returns its exit status."""
        if self.child.closed:
            return self.child.exitstatus
        # Ctrl-D is only EOF at an idle prompt; while the shell waits for a reply
        # the terminal is in cooked mode, so repeat until the program ends.
        for _ in range(20):
            try:
                self.child.sendcontrol("d")
                self._pump(0.5)
                self._pump(0.1)
            except (pexpect.EOF, OSError):
                break
        else:
            self.child.terminate(force=True)
        self.child.close()
        return self.child.exitstatus

    def wait_exit(self, timeout: float = 15) -> int | None:
        while True:
            try:
                self._pump(timeout)
            except pexpect.EOF:
                break
        self.child.close()
        return self.child.exitstatus


def converse(sh: ShellPty, steps: list[tuple[str, str]], timeout: float = 15) -> None:
    """Type each line, then wait for its regex on the screen."""
    for line, expected in steps:
        sh.type(line)
        sh.expect(expected, timeout)
