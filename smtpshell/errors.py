"""One exception hierarchy for the whole package.

Every error a user can cause or meet carries a one-line message in ``str(exc)``;
the command line prints that line and never a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence


class SmtpShellError(Exception):
    """Root of every error smtpshell raises on purpose."""


class UsageError(SmtpShellError):
    """Bad command-line options or local-command arguments."""


class UsageProblems(UsageError):
    """Several usage errors found in one pass (say, one per transcript), one line each."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


class MessageRefused(UsageError):
    """A message we will not build or send as given: a header value that would start
    another header (CVE-2024-6923), a bare CR or a NUL (SMTP smuggling), no recipient."""


class UnreadableInput(SmtpShellError):
    """A message or attachment file that cannot be opened or read; names the file.
    Not a usage error: the command line was right, the file was not (exit status 1)."""


class MessageChanged(SmtpShellError):
    """A file changed between building a message and sending it: its size on the wire
    (announced with SIZE=) would be wrong, so the message must not be ended."""


class CommandRejected(SmtpShellError, ValueError):
    """A line we refuse to send (it would inject a second command)."""


class ProtocolError(SmtpShellError):
    """The server sent something that is not an SMTP reply."""


class ReplyTooLong(ProtocolError):
    """A reply line or a whole reply exceeded our bounds."""


class NetworkError(SmtpShellError, ConnectionError):
    """Connecting failed or the connection broke."""


class ConnectionClosed(NetworkError):
    """The connection is closed (by the server, or after an error)."""


class TlsError(NetworkError):
    """The TLS handshake or certificate verification failed."""


class StartTlsRefused(TlsError):
    """STARTTLS was answered with something other than 220: the connection was
    closed rather than go on in plain text (RFC 3207 4). ``reply`` holds the
    answer's lines as the server wrote them."""

    def __init__(self, message: str, reply: tuple[str, ...]) -> None:
        super().__init__(message)
        self.reply = reply


class SmtpTimeout(SmtpShellError, TimeoutError):
    """No complete reply (or connection) within the time-out."""


class NotConnected(SmtpShellError):
    """A command needs a connection and there is none."""


class NegativeReply(SmtpShellError):
    """A 4xx or 5xx reply on the checked command path (the sender)."""

    def __init__(self, command: str, code: int, text: str) -> None:
        super().__init__(f"{command}: server replied {code} {text}".rstrip())
        self.command = command
        self.code = code
        self.text = text

    @property
    def transient(self) -> bool:
        return 400 <= self.code < 500


class HelpRequested(SmtpShellError):
    """``--help`` or ``--version`` was asked for: ``text`` is what to show, then stop."""

    def __init__(self, text: str) -> None:
        super().__init__("help requested")
        self.text = text


class ConfigError(UsageError):
    """A profiles file (or an ssmtp.conf to import) that cannot be used: one line
    naming the file, the line when known, and the key."""


class PasswordUnavailable(SmtpShellError):
    """No password for a profile, or a password source that failed. The message
    never holds the password, nor anything a password command printed on stdout."""
