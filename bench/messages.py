"""The messages each case sends, and the same conversation in each client's input format.

A message is bytes with CRLF line ends, starting with a header that carries a token
unique to it, so the delivery check can find it among other mail. Some body lines
start with a dot, so dot-stuffing is exercised on every path.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from delivery import TOKEN_HEADER


def new_token() -> str:
    return secrets.token_hex(8)


def message(token: str, sender: str, recipient: str, size: int = 2048) -> bytes:
    """A message of about ``size`` bytes (at least its headers and one line)."""
    head = (
        TOKEN_HEADER + token.encode() + b"\r\n"
        + f"From: <{sender}>\r\nTo: <{recipient}>\r\nSubject: bench {token}\r\n\r\n".encode()
    )  # fmt: skip
    lines = max(1, (size - len(head)) // len(_line(0)))
    # A leading dot every 1,000 lines: dot-stuffing must round-trip.
    body = b"".join((b"." if n % 1000 == 7 else b"") + _line(n) for n in range(lines))
    return head + body


def _line(number: int) -> bytes:
    return b"The quick brown fox jumps over the lazy dog; line %08d of the text.\r\n" % number


def dot_stuffed(text: bytes) -> bytes:
    """``text`` (CRLF lines) as it goes on the wire after DATA, RFC 5321 4.5.2."""
    stuffed = text.replace(b"\r\n.", b"\r\n..")
    return (b"." + stuffed if stuffed.startswith(b".") else stuffed) + b".\r\n"


def session_script(sender: str, recipient: str, messages: list[bytes], ehlo: bool = True) -> bytes:
    """What a user pipes into ``smtpshell HOST PORT``: commands, message text, ``.``."""
    parts = [b"EHLO bench.test\n"] if ehlo else []
    for text in messages:
        parts += [
            f"MAIL FROM:<{sender}>\nRCPT TO:<{recipient}>\nDATA\n".encode(),
            text,
            b".\n",
        ]
    parts.append(b"QUIT\n")
    return b"".join(parts)


def transcript(address: str, sender: str, recipient: str, text: bytes) -> str:
    """A one-transaction transcript (see docs/transcripts.md) that sends ``text``."""
    client = [f"> {line}" if line else ">" for line in text.decode().split("\r\n")[:-1]]
    # A client line starting with "#" would be a comment; the bench's text has none.
    return "\n".join(
        [
            f"> smtpshell --connect {address}",
            "220",
            "> EHLO bench.test",
            "250",
            f"> MAIL FROM:<{sender}>",
            "250",
            f"> RCPT TO:<{recipient}>",
            "250",
            "> DATA",
            "354",
            *client,
            "> .",
            "250",
            "> QUIT",
            "221",
            "",
        ]
    )


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
