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
import shutil
import socket
import ssl
import statistics
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

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

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.greeted = 0.0
        self.arrived: list[float] = []
        self.replied: list[float] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        connection, _ = self.listener.accept()
        if self.tls is not None:
            connection = self.tls.wrap_socket(connection, server_side=True)
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


@dataclass
class Latencies:
    to_prompt: list[float] = field(default_factory=list)
    to_wire: list[float] = field(default_factory=list)
    to_screen: list[float] = field(default_factory=list)


def _session(
    bench: Bench,
    client: Callable[[int], list[str]],
    into: Latencies,
    prompt: str | None = PROMPT,
    tls: ssl.SSLContext | None = None,
    commands: int = 10,
) -> None:
    """Type ``commands`` NOOPs into ``client(port)``, each once the last reply showed.

    Without a prompt to wait for (openssl s_client), the greeting on screen says ready.
    """
    server = StampingServer(tls)
    env = {**bench.env, "TERM": "xterm-256color", "COLUMNS": str(COLUMNS), "LINES": str(ROWS)}
    env.pop("PROMPT_TOOLKIT_NO_CPR", None)
    terminal = Terminal(client(server.port), env)
    try:
        shown, at = terminal.wait_for(prompt or "stamping server", 0, timeout=30)
        if prompt:
            into.to_prompt.append(shown - server.greeted)
        for number in range(1, commands + 1):
            enter = terminal.type("NOOP\r")
            shown, at = terminal.wait_for(f"reply-{number:04d}", at)
            into.to_wire.append(server.arrived[number - 1] - enter)
            into.to_screen.append(shown - server.replied[number - 1])
            if prompt:
                _, at = terminal.wait_for(prompt, at)
        terminal.type("QUIT\r")
        if prompt:  # the shell stays open after the server closes: leave it
            terminal.wait_for("smtpshell>", at)
            terminal.type("exit\r")
    finally:
        terminal.close()
        server.close()


def _tls_contexts(directory: Path) -> ssl.SSLContext | None:
    """A server context with a throw-away self-signed certificate made by openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    key, cert = directory / "stamping-key.pem", directory / "stamping-cert.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def interactive(bench: Bench) -> list[Row]:
    sessions = 1 if bench.quick else 3
    plain, tls_shell, tls_openssl = Latencies(), Latencies(), Latencies()
    tls = _tls_contexts(bench.scratch)
    shell = [*bench.smtpshell, "--no-history"]
    try:
        for _ in range(sessions):  # interleaved, as the other cases
            _session(bench, lambda port: [*shell, "127.0.0.1", str(port)], plain)
            if tls is None:
                continue
            _session(
                bench,
                lambda port: [*shell, "--tls", "--insecure", "127.0.0.1", str(port)],
                tls_shell,
                prompt="tls>",
                tls=tls,
            )
            _session(
                bench,
                lambda port: ["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                              "-quiet", "-crlf"],
                tls_openssl,
                prompt=None,
                tls=tls,
            )  # fmt: skip
    except TimeoutError as failure:
        return [Row("interactive latency", f"FAILED ({failure})", "—", "—", "—", "**no**")]
    wire, screen, prompt = (
        statistics.median(x) for x in (plain.to_wire, plain.to_screen, plain.to_prompt)
    )
    bench.notes.append(
        f"Interactive latency: medians over {len(plain.to_wire)} NOOPs in {sessions} "
        "session(s) with a server in the benchmark that stamps each line, the pty "
        "answering ESC[6n as a terminal does."
    )
    rows = [
        Row("interactive: Enter to command on the wire", ms(wire), "—", "—", "≤2 ms",
            verdict(wire <= 0.002)),
        Row("interactive: reply sent to reply shown", ms(screen), "—", "—", "≤5 ms",
            verdict(screen <= 0.005)),
        Row("interactive: greeting sent to first prompt shown", ms(prompt), "—", "—",
            "≤100 ms", verdict(prompt <= 0.100)),
    ]  # fmt: skip
    if tls is not None:
        for what, mine, theirs in (
            ("Enter to command on the wire", tls_shell.to_wire, tls_openssl.to_wire),
            ("reply sent to reply shown", tls_shell.to_screen, tls_openssl.to_screen),
        ):
            a, b = statistics.median(mine), statistics.median(theirs)
            rows.append(
                Row(f"interactive over TLS: {what}", ms(a), f"openssl s_client {ms(b)}",
                    f"{a / b:.2f}x openssl s_client")
            )  # fmt: skip
    return rows
