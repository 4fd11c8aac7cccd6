"""The real mail servers started by ``tests/servers/start``, as the tests see them.

``sudo tests/servers/start`` runs a private Postfix (with Dovecot as its SASL
server) and an authoritative DNS server for ``interop.test`` and friends
(``env.nameserver``, for ``--nameserver``) on 127.0.0.1 and, once everything
answers, writes a JSON state file
(``$SMTPSHELL_INTEROP_DIR/interop.json``, default directory
``/var/tmp/smtpshell-interop``). This module reads that file.

Typical use in a test marked ``@pytest.mark.interop``::

    env = require_interop()          # skips (or fails, see below) if not running
    with smtplib.SMTP_SSL(env.host, env.smtps_port, context=env.ssl_context()) as s:
        ...
    delivered = find_delivered(env, marker, mailbox="alice")
    assert delivered == expected_delivery(original_message)

``require_interop()`` skips the test with a reason saying how to start the
servers. With ``SMTPSHELL_INTEROP_REQUIRED=1`` in the environment (CI) it fails
instead, so a broken setup cannot pass as "all skipped".

What Postfix delivers
---------------------
Postfix's virtual delivery agent writes one file per message into
``<maildir>/new/``. Compared with the message the client sent (the DATA
content, after SMTP dot-unstuffing):

* four trace headers are prepended: ``Return-Path:``, ``X-Original-To:``,
  ``Delivered-To:`` and Postfix's own ``Received:`` header (folded over
  several lines); :func:`delivered_message` removes exactly these;
* every line ending is a bare LF: CRLF is stored as LF, and a last line
  without a line ending gets an LF;
* Postfix also changes some content, which :func:`expected_delivery` refuses
  to model (it raises ``ValueError``): a bare CR becomes a space (or vanishes
  before the line end), a bare LF ends a line, the header fields ``Bcc:``,
  ``Resent-Bcc:``, ``Content-Length:`` and ``Return-Path:`` are removed, a
  blank line is inserted where the header block ends without one (a body
  without headers, or a non-header line among the headers), and a leading
  ``From `` line becomes an ``X-Mailbox-Line:`` header.

Everything else arrives byte for byte: header order, folding and spacing, 8-bit
and UTF-8 text, NUL bytes, long lines (tested up to 9,000 bytes). Postfix adds
no ``Date:``, ``Message-ID:``, ``From:`` or ``To:`` header and rewrites no
address (header rewriting is off for all clients in this instance). So for a
well-formed message, ``delivered_message(path) == expected_delivery(message)``,
where ``expected_delivery`` just turns CRLF into LF.
"""

from __future__ import annotations

import json
import os
import re
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

STATE_DIR_ENV = "SMTPSHELL_INTEROP_DIR"
DEFAULT_STATE_DIR = Path("/var/tmp/smtpshell-interop")
STATE_FILE_NAME = "interop.json"
REQUIRED_ENV = "SMTPSHELL_INTEROP_REQUIRED"
START_HINT = "run `sudo tests/servers/start` first (Debian, root; see tests/servers/README.md)"


class InteropUnavailable(Exception):
    """The interop servers are not running or not usable from this process."""


@dataclass(frozen=True)
class InteropUser:
    name: str  # short name: "alice", "bob"
    address: str  # the SASL user name and mail address, e.g. "alice@interop.test"
    password: str  # may be non-ASCII (bob's is)
    maildir: Path  # where mail for `address` is delivered


@dataclass(frozen=True)
class InteropEnv:
    state_dir: Path
    host: str  # "127.0.0.1"
    server_name: str  # name in the server certificate ("localhost"; 127.0.0.1 is in it too)
    mx_name: str  # interop.test's MX host, also in the certificate ("mx.interop.test")
    domain: str  # "interop.test"
    smtp_port: int  # plain SMTP, STARTTLS offered, no AUTH, no relaying
    smtps_port: int  # implicit TLS, AUTH PLAIN/LOGIN/CRAM-MD5, AUTH required before MAIL
    submission_port: int  # STARTTLS required before AUTH, AUTH required before MAIL
    dns_port: int  # authoritative DNS (UDP and TCP) for interop.test and friends
    nameserver: str  # "127.0.0.1:10053", for --nameserver
    dns_zone: Path  # the zone file served (a copy of tests/servers/dns/interop.zone)
    ca_file: Path  # PEM of the private CA that signed the server certificate
    mail_dir: Path  # virtual_mailbox_base
    users: Mapping[str, InteropUser]  # by short name; SASL users
    mailboxes: Mapping[str, Path]  # address -> maildir (users + postmaster)
    auth_mechanisms: tuple[str, ...]
    message_size_limit: int
    postfix_log: Path
    dovecot_log: Path
    dns_log: Path

    @property
    def alice(self) -> InteropUser:
        """The user with an ASCII password."""
        return self.users["alice"]

    @property
    def bob(self) -> InteropUser:
        """The user with a non-ASCII password (UTF-8 on the wire)."""
        return self.users["bob"]

    @property
    def server_cert_file(self) -> Path:
        """The server certificate (PEM), beside the CA."""
        return self.ca_file.parent / "server.pem"

    def ssl_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts only the private CA."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def maildir(self, mailbox: str) -> Path:
        """Maildir of a user by short name ("alice") or by address."""
        if mailbox in self.users:
            return self.users[mailbox].maildir
        if "@" not in mailbox:
            mailbox = f"{mailbox}@{self.domain}"
        try:
            return self.mailboxes[mailbox]
        except KeyError:
            raise KeyError(f"no mailbox {mailbox!r}; known: {sorted(self.mailboxes)}") from None


def state_file() -> Path:
    return Path(os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR) / STATE_FILE_NAME


def load_env(path: Path | None = None) -> InteropEnv:
    """Read the state file; raise InteropUnavailable if there is none."""
    path = path or state_file()
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InteropUnavailable(f"interop servers not running (no {path}): {START_HINT}") from None
    except OSError as exc:
        raise InteropUnavailable(f"cannot read {path} ({exc}): {START_HINT}") from None
    try:
        data = json.loads(raw)
        users = {
            name: InteropUser(
                name=name,
                address=u["address"],
                password=u["password"],
                maildir=Path(u["maildir"]),
            )
            for name, u in data["users"].items()
        }
        return InteropEnv(
            state_dir=Path(data["state_dir"]),
            host=data["host"],
            server_name=data["server_name"],
            mx_name=data["mx_name"],
            domain=data["domain"],
            smtp_port=int(data["ports"]["smtp"]),
            smtps_port=int(data["ports"]["smtps"]),
            submission_port=int(data["ports"]["submission"]),
            dns_port=int(data["ports"]["dns"]),
            nameserver=data["nameserver"],
            dns_zone=Path(data["dns_zone"]),
            ca_file=Path(data["ca_file"]),
            mail_dir=Path(data["mail_dir"]),
            users=users,
            mailboxes={addr: Path(p) for addr, p in data["mailboxes"].items()},
            auth_mechanisms=tuple(data["auth_mechanisms"]),
            message_size_limit=int(data["message_size_limit"]),
            postfix_log=Path(data["logs"]["postfix"]),
            dovecot_log=Path(data["logs"]["dovecot"]),
            dns_log=Path(data["logs"]["dns"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise InteropUnavailable(f"{path} is malformed ({exc!r}): {START_HINT}") from None


def _check_usable(env: InteropEnv) -> None:
    try:
        with socket.create_connection((env.host, env.smtp_port), timeout=2):
            pass
    except OSError as exc:
        raise InteropUnavailable(
            f"state file {state_file()} exists but {env.host}:{env.smtp_port} does not "
            f"answer ({exc}): the servers died or were stopped; {START_HINT}"
        ) from None
    # Delivered files are mode 0600, owned by the maildir's owner.
    euid = os.geteuid()
    unreadable = [str(env.ca_file)] if not os.access(env.ca_file, os.R_OK) else []
    for user in env.users.values():
        try:
            if euid != 0 and user.maildir.stat().st_uid != euid:
                unreadable.append(str(user.maildir))
        except OSError:
            unreadable.append(str(user.maildir))
    if unreadable:
        raise InteropUnavailable(
            f"cannot read {', '.join(unreadable)} as uid {euid}: run the tests as root or "
            "as the user who ran `sudo tests/servers/start` (delivery runs as $SUDO_UID)"
        )


@cache
def _probe() -> InteropEnv | str:
    try:
        env = load_env()
        _check_usable(env)
    except InteropUnavailable as exc:
        return str(exc)
    return env


def require_interop() -> InteropEnv:
    """The running servers, or skip the test (fail if SMTPSHELL_INTEROP_REQUIRED=1)."""
    result = _probe()
    if isinstance(result, InteropEnv):
        return result
    if os.environ.get(REQUIRED_ENV, "") not in ("", "0"):
        pytest.fail(f"{REQUIRED_ENV} is set but {result}", pytrace=False)
    pytest.skip(result)


# --------------------------------------------------------------------------
# Delivered mail
# --------------------------------------------------------------------------

_PREPENDED_FIELDS = (b"return-path:", b"x-original-to:", b"delivered-to:")
_HEADER_LINE = re.compile(rb"[!-9;-~]+:")
_REMOVED_FIELDS = (b"bcc", b"resent-bcc", b"content-length", b"return-path")


def delivered_message(path: Path | str) -> bytes:
    """The message as delivered to ``path``, minus the headers Postfix prepended.

    Removes the leading ``Return-Path:``, ``X-Original-To:`` and
    ``Delivered-To:`` lines and the first ``Received:`` header (with its
    continuation lines), which must be Postfix's. Line endings stay LF.
    Raises ValueError when the file does not start that way.
    """
    data = Path(path).read_bytes()
    pos = 0
    seen: set[bytes] = set()
    while True:
        end = data.find(b"\n", pos) + 1
        line = data[pos:end].lower()
        field = next((f for f in _PREPENDED_FIELDS if line.startswith(f)), None)
        if end == 0 or field is None or field in seen:
            break
        seen.add(field)
        pos = end
    if seen != set(_PREPENDED_FIELDS):
        raise ValueError(f"{path}: expected Postfix's Return-Path/X-Original-To/Delivered-To")
    if not data.startswith(b"Received: ", pos):
        raise ValueError(f"{path}: expected Postfix's Received: header after Delivered-To:")
    start = pos
    pos = data.index(b"\n", pos) + 1
    while data[pos : pos + 1] in (b" ", b"\t"):
        pos = data.index(b"\n", pos) + 1
    if b"(Postfix)" not in data[start:pos]:
        raise ValueError(f"{path}: the first Received: header is not Postfix's")
    return data[pos:]


def expected_delivery(message: bytes) -> bytes:
    """What :func:`delivered_message` returns for ``message`` sent over SMTP.

    ``message`` is the content as the client meant it (before dot-stuffing),
    with CRLF line endings. Postfix stores lines with LF endings and ends the
    last line. Raises ValueError for content Postfix would change in other
    ways (see the module docstring), so a comparison never passes by accident.
    """
    if not message:
        raise ValueError("empty message: Postfix delivers only its own headers")
    lines = message.split(b"\r\n")
    if lines[-1] == b"":
        lines.pop()
    for number, line in enumerate(lines, 1):
        if b"\r" in line or b"\n" in line:
            raise ValueError(f"line {number} has a bare CR or LF: Postfix would change it")
    in_headers = True
    for number, line in enumerate(lines, 1):
        if not in_headers:
            break
        if line == b"":
            in_headers = False
        elif line[:1] in (b" ", b"\t"):
            if number == 1:
                raise ValueError("the first line is a continuation line")
        elif not _HEADER_LINE.match(line):
            raise ValueError(
                f"line {number} ({line[:40]!r}) is not a header field: Postfix would insert a "
                "blank line before it"
            )
        elif line.split(b":", 1)[0].strip().lower() in _REMOVED_FIELDS:
            raise ValueError(f"line {number}: Postfix removes the {line.split(b':')[0]!r} header")
    return b"".join(line + b"\n" for line in lines)


def _as_bytes(marker: bytes | str) -> bytes:
    return marker.encode("utf-8") if isinstance(marker, str) else marker


POLL_INTERVAL = 0.05  # seconds between two looks at the maildir


def wait_for_delivery(
    env: InteropEnv, marker: bytes | str, *, mailbox: str = "alice", timeout: float = 10.0
) -> Path:
    """Path of the newest message in ``mailbox`` containing ``marker``.

    Polls ``new/`` and ``cur/`` until ``timeout``; raises AssertionError naming
    the Postfix log if nothing arrives.
    """
    needle = _as_bytes(marker)
    maildir = env.maildir(mailbox)
    # Postfix delivers in its own processes and tells nobody when it is done:
    # polling the maildir until the deadline is all there is.
    deadline = time.monotonic() + timeout
    while True:
        found = []
        for sub in ("new", "cur"):
            try:
                entries = list(os.scandir(maildir / sub))
            except FileNotFoundError:
                continue
            for entry in entries:
                try:
                    if entry.is_file() and needle in Path(entry.path).read_bytes():
                        found.append((entry.stat().st_mtime_ns, entry.name, Path(entry.path)))
                except FileNotFoundError:  # moved between new/ and cur/
                    continue
        if found:
            return max(found)[2]
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"no message containing {needle!r} in {maildir} after {timeout:.0f}s "
                f"(see {env.postfix_log})"
            )
        time.sleep(POLL_INTERVAL)


def find_delivered(
    env: InteropEnv, marker: bytes | str, *, mailbox: str = "alice", timeout: float = 10.0
) -> bytes:
    """:func:`delivered_message` of the message containing ``marker`` (waits for it)."""
    return delivered_message(wait_for_delivery(env, marker, mailbox=mailbox, timeout=timeout))
