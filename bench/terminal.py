"""Interactive latency: smtpshell in a pseudo-terminal, typed at as a person would.

A small SMTP server in this process stamps when each command arrives and when each
reply leaves; a reader thread stamps when text appears on the terminal. It answers
the cursor-position requests (ESC[6n) as a real terminal does: prompt_toolkit waits
for them.
"""

from __future__ import annotations

import fcntl
import os
import re
import socket
import statistics
import struct
import subprocess
import termios
import threading
import time

from context import Bench
from report import Row, ms, verdict

_ESCAPE = re.compile(
    r"\x1b\[[0-9;?<=>]*[ -/]*[@-~]"  # CSI: colours, cursor moves, modes
    r"|\x1b\][^\x07\x1b]*(\x07|\x1b\\)"  # OSC: window title
    r"|\x1b[()][0-9A-Za-z]|\x1b[=>78MDEc]"  # charsets, keypad, save/restore
)
ROWS, COLUMNS = 24, 100
# The end of the connected prompt ("127.0.0.1:PORT plain> "); the space after it is a
# cursor movement on screen, not a character.
PROMPT = "plain>"


class StampingServer:
    """Greets, answers every line with a numbered 250 (221 to QUIT), stamps both ways."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.greeted = 0.0
        self.arrived: list[float] = []
        self.replied: list[float] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        connection, _ = self.listener.accept()
        with connection:
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.greeted = time.perf_counter()
            connection.sendall(b"220 bench.test ESMTP stamping server\r\n")
            buffer = b""
            while chunk := connection.recv(4096):
                now = time.perf_counter()
                buffer += chunk
                while b"\r\n" in buffer:
                    line, buffer = buffer.split(b"\r\n", 1)
                    self.arrived.append(now)
                    number = len(self.arrived)
                    if line.upper() == b"QUIT":
                        connection.sendall(b"221 2.0.0 bye\r\n")
                        return
                    self.replied.append(time.perf_counter())
                    connection.sendall(f"250 2.0.0 reply-{number:04d}\r\n".encode())

    def close(self) -> None:
        self.listener.close()


class Terminal:
    """The master side of a pty: a reader thread keeps the screen text and its times."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        self.process = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
        )
        os.close(slave)
        self.text = ""  # escape sequences removed
        self._raw = ""
        self._lines = 0
        # (length of the text, when it reached that length): when a pattern showed.
        self._marks: list[tuple[int, float]] = []
        self.changed = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: the child closed the terminal
                chunk = b""
            now = time.perf_counter()
            if not chunk:
                with self.changed:
                    self.changed.notify_all()
                return
            text = chunk.decode("utf-8", "replace")
            tail = self._raw[-8:] + text
            for _ in range(tail.count("\x1b[6n")):
                # Where the cursor is, roughly: a real terminal always answers.
                self._lines = min(ROWS, self._lines + 1)
                os.write(self.master, f"\x1b[{self._lines};1R".encode())
            with self.changed:
                self._raw = self._raw + text
                self.text = _ESCAPE.sub("", self._raw)
                self._marks.append((len(self.text), now))
                self.changed.notify_all()

    def wait_for(self, pattern: str, start: int, timeout: float = 10.0) -> tuple[float, int]:
        """When ``pattern`` first showed after offset ``start`` of the text, and where."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while (found := self.text.find(pattern, start)) < 0:
                left = deadline - time.monotonic()
                if left <= 0 or not self.reader.is_alive():
                    raise TimeoutError(f"{pattern!r} never showed: {self.text[-300:]!r}")
                self.changed.wait(left)
            end = found + len(pattern)
            return next(stamp for length, stamp in self._marks if length >= end), end

    def type(self, keys: str) -> float:
        stamp = time.perf_counter()
        os.write(self.master, keys.encode())
        return stamp

    def close(self) -> None:
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.reader.join(10)
        os.close(self.master)


def _session(bench: Bench, commands: int) -> tuple[float, list[float], list[float]]:
    server = StampingServer()
    env = {**bench.env, "TERM": "xterm-256color", "COLUMNS": str(COLUMNS), "LINES": str(ROWS)}
    env.pop("PROMPT_TOOLKIT_NO_CPR", None)
    terminal = Terminal([*bench.smtpshell, "--no-history", "127.0.0.1", str(server.port)], env)
    try:
        shown, at = terminal.wait_for(PROMPT, 0, timeout=30)
        to_prompt = shown - server.greeted
        to_wire, to_screen = [], []
        for number in range(1, commands + 1):
            enter = terminal.type("NOOP\r")
            shown, at = terminal.wait_for(f"reply-{number:04d}", at)
            to_wire.append(server.arrived[number - 1] - enter)
            to_screen.append(shown - server.replied[number - 1])
            _, at = terminal.wait_for(PROMPT, at)
        terminal.type("QUIT\r")
    finally:
        terminal.close()
        server.close()
    return to_prompt, to_wire, to_screen


def interactive(bench: Bench) -> list[Row]:
    sessions = 1 if bench.quick else 3
    prompts, wires, screens = [], [], []
    for _ in range(sessions):
        try:
            to_prompt, to_wire, to_screen = _session(bench, 10)
        except TimeoutError as failure:
            failed = f"FAILED ({failure})"
            return [Row("interactive latency", failed, "—", "—", "—", "**no**")]
        prompts.append(to_prompt)
        wires += to_wire
        screens += to_screen
    wire, screen, prompt = (statistics.median(x) for x in (wires, screens, prompts))
    bench.notes.append(
        "Interactive latency: no yardstick (openssl s_client needs TLS, the stamping "
        "server speaks plain SMTP); medians over "
        f"{len(wires)} NOOPs in {sessions} session(s), the pty answering ESC[6n."
    )
    return [
        Row("interactive: Enter to command on the wire", ms(wire), "—", "—", "≤2 ms",
            verdict(wire <= 0.002)),
        Row("interactive: reply sent to reply shown", ms(screen), "—", "—", "≤5 ms",
            verdict(screen <= 0.005)),
        Row("interactive: greeting sent to first prompt shown", ms(prompt), "—", "—",
            "≤100 ms", verdict(prompt <= 0.100)),
    ]  # fmt: skip
