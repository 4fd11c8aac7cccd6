"""Addresses for the envelope and the headers: parsed, checked, IDNA-encoded, deduplicated.

One parser for every address a user or a message gives us: the email package's
RFC 5322 header parser (``email.policy.default``), which reports what it could not
read as defects. Any defect but a non-ASCII local part is refused: the older
``email.utils.getaddresses`` silently reads ``alice@example.org)<bob@example.org>``
as someone else (CVE-2023-27043), and a recipient we guessed at is a message sent to
the wrong person.
"""

from __future__ import annotations

import email.policy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email import errors as email_errors
from email.headerregistry import Address

from smtpshell.errors import MessageRefused
from smtpshell.protocol.endpoint import find_control
from smtpshell.protocol.inert import inert

try:
    import idna as _idna  # IDNA 2008, installed with dnspython's idna extra
except ImportError:  # pragma: no cover - depends on the installation
    _idna = None  # type: ignore[assignment]

# Where IDNA 2003 maps a character away and IDNA 2008 keeps it (UTS 46 6.3 deviations).
_DEVIATIONS = frozenset("\u00df\u03c2\u200c\u200d")


@dataclass(frozen=True)
class Mailbox:
    """One address: ``display_name`` for headers, ``local`` and ``domain`` (IDNA A-labels,
    RFC 5891) for both headers and the envelope."""

    display_name: str
    local: str
    domain: str

    @property
    def addr_spec(self) -> str:
        """``local@domain`` as the envelope carries it (local part quoted when needed)."""
        return Address(username=self.local, domain=self.domain).addr_spec

    @property
    def needs_smtputf8(self) -> bool:
        # RFC 6531 3.2: a non-ASCII local part has no ASCII form. Domains do (IDNA).
        return not self.local.isascii()


def parse_mailboxes(text: str, what: str) -> list[Mailbox]:
    """The addresses in ``text`` (``a@b.c``, ``Name <a@b.c>``, comma lists, groups).

    ``what`` names the source in errors (``"--to"``, ``"the Cc header"``). Raises
    MessageRefused for anything that is not a list of complete addresses.
    """
    control = find_control(text, allow_tab=True)
    if control is not None:
        # CR or LF would start a new header or command (CVE-2024-6923, bpo-43124).
        raise MessageRefused(f"{what}: a control character ({inert(control)}) in {inert(text)!r}")
    try:
        header = email.policy.default.header_factory("to", text)
    except (email_errors.HeaderParseError, IndexError, ValueError) as exc:
        # The parser raises rather than reports on a few malformed inputs.
        raise MessageRefused(f"{what}: cannot read {inert(text)!r} as addresses ({exc})") from exc
    defects = [
        defect
        for defect in header.defects
        if not isinstance(defect, email_errors.NonASCIILocalPartDefect)
    ]
    if defects:
        raise MessageRefused(f"{what}: cannot read {inert(text)!r} as addresses ({defects[0]})")
    mailboxes = []
    for address in header.addresses:
        if not address.username or not address.domain:
            raise MessageRefused(f"{what}: {inert(address.addr_spec)!r} is not user@domain")
        domain = ascii_domain(address.domain, what)
        mailboxes.append(Mailbox(address.display_name, address.username, domain))
    return mailboxes


def parse_all(values: Iterable[str], what: str) -> list[Mailbox]:
    """Every mailbox in several values (several ``--to`` options, or header fields)."""
    return [mailbox for value in values for mailbox in parse_mailboxes(value, what)]


def envelope_address(text: str, what: str) -> Mailbox:
    """Exactly one address (``--from`` for the envelope sender)."""
    mailboxes = parse_mailboxes(text, what)
    if len(mailboxes) != 1:
        raise MessageRefused(f"{what}: expected one address, got {len(mailboxes)}")
    return mailboxes[0]


def unique_recipients(mailboxes: Sequence[Mailbox]) -> tuple[str, ...]:
    """Envelope recipients, each once, in the order first given.

    Domains compare case-insensitively (RFC 5321 2.4); local parts exactly, since only
    the receiving server may decide that ``Bob`` and ``bob`` are one mailbox.
    """
    seen: set[tuple[str, str]] = set()
    found = []
    for mailbox in mailboxes:
        key = (mailbox.local, mailbox.domain.lower())
        if key not in seen:
            seen.add(key)
            found.append(mailbox.addr_spec)
    return tuple(found)


def ascii_domain(domain: str, what: str) -> str:
    """A domain as IDNA A-labels, so an internationalised domain needs no SMTPUTF8.

    IDNA 2008 with the UTS 46 mapping (RFC 5891), as dnspython uses to find the MX:
    the envelope must name the domain the message is routed to. Without the ``idna``
    package only the standard library's IDNA 2003 is at hand, which turns
    ``straße.de`` into ``strasse.de``, another domain: a name holding one of the
    characters the two disagree on (UTS 46 "deviations") is refused then.
    """
    if domain.isascii():
        return domain
    if domain.startswith("["):
        raise MessageRefused(f"{what}: non-ASCII address literal {inert(domain)!r}")
    if _idna is None and any(char in _DEVIATIONS for char in domain):
        raise MessageRefused(
            f"{what}: {inert(domain)!r}: give this domain in its xn-- form "
            "(IDNA 2003 and 2008 disagree on it)"
        )
    try:
        if _idna is not None:
            return str(_idna.encode(domain, uts46=True).decode("ascii"))
        return domain.encode("idna").decode("ascii")
    except UnicodeError as exc:  # idna.IDNAError is a UnicodeError too
        raise MessageRefused(f"{what}: {inert(domain)!r} is not a valid domain ({exc})") from exc
