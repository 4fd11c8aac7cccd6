"""What the screen shows: nothing cut, words kept whole, enhanced codes in a colour of
their own, asynchronous lines on lines of their own, pastes sent as pasted.

Layout is judged on the screen a terminal would show: the pty's output is played on
a small terminal model (``Screen``), since the escapes that move the cursor decide
which text ends up on which line."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable

from hostile_server import HostileServer, Peer
from pty_shell import ShellPty, converse

from smtpshell.server import BackgroundServer

Start = Callable[..., ShellPty]
FINGERPRINT = re.compile(r"(?:[0-9A-F]{2}:){31}[0-9A-F]{2}")
EHLO = (
    b"250-mail.example.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n"
    b"250-ETRN\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n"
    b"250-SMTPUTF8\r\n250 CHUNKING\r\n"
)


class Screen:
    """A terminal reduced to what decides where text lands: printable characters,
    CR, LF, backspace, and the CSI cursor moves and erases. Colours are ignored."""

    _CSI = re.compile(r"\x1b\[([0-9;?<=>]*)[ -/]*([@-~])")
    _OTHER = re.compile(r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b.")

    def __init__(self, text: str) -> None:
        self.rows: list[list[str]] = [[]]
        self.row = self.col = 0
        index = 0
        while index < len(text):
            if text[index] == "\x1b":
                csi = self._CSI.match(text, index)
                if csi:
                    self._control(csi.group(1), csi.group(2))
                    index = csi.end()
                    continue
                other = self._OTHER.match(text, index)
                index = other.end() if other else index + 1
                continue
            self._char(text[index])
            index += 1

    def _char(self, char: str) -> None:
        if char == "\r":
            self.col = 0
        elif char == "\n":
            self.row += 1
        elif char == "\b":
            self.col = max(0, self.col - 1)
        elif char >= " ":
            line = self._line()
            line.extend(" " * (self.col + 1 - len(line)))
            line[self.col] = char
            self.col += 1

    def _line(self) -> list[str]:
        while len(self.rows) <= self.row:
            self.rows.append([])
        return self.rows[self.row]

    def _control(self, params: str, final: str) -> None:
        count = int(params) if params.isdigit() else 1
        if final == "A":
            self.row = max(0, self.row - count)
        elif final == "B":
            self.row += count
        elif final == "C":
            self.col += count
        elif final == "D":
            self.col = max(0, self.col - count)
        elif final == "G":
            self.col = count - 1
        elif final == "K" and params in ("", "0"):
            del self._line()[self.col :]
        elif final == "J" and params in ("", "0"):
            del self._line()[self.col :]
            del self.rows[self.row + 1 :]

    @property
    def lines(self) -> list[str]:
        return ["".join(row).rstrip() for row in self.rows]


def ehlo_server(after_quit: threading.Event | None = None) -> Callable[[Peer], object]:
    """A server that advertises Postfix's extensions; after QUIT's 221 it waits for
    ``after_quit`` (when given) before it closes the connection."""

    async def script(peer: Peer) -> None:
        await peer.send(b"220 mail.example.test ESMTP\r\n")
        while True:
            command = (await peer.command()).upper()
            if command.startswith("EHLO"):
                await peer.send(EHLO)
            elif command == "QUIT":
                await peer.send(b"221 2.0.0 Bye\r\n")
                if after_quit is not None:
                    loop = asyncio.get_running_loop()
                    await loop.run_in_executor(None, after_quit.wait, 10)
                peer.writer.close()
                return
            else:
                await peer.send(b"250 2.0.0 Ok: " + command.encode() + b"\r\n")

    return script


def _piped(
    port: int, stdin: str, *options: str, columns: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "XDG_DATA_HOME": os.environ.get("TMPDIR", "/tmp")}
    env.pop("COLUMNS", None)
    if columns is not None:
        env["COLUMNS"] = columns
    return subprocess.run(
        [sys.executable, "-m", "smtpshell", "--connect", f"127.0.0.1:{port}", *options],
        input=stdin, capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip


# -- nothing is cut ------------------------------------------------------------


def test_piped_tls_table_has_the_whole_fingerprint_and_no_trailing_spaces(
    server: BackgroundServer,
) -> None:
    result = _piped(server.tls_port, "tls\nEHLO me\ncaps\nQUIT\n", "--tls",
                    "--cafile", str(server.ca_file))  # fmt: skip
    assert result.returncode == 0, result
    sha = next(line for line in result.stdout.splitlines() if line.startswith("SHA-256"))
    assert FINGERPRINT.search(sha), sha
    assert "…" not in result.stdout
    padded = [line for line in result.stdout.splitlines() if line != line.rstrip()]
    assert padded == [], padded


def test_narrow_terminal_folds_the_fingerprint_and_keeps_words_whole(
    start_shell: Start, server: BackgroundServer
) -> None:
    sh = start_shell("--connect", f"127.0.0.1:{server.tls_port}", "--tls",
                     "--cafile", str(server.ca_file), env={"COLUMNS": "60"})  # fmt: skip
    converse(sh, [("tls", r"SHA-256[^\n]*\n(.*\n)+.*tls>")])
    assert sh.close() == 0
    lines = Screen(sh.raw).lines
    start = next(index for index, line in enumerate(lines) if line.startswith("SHA-256"))
    folded = "".join(line.split()[-1] for line in lines[start : start + 3] if ":" in line)
    assert FINGERPRINT.fullmatch(folded[: 32 * 3 - 1]), lines[start : start + 3]
    assert "…" not in sh.screen
    assert all(len(line) <= 60 for line in lines if "SHA-256" in line or ":" in line[:14])


def test_narrow_terminal_wraps_tables_on_word_boundaries(start_shell: Start) -> None:
    with HostileServer(ehlo_server()) as server:  # type: ignore[arg-type]
        sh = start_shell("--connect", f"127.0.0.1:{server.port}", env={"COLUMNS": "60"})
        converse(sh, [("EHLO me", r"250 CHUNKING"), ("caps", r"CHUNKING[^\n]*\n(.*\n)*.*plain>")])
        assert sh.close() == 0
    lines = Screen(sh.raw).lines
    table = lines[next(i for i, line in enumerate(lines) if line.startswith("Extension")) :]
    table = table[: next(i for i, line in enumerate(table) if "plain>" in line)]
    assert any(line.startswith("ENHANCEDSTATUSCODES ") for line in table), table
    assert all(len(line) <= 60 for line in table), table
    words = set(" ".join(table).split())
    for word in ("notifications", "ENHANCEDSTATUSCODES", "PIPELINING", "(RFC", "2920)"):
        assert word in words, (word, table)


def test_piped_output_with_columns_set_wraps_at_words_and_cuts_nothing() -> None:
    with HostileServer(ehlo_server()) as server:  # type: ignore[arg-type]
        result = _piped(server.port, "EHLO me\ncaps\nQUIT\n", columns="50")
    assert result.returncode == 0, result
    table = result.stdout.split("> caps\n", 1)[1].split("> QUIT", 1)[0].splitlines()
    assert all(len(line) <= 50 and line == line.rstrip() for line in table), table
    words = " ".join(table).split()
    assert "ENHANCEDSTATUSCODES" in words and "notifications" in words, table


# -- colour --------------------------------------------------------------------


def test_enhanced_status_codes_have_a_colour_of_their_own(start_shell: Start) -> None:
    """Italics alone do not show on many terminals: the code needs a colour."""
    with HostileServer(ehlo_server()) as server:  # type: ignore[arg-type]
        sh = start_shell("--connect", f"127.0.0.1:{server.port}")
        converse(sh, [("NOOP", r"250 2\.0\.0 Ok")])
        assert sh.close() == 0
    style = re.search(r"\x1b\[([0-9;]*)m2\.0\.0", sh.raw)
    assert style, sh.raw[-500:]
    params = style.group(1).split(";")
    assert any(p in {"30", "31", "32", "33", "34", "35", "36", "37", "38"} or p.startswith("9")
               for p in params), params  # fmt: skip
