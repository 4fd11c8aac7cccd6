"""The embedded server's users and how their credentials are checked.

No third-party imports, so the command line can validate ``--user`` without aiosmtpd.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Iterable, Mapping

from smtpshell.errors import UsageError
from smtpshell.protocol.endpoint import find_control


class UserSpecError(UsageError, ValueError):
    """A ``--user`` value that is not ``NAME:PASSWORD``."""


def parse_user_spec(spec: str) -> tuple[str, str]:
    """Split ``NAME:PASSWORD`` at the first colon (the password may contain colons)."""
    name, colon, password = spec.partition(":")
    if not colon or not name or not password:
        raise UserSpecError(f"--user must be NAME:PASSWORD, got {spec!r}")
    for field in (name, password):
        # NUL separates the fields of AUTH PLAIN (RFC 4616 2) and CR/LF end an SMTP line,
        # so a credential holding any C0 control or DEL could never be typed in a session.
        if find_control(field) is not None:
            raise UserSpecError("--user must not contain control characters")
        try:
            field.encode("utf-8")
        except UnicodeEncodeError as exc:
            # argv that was not valid UTF-8 arrives as lone surrogates (PEP 383).
            raise UserSpecError("--user is not valid UTF-8") from exc
    if any(char.isspace() for char in name):
        # CRAM-MD5 separates the name from the digest with a space (RFC 2195 2).
        raise UserSpecError(f"--user name must not contain spaces, got {name!r}")
    return name, password


def parse_user_specs(specs: Iterable[str]) -> dict[str, str]:
    """Parse every ``--user`` value; a name given twice is an error, not an override."""
    users: dict[str, str] = {}
    for spec in specs:
        name, password = parse_user_spec(spec)
        if name in users:
            raise UserSpecError(f"--user {name!r} given more than once")
        users[name] = password
    return users


class UserDirectory:
    """Names and passwords the server accepts; compares in constant time.

    Names and passwords are compared as UTF-8 bytes, exactly as the client encoded them:
    no SASLprep (RFC 4013), which is also what Dovecot does by default.
    """

    def __init__(self, users: Mapping[str, str]) -> None:
        self._passwords = {
            name.encode("utf-8"): password.encode("utf-8") for name, password in users.items()
        }

    def __bool__(self) -> bool:
        return bool(self._passwords)

    def check_password(self, login: bytes, password: bytes) -> str | None:
        """Return the user's name if the password is right (AUTH PLAIN and LOGIN)."""
        expected = self._passwords.get(login)
        # Compare against a dummy for unknown users so timing does not reveal names.
        matches = hmac.compare_digest(expected or b"\x00unknown", password)
        if expected is None or not matches:
            return None
        return login.decode("utf-8")

    def check_cram_md5(self, challenge: bytes, response: bytes) -> str | None:
        """Check a decoded CRAM-MD5 response ``name SP hex-digest`` (RFC 2195 2)."""
        login, space, digest = response.rpartition(b" ")
        if not space:
            return None
        secret = self._passwords.get(login, b"\x00unknown")
        expected = hmac.new(secret, challenge, "md5").hexdigest().encode("ascii")
        if not hmac.compare_digest(expected, digest.lower()) or login not in self._passwords:
            return None
        return login.decode("utf-8")


def cram_md5_challenge(hostname: str) -> bytes:
    """A fresh challenge in the msg-id form RFC 2195 2 asks for: ``<random.time@host>``."""
    return f"<{int.from_bytes(os.urandom(8), 'big')}.{int(time.time())}@{hostname}>".encode()
