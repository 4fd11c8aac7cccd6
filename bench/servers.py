"""The server every case talks to: the real Postfix when it runs, else the embedded one."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from delivery import Mailbox

# Free ports, and room for the 100 MB message with its headers and dot-stuffing.
EMBEDDED_OPTIONS = ("--port", "0", "--tls-port", "0", "--size-limit", "200000000")

# Where the interop servers (tests/servers/start, also run by CI) describe themselves.
DEFAULT_INTEROP_DIR = "/var/tmp/smtpshell-interop"


def default_interop_file() -> Path:
    return Path(os.environ.get("SMTPSHELL_INTEROP_DIR", DEFAULT_INTEROP_DIR)) / "interop.json"


@dataclass(frozen=True)
class Target:
    label: str
    host: str
    port: int
    sender: str
    recipient: str
    mailbox: Mailbox
    ca_file: Path | None  # trust for STARTTLS on ``port``
    size_limit: int | None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2) as sock:
            sock.settimeout(2)
            return sock.recv(4).startswith(b"220")
    except OSError:
        return False


def _reply(reader: BinaryIO) -> list[bytes]:
    """The lines of one reply: up to one whose code is followed by a space."""
    lines = []
    while line := reader.readline():
        lines.append(line)
        if line[3:4] != b"-":
            break
    return lines


def advertised_size(host: str, port: int) -> int | None:
    """The SIZE the server announces in its EHLO reply (RFC 1870), None if none."""
    with socket.create_connection((host, port), timeout=10) as sock, sock.makefile("rb") as reader:
        _reply(reader)  # the greeting
        sock.sendall(b"EHLO bench.test\r\n")
        lines = _reply(reader)
        sock.sendall(b"QUIT\r\n")
    for line in lines:
        if found := re.match(rb"250[- ]SIZE (\d+)", line):
            return int(found.group(1)) or None
    return None


def find_postfix(interop_file: Path) -> Target | None:
    """The Postfix described by ``interop_file``, if that file exists and it answers."""
    try:
        state = json.loads(interop_file.read_text())
    except (OSError, ValueError):
        return None
    host, port = state.get("host", "127.0.0.1"), int(state["ports"]["smtp"])
    if not _answers(host, port):
        return None
    recipient = "bob@interop.test"
    return Target(
        label=f"Postfix at {host}:{port}",
        host=host,
        port=port,
        sender="alice@interop.test",
        recipient=recipient,
        mailbox=Mailbox(Path(state["mailboxes"][recipient]), stores_lf=True),
        ca_file=Path(state["ca_file"]) if state.get("ca_file") else None,
        size_limit=advertised_size(host, port),
    )


class EmbeddedServer:
    """``smtpshell serve`` in its own process, on a free port, storing into ``directory``."""

    def __init__(self, smtpshell: Sequence[str], directory: Path, env: Mapping[str, str]):
        self.directory = directory
        maildir = directory / "maildir"
        self.process = subprocess.Popen(
            [*smtpshell, "serve", *EMBEDDED_OPTIONS, "--store", str(maildir)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**env, "XDG_DATA_HOME": str(directory / "data")},
        )
        assert self.process.stdout is not None
        self._drain: threading.Thread | None = None
        port, ca_file = None, None
        for line in self.process.stdout:
            if found := re.match(r"listening on [^ ]+:(\d+) \(SMTP, STARTTLS\)", line):
                port = int(found.group(1))
            if found := re.match(r"CA certificate: (.+)", line):
                ca_file = Path(found.group(1).strip())
            if line.startswith("press Ctrl-C"):
                break
        if port is None:
            self.stop()
            raise RuntimeError("smtpshell serve did not start")
        # Keep reading its output: a full pipe would stall the server mid-benchmark.
        self._drain = threading.Thread(target=self.process.stdout.read, daemon=True)
        self._drain.start()
        self.target = Target(
            label="embedded server (smtpshell serve)",
            host="127.0.0.1",
            port=port,
            sender="alice@bench.test",
            recipient="bob@bench.test",
            mailbox=Mailbox(maildir, stores_lf=False),
            ca_file=ca_file,
            size_limit=advertised_size("127.0.0.1", port),
        )

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        if self._drain is not None:
            self._drain.join(10)  # its read ends at EOF, now that the server is gone
        assert self.process.stdout is not None
        self.process.stdout.close()
