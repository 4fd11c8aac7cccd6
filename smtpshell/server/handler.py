"""What the embedded server does with a session: check credentials, store messages.

An aiosmtpd handler: aiosmtpd calls the ``handle_*`` hooks and ``auth_*`` mechanisms.
Imported only once a server starts (aiosmtpd is slow to import).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiosmtpd.smtp import (
    MISSING,
    SMTP,
    AuthResult,
    Envelope,
    LoginPassword,
    Session,
    TLSSetupException,
)

from smtpshell.protocol.endpoint import format_host
from smtpshell.server.auth import UserDirectory, cram_md5_challenge
from smtpshell.server.store import MaildirStore

EventSink = Callable[[str], None]


def describe_peer(peer: Any) -> str:
    """``127.0.0.1:1234`` or ``[::1]:1234`` from a socket address tuple."""
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{format_host(str(peer[0]))}:{peer[1]}"
    return str(peer)


class MaildirHandler:
    """Accepts every envelope, stores each message in a maildir, reports events."""

    def __init__(self, store: MaildirStore, users: UserDirectory, emit: EventSink) -> None:
        self.store = store
        self.users = users
        self._emit = emit

    def _authenticated(self, mechanism: str, peer: Any, name: str | None, login: bytes) -> None:
        where = describe_peer(peer)
        if name is None:
            shown = login.decode("utf-8", errors="backslashreplace")
            self._emit(f"AUTH {mechanism} failed for {shown!r} from {where}")
        else:
            self._emit(f"AUTH {mechanism} succeeded for {name!r} from {where}")

    def authenticate(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        """aiosmtpd's ``authenticator`` for its built-in PLAIN and LOGIN."""
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        name = self.users.check_password(auth_data.login, auth_data.password)
        self._authenticated(mechanism, session.peer, name, auth_data.login)
        if name is None:
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=name)

    async def auth_CRAM__MD5(self, server: SMTP, args: list[str]) -> AuthResult:
        """CRAM-MD5 (RFC 2195); aiosmtpd maps the ``__`` in the name to ``-``."""
        if len(args) != 1:
            # RFC 2195 has no initial response: the server speaks first.
            await server.push("501 5.5.2 CRAM-MD5 takes no initial response")
            return AuthResult(success=False, handled=True)
        challenge = cram_md5_challenge(server.hostname)
        response = await server.challenge_auth(challenge)
        if not isinstance(response, bytes):
            return AuthResult(success=False, handled=True)  # "*" or bad base64: answered
        name = self.users.check_cram_md5(challenge, response)
        login = response.rpartition(b" ")[0]
        assert server.session is not None
        self._authenticated("CRAM-MD5", server.session.peer, name, login)
        if name is None:
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=name)

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        # With this hook aiosmtpd no longer records the client's name itself.
        session.host_name = hostname
        if not self.users:
            # Without users there is nothing to log in as: offer no AUTH at all rather
            # than a mechanism list that can only ever answer 535.
            responses = [line for line in responses if not line.startswith("250-AUTH")]
        return responses

    async def handle_AUTH(
        self, server: SMTP, session: Session, envelope: Envelope, args: list[str]
    ) -> Any:
        if not self.users:
            return "502 5.5.1 AUTH not available: this server has no users (see --user)"
        return MISSING

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        try:
            # Off the event loop: a 50 MiB message with fsync must not stall other sessions.
            path = await asyncio.to_thread(self.store.deliver, content)
        except OSError as exc:
            self._emit(f"could not store a message from {envelope.mail_from}: {exc}")
            return "451 Requested action aborted: could not store the message"
        sender = envelope.mail_from or "<>"
        recipients = ",".join(envelope.rcpt_tos)
        who = f", authenticated as {session.auth_data!r}" if session.authenticated else ""
        self._emit(f"stored {path} from {sender} to {recipients} ({len(content)} bytes{who})")
        return f"250 OK: stored as {path.name}"

    async def handle_exception(self, error: Exception) -> str:
        # Called for failed STARTTLS handshakes too (aiosmtpd then closes the connection
        # and sends nothing); the cause carries the TLS alert, which is what helps.
        cause = error.__cause__ or error
        what = "STARTTLS handshake failed" if isinstance(error, TLSSetupException) else "error"
        self._emit(f"{what}: {type(cause).__name__}: {cause}")
        return "451 Requested action aborted: error in processing"
