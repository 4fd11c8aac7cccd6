"""A whole AUTH exchange on a Session (RFC 4954): PLAIN, LOGIN, CRAM-MD5, XOAUTH2.

Every line goes through ``Session.send``, so the session's own redaction applies:
``AUTH MECH <initial-response>`` and every line sent while a 334 is pending are
emitted as secret ``Sent`` events. Nothing here prints; failures are typed errors
that a sender can catch and a shell can show as one line.
"""

from __future__ import annotations

from smtpshell.core.events import Origin
from smtpshell.core.session import Session
from smtpshell.errors import NegativeReply, ProtocolError, SmtpShellError
from smtpshell.protocol.auth import (
    SUPPORTED_MECHANISMS,
    b64decode_text,
    b64encode_text,
    choose_mechanism,
    cram_md5_response,
    plain_response,
    xoauth2_response,
)
from smtpshell.protocol.commands import MAX_COMMAND_OCTETS
from smtpshell.protocol.ehlo import Capabilities
from smtpshell.protocol.endpoint import find_control
from smtpshell.protocol.reply import Reply
from smtpshell.protocol.secrets import CANCEL

# Mechanisms whose exchange carries the secret itself, only base64-encoded: PLAIN
# (RFC 4616 2) and LOGIN the password, XOAUTH2 a bearer token anyone may replay.
# CRAM-MD5 (RFC 2195) sends a digest of the challenge instead.
SENDS_SECRET_IN_CLEAR = frozenset({"PLAIN", "LOGIN", "XOAUTH2"})


class AuthError(SmtpShellError):
    """AUTH could not be done; ``str(error)`` is one line."""


class AuthUnavailable(AuthError):
    """Nothing to authenticate with: no EHLO yet, no AUTH offered, mechanism not offered."""


class UnsupportedMechanism(AuthError):
    """A mechanism smtpshell cannot run (only PLAIN, LOGIN, CRAM-MD5 and XOAUTH2)."""


class BadCredentials(AuthError):
    """A user name or secret that cannot be encoded for the mechanism."""


class AuthRejected(NegativeReply, AuthError):
    """The server answered 4xx/5xx (535 wrong credentials, 454 try later...)."""


class AuthProtocolError(AuthError, ProtocolError):
    """The server did not follow the mechanism (an extra or malformed challenge)."""


def select_mechanism(
    capabilities: Capabilities | None, requested: str | None = None, tls: bool = False
) -> str:
    """The mechanism to use: ``requested`` if offered, else the best one offered.

    ``capabilities`` is the last EHLO reply (None: none since connecting or since
    STARTTLS, which forgets them, RFC 3207 4.2); ``tls`` says whether TLS is active,
    for the hint that many servers offer AUTH only after STARTTLS.
    """
    wanted = requested.upper() if requested else None
    if wanted is not None and wanted not in SUPPORTED_MECHANISMS:
        known = ", ".join(SUPPORTED_MECHANISMS)
        raise UnsupportedMechanism(f"cannot run AUTH {wanted} (known: {known})")
    if capabilities is None:
        # After STARTTLS the old capabilities are void (RFC 3207 4.2).
        since = " since TLS started" if tls else ""
        raise AuthUnavailable(f"no EHLO reply{since} to choose a mechanism from: send EHLO first")
    offered = capabilities.auth_mechanisms
    if not offered:
        hint = ""
        if not tls and capabilities.has("STARTTLS"):
            hint = " before TLS: type STARTTLS, then EHLO again"
        raise AuthUnavailable(f"the server does not offer AUTH{hint}")
    if wanted is not None:
        if wanted not in {mech.upper() for mech in offered}:
            raise AuthUnavailable(
                f"the server does not offer AUTH {wanted} (it offers {' '.join(offered)}); "
                f"type AUTH {wanted} by hand to try anyway"
            )
        return wanted
    chosen = choose_mechanism(offered)
    if chosen is None:
        raise AuthUnavailable(
            f"the server offers only {' '.join(offered)}; "
            f"smtpshell can run {', '.join(SUPPORTED_MECHANISMS)}"
        )
    return chosen


async def authenticate(
    session: Session, mechanism: str, username: str, secret: str, authzid: str = ""
) -> Reply:
    """Run one AUTH exchange and return the server's 235 (success) reply.

    Names and secrets are sent as UTF-8 (RFC 4954 4, RFC 4616 2). Raises
    :class:`AuthRejected` on a 4xx/5xx reply, :class:`AuthProtocolError` when the
    server strays from the mechanism (after cancelling with "*"), and the session's
    own errors (time-out, connection closed) as they come.
    """
    mech = mechanism.upper()
    if mech not in SUPPORTED_MECHANISMS:
        known = ", ".join(SUPPORTED_MECHANISMS)
        raise UnsupportedMechanism(f"cannot run AUTH {mech} (known: {known})")
    _check_credentials(mech, username, secret, authzid)
    if mech == "PLAIN":
        reply = await _initial(session, mech, plain_response(username, secret, authzid))
    elif mech == "LOGIN":
        # draft-murchison-sasl-login: the prompts' text is not meaningful, only their
        # order (user name, then password). Servers differ ("Username:", "User Name").
        reply = await _send(session, "AUTH LOGIN")
        reply = await _answer(session, reply, b64encode_text(username))
        reply = await _answer(session, reply, b64encode_text(secret))
    elif mech == "CRAM-MD5":
        # RFC 2195 2: no initial response; the server's challenge comes first.
        reply = await _send(session, "AUTH CRAM-MD5")
        if reply.code == 334:
            try:
                response = cram_md5_response(username, secret, reply.text.strip())
            except ValueError:
                await _cancel(session)
                raise AuthProtocolError("CRAM-MD5: the challenge is not base64") from None
            reply = await _send(session, response)
    else:  # XOAUTH2
        reply = await _initial(session, mech, xoauth2_response(username, secret))
        if reply.code == 334:
            # Google's and Microsoft's XOAUTH2: on failure the server sends a 334 with
            # base64 JSON describing the error; the client answers with an empty line
            # and gets the final 5xx.
            detail = _decoded(reply.text)
            reply = await _send(session, "")
            if not reply.is_positive and detail:
                raise AuthRejected(f"AUTH {mech} ({detail})", reply.code, reply.text)
    return await _finish(session, mech, reply)


def _check_credentials(mech: str, username: str, secret: str, authzid: str) -> None:
    if not username:
        raise BadCredentials("empty user name")
    # NUL separates PLAIN's fields (RFC 4616 2) and \x01 XOAUTH2's; CR and LF would
    # end the line. No mechanism has a use for any control character.
    for what, text in (("user name", username), ("password", secret), ("authzid", authzid)):
        if find_control(text) is not None:
            raise BadCredentials(f"the {what} contains a control character")
    if mech == "CRAM-MD5" and " " in username:
        # RFC 2195 2: the response is "user SP digest"; servers split at a space.
        raise BadCredentials("CRAM-MD5 cannot carry a user name with a space")


async def _send(session: Session, line: str) -> Reply:
    return await session.send(line, origin=Origin.AUTO)


async def _initial(session: Session, mech: str, response: str) -> Reply:
    """``AUTH MECH response``, or the response after the 334 when it would be too long."""
    line = f"AUTH {mech} {response}"
    if len(line) + 2 <= MAX_COMMAND_OCTETS:
        return await _send(session, line)
    # RFC 4954 4: a command longer than 512 octets may be refused, so send the
    # initial response after an empty 334 challenge instead.
    reply = await _send(session, f"AUTH {mech}")
    if reply.code != 334:
        return reply
    return await _send(session, response)


async def _answer(session: Session, reply: Reply, response: str) -> Reply:
    """Answer a 334 with ``response``; anything else is the outcome, passed on."""
    if reply.code != 334:
        return reply
    return await _send(session, response)


async def _finish(session: Session, mech: str, reply: Reply) -> Reply:
    if reply.code == 334:
        # A challenge the mechanism has no answer for: cancel rather than guess,
        # so the session leaves the AUTH state (RFC 4954 4).
        await _cancel(session)
        raise AuthProtocolError(f"AUTH {mech}: unexpected extra challenge; exchange cancelled")
    if reply.code >= 400:
        raise AuthRejected(f"AUTH {mech}", reply.code, reply.text)
    if reply.code >= 300:
        raise AuthProtocolError(f"AUTH {mech}: unexpected reply {reply.code} {reply.text}")
    # RFC 4954 6 says 235; any other 2xx is taken as success all the same.
    return reply


async def _cancel(session: Session) -> None:
    # RFC 4954 4: "*" alone cancels an exchange; the server answers 501.
    if session.connected and session.auth_pending:
        await _send(session, CANCEL)


def _decoded(text: str) -> str:
    """The decoded text of an XOAUTH2 error challenge, safe to put in a message."""
    try:
        decoded = b64decode_text(text.strip())
    except ValueError:
        return ""
    # Server text ends up on a terminal: no control characters (ESC) through.
    return "".join(char if char.isprintable() else "?" for char in decoded)[:200]
