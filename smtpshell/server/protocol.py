"""aiosmtpd's SMTP protocol, adjusted to behave like the servers users meet in the wild.

Imported only once a server starts (aiosmtpd is slow to import).
"""

from __future__ import annotations

import asyncio
import logging

from aiosmtpd.smtp import SMTP, syntax

_aiosmtpd_log = logging.getLogger("mail.log")


class _DropLoginDataDeprecation(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "login_data is deprecated" not in record.getMessage()


def quiet_aiosmtpd_logging() -> None:
    """Keep aiosmtpd's log off the user's terminal; idempotent.

    aiosmtpd 1.4 logs "Session.login_data is deprecated" at WARNING on every successful
    AUTH, from its own code. With no handler configured, Python's last-resort handler
    would print that (and every other warning) to stderr, over the shell's prompt. A
    NullHandler stops that; applications that configure logging still get the records.
    """
    if not any(isinstance(f, _DropLoginDataDeprecation) for f in _aiosmtpd_log.filters):
        _aiosmtpd_log.addFilter(_DropLoginDataDeprecation())
    if not any(isinstance(h, logging.NullHandler) for h in _aiosmtpd_log.handlers):
        _aiosmtpd_log.addHandler(logging.NullHandler())


class ServerProtocol(SMTP):
    """One SMTP connection: aiosmtpd plus the behaviour of common real servers."""

    # The prompts Postfix, Exim and Sendmail send for AUTH LOGIN (draft-murchison-sasl-
    # login); aiosmtpd's own are "User Name\0" and "Password\0". A walkthrough written
    # against a real server shows "334 VXNlcm5hbWU6" and should replay unchanged.
    AuthLoginUsernameChallenge = "Username:"
    AuthLoginPasswordChallenge = "Password:"

    @property
    def session_task(self) -> asyncio.Task[None] | None:
        """The task running this session's command loop, once connected."""
        return self._handler_coroutine

    def abort(self) -> None:
        """Drop the connection at once, without waiting for buffered output."""
        transport = self.transport
        if transport is not None:
            transport.abort()  # type: ignore[attr-defined]

    def _shutdown_notice(self, text: str) -> None:
        # RFC 5321 3.8: a server that must close a session says 421 first, so the client
        # (and the person at the shell) learns why instead of seeing a bare disconnect.
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(f"421 {self.hostname} {text}\r\n".encode())  # type: ignore[attr-defined]

    def close_for_shutdown(self) -> None:
        """Say 421 and close: the server is stopping."""
        self._shutdown_notice("Service shutting down, closing transmission channel")
        if self.transport is not None:
            self.transport.close()

    def _timeout_cb(self) -> None:
        # aiosmtpd closes idle connections silently; RFC 5321 4.5.3.2 expects a 421.
        self._shutdown_notice("Idle timeout, closing transmission channel")
        super()._timeout_cb()  # type: ignore[no-untyped-call]

    @syntax("STARTTLS", when="tls_context")
    async def smtp_STARTTLS(self, arg: str) -> None:
        # aiosmtpd would layer a second TLS session inside the first; RFC 3207 4 forbids
        # the client from asking, so refuse instead of attempting it.
        if self._tls_protocol is not None:
            await self.push("503 5.5.1 TLS already active")
            return
        await super().smtp_STARTTLS(arg)

    @syntax("AUTH <mechanism>")
    async def smtp_AUTH(self, arg: str) -> None:
        # SASL mechanism names are case-insensitive in practice (the walkthroughs type
        # "auth login"; Postfix accepts it); aiosmtpd looks them up case-sensitively.
        if arg:
            mechanism, sep, rest = arg.partition(" ")
            arg = mechanism.upper() + sep + rest
        # aiosmtpd answers AUTH after HELO with 500; Postfix accepts it, and the classic
        # telnet walkthroughs do "HELO" then "AUTH LOGIN". Treat the session as ESMTP for
        # the duration of the AUTH exchange only (it changes nothing else in between).
        session = self.session
        if session is None or session.extended_smtp or not session.host_name:
            await super().smtp_AUTH(arg)
            return
        session.extended_smtp = True
        try:
            await super().smtp_AUTH(arg)
        finally:
            session.extended_smtp = False
