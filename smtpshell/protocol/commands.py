"""Client command lines: verbs, validation and encoding."""

from __future__ import annotations

from smtpshell.errors import CommandRejected
from smtpshell.protocol.endpoint import find_control

# IANA "SMTP Service Extensions" verbs plus the historic ones (RFC 821, 1985, 2645,
# 4954, 3030) and common vendor verbs. Local shell commands must never use one.
SMTP_VERBS = frozenset(
    {
        "HELO", "EHLO", "LHLO", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "VRFY",
        "EXPN", "HELP", "NOOP", "QUIT", "STARTTLS", "AUTH", "ETRN", "ATRN",
        "TURN", "SEND", "SOML", "SAML", "XCLIENT", "XFORWARD", "XEXCH50",
        "X-EXPS", "X-LINK2STATE", "VERB", "ONEX", "XUSR", "XADR", "XQUE",
        "XSTA", "XTRN", "XGEN", "BURL", "PRIV", "TICK", "TIME", "XAUTH",
        "EMAL", "ESAM", "ESND", "ESOM", "EVFY",
    }
)  # fmt: skip

# RFC 2920 3.1: the commands after which more may be sent before their reply (a
# pipelined group goes on); any other ends its group, or waits.
PIPELINE_MAY_CONTINUE = frozenset({"MAIL", "RCPT", "RSET"})

# RFC 5321 4.5.3.1.4: 512 octets including CRLF; we only warn, servers differ.
MAX_COMMAND_OCTETS = 512


def verb_of(line: str) -> str:
    """The command verb of a line, upper-cased (``"mail from:<a>"`` gives ``"MAIL"``)."""
    head = line.lstrip().split(" ", 1)[0].split("\t", 1)[0]
    return head.upper()


def check_command(line: str) -> None:
    """Refuse control characters in a command line.

    CR, LF or NUL would end the command early and smuggle a second one
    (CPython bpo-43124, aiosmtplib GHSA-v3q9-hj7j-63hq); other C0 characters and
    DEL have no business in SMTP commands either. TAB is allowed.
    """
    char = find_control(line, allow_tab=True)
    if char is not None:
        raise CommandRejected(f"refusing to send a control character ({_name(char)}) in a command")


def check_data_line(line: str) -> None:
    """A message line may hold most characters, but never a bare CR or LF or NUL."""
    for bad in ("\r", "\n", "\x00"):
        if bad in line:
            raise CommandRejected(
                f"refusing to send {_name(bad)} inside a message line "
                "(bare CR/LF enable SMTP smuggling, CVE-2023-51764)"
            )


def encode_command(line: str) -> bytes:
    """Validate a command line and return it as UTF-8 bytes ending in CRLF."""
    check_command(line)
    return line.encode("utf-8") + b"\r\n"


def _name(char: str) -> str:
    names = {"\r": "CR", "\n": "LF", "\x00": "NUL", "\x7f": "DEL", "\x1b": "ESC"}
    return names.get(char, f"0x{ord(char):02X}")


def is_utf8(text: str) -> bool:
    """False when ``text`` holds bytes that were not UTF-8 on input (decoded as lone
    surrogates, PEP 383): such a line cannot be a command (RFC 5321 2.4, RFC 6531)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
