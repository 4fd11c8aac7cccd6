"""Helpers for the interop tests against the real Postfix + Dovecot + DNS.

The servers come from ``tests/servers/start`` (see ``interop_env``). These helpers
build what a user would type (base64 computed by ``auth_text``, independently of
smtpshell's own encoders), and what the shell and the Postfix log should show.
They import nothing from smtpshell: the smoke tests use them too.
"""

from __future__ import annotations

import hashlib
import re
import ssl
import uuid

from auth_text import b64
from interop_env import InteropEnv, InteropUser


def alice_login_session(env: InteropEnv, body: list[str]) -> list[str]:
    """A piped session: log in as alice with AUTH LOGIN (typed base64) and mail her
    ``body`` (message lines, before the "."), then QUIT."""
    alice = env.alice
    return [
        "EHLO client.test",
        "AUTH LOGIN",
        b64(alice.address),
        b64(alice.password),
        f"MAIL FROM:<{alice.address}>",
        f"RCPT TO:<{alice.address}>",
        "DATA",
        *body,
        ".",
        "QUIT",
    ]


def plain_response(user: InteropUser, password: str | None = None) -> str:
    """The AUTH PLAIN initial response ``base64(\\0user\\0password)`` (RFC 4616 2)."""
    secret = user.password if password is None else password
    return b64(b"\0" + user.address.encode("utf-8") + b"\0" + secret.encode("utf-8"))


def marker(prefix: str) -> str:
    """A token unique to one test run, to find its message in a maildir."""
    return f"{prefix}-{uuid.uuid4().hex}"


def server_fingerprint(env: InteropEnv) -> str:
    """SHA-256 of the server certificate, as ``AB:CD:...`` (what `tls` should show)."""
    pem = env.server_cert_file.read_text(encoding="ascii")
    digest = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def improper_pipelining(env: InteropEnv, needle: str) -> list[str]:
    """Postfix's "improper command pipelining" log lines that mention ``needle``.

    smtpd logs one when a client sends before the reply to CONNECT, EHLO, DATA...
    (RFC 2920 3.1), quoting the bytes it read ahead.
    """
    text = env.postfix_log.read_text(encoding="utf-8", errors="replace")
    return [
        line
        for line in text.splitlines()
        if "improper command pipelining" in line and needle in line
    ]


def prompt(env: InteropEnv, port: int, state: str) -> str:
    """The regex of the shell's prompt, e.g. ``127\\.0\\.0\\.1:10025 tls>``."""
    return re.escape(f"{env.host}:{port} {state}>")
