"""Compose a message from options: what ``smtpshell send --to ... --subject ...`` sends.

:func:`compose` takes a :class:`ComposeRequest` (what the command line gathered) and
returns an :class:`~smtpshell.send.message.OutgoingMessage`. The headers and the text
part come from Python's ``email`` package (policy SMTP, or SMTPUTF8 when an address
has a non-ASCII local part), so non-ASCII subjects and display names are RFC 2047
encoded words and file names RFC 2231 parameters; attachments are base64 parts whose
bodies are streamed from their files at send time (``attachment.py``). Date and
Message-ID are added unless ``--header`` gives them. The body text is the one part
held in memory: it arrives as a ``str``; large content goes as attachments.

Refused, with :class:`~smtpshell.errors.MessageRefused`: a header value with CR, LF or
another control character (CVE-2024-6923), a header name that is not RFC 5322 ftext,
``--header`` for Bcc or for a field an option sets, an address that does not parse, no
recipient. An attachment that cannot be read: :class:`~smtpshell.errors.UnreadableInput`,
naming the file, before anything is sent.
"""

from __future__ import annotations

import email.policy
import os
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from email import errors as email_errors
from email.generator import BytesGenerator
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from io import BytesIO

from smtpshell.errors import MessageRefused
from smtpshell.protocol.inert import inert
from smtpshell.send.addresses import (
    Mailbox,
    ascii_domain,
    envelope_address,
    parse_all,
    unique_recipients,
)
from smtpshell.send.attachment import Attachment, check_attachment
from smtpshell.send.headers import check_header_name, check_header_value, parse_header_option
from smtpshell.send.message import OutgoingMessage, in_blocks

# Fields --header may not set, and what to use instead.
_SET_BY_OPTIONS = {
    "bcc": "a Bcc header would show the blind copies to every recipient: use --bcc",
    "to": "use --to",
    "cc": "use --cc",
    "from": "use --from",
    "subject": "use --subject",
    "mime-version": "smtpshell sets it",
    "content-type": "smtpshell sets it from the body and the attachments",
    "content-transfer-encoding": "smtpshell sets it from the body and the attachments",
    "content-disposition": "smtpshell sets it from the body and the attachments",
}
# RFC 5322 2.1.1: the longest line a message may have, CRLF excluded.
MAX_LINE_OCTETS = 998
# Fields smtpshell adds unless --header gives them.
_DEFAULTED = ("date", "message-id")


@dataclass(frozen=True)
class ComposeRequest:
    """What the command line gathered. ``sender`` is ``--from`` or the caller's default
    (``"a@b.c"`` or ``"Name <a@b.c>"``); ``body`` is the text from ``--body``,
    ``--body-file`` or standard input; ``headers`` are ``"Name: value"`` strings or
    ``(name, value)`` pairs; ``message_id_domain`` defaults to the sender's domain
    (never the host name: looking it up can take seconds)."""

    sender: str
    to: Sequence[str] = ()
    cc: Sequence[str] = ()
    bcc: Sequence[str] = ()
    subject: str | None = None
    body: str = ""
    attachments: Sequence[str | os.PathLike[str]] = ()
    headers: Sequence[str | tuple[str, str]] = ()
    message_id_domain: str | None = None


def compose(request: ComposeRequest) -> OutgoingMessage:
    """The message ``request`` describes, checked and ready to send (see module doc)."""
    if request.sender.strip(" \t") in ("", "<>"):
        # A composed message needs a From field: the null sender is for --raw bounces.
        raise MessageRefused("--from: a composed message needs a sender (<> only with --raw)")
    sender = envelope_address(request.sender, "--from")
    to = parse_all(request.to, "--to")
    cc = parse_all(request.cc, "--cc")
    bcc = parse_all(request.bcc, "--bcc")
    recipients = unique_recipients([*to, *cc, *bcc])
    if not recipients:
        raise MessageRefused("no recipient: give --to, --cc or --bcc")
    extra = [_extra_header(header) for header in request.headers]
    if request.subject is not None:
        check_header_value("Subject", request.subject)
    attachments = [check_attachment(path) for path in request.attachments]
    # RFC 6531: a non-ASCII local part cannot be an encoded word, so such headers go as
    # UTF-8 (policy SMTPUTF8) and the server must offer SMTPUTF8. The envelope needs it
    # for a Bcc recipient too, though no header shows that address.
    utf8_headers = any(m.needs_smtputf8 for m in (sender, *to, *cc)) or any(
        _has_utf8_address(name, value) for name, value in extra
    )
    message = _headers(request, sender, to, cc, extra, utf8_headers)
    _set_body(message, request.body)
    markers = _add_attachments(message, attachments)
    segments = _flatten(message, markers, attachments)
    literal = [segment for segment in segments if isinstance(segment, bytes)]
    return OutgoingMessage(
        sender=sender.addr_spec,
        recipients=recipients,
        size=sum(len(s) if isinstance(s, bytes) else s.encoded_size for s in segments),
        needs_smtputf8=utf8_headers or any(m.needs_smtputf8 for m in bcc),
        # Headers are UTF-8 only with SMTPUTF8; bodies are always 7-bit (see _set_body).
        needs_8bitmime=not all(segment.isascii() for segment in literal),
        content=ComposedContent(tuple(segments)),
    )


class ComposedContent:
    """The composed message: literal bytes (headers, text part, MIME boundaries) and
    attachments, whose base64 is produced from the file each time it is sent."""

    def __init__(self, segments: tuple[bytes | Attachment, ...]) -> None:
        self.segments = segments

    def chunks(self) -> Iterator[bytes]:
        return in_blocks(self._pieces())

    def _pieces(self) -> Iterator[bytes]:
        attachments = [s for s in self.segments if isinstance(s, Attachment)]
        for attachment in attachments:
            # All of them before the first byte: a changed file is then found before
            # any of the message has gone, not half-way through DATA.
            attachment.check_unchanged()
        for segment in self.segments:
            if isinstance(segment, bytes):
                yield segment
            else:
                yield from segment.encoded_blocks()

    def close(self) -> None:
        """Nothing to free: files are opened only while they are being sent."""


def _extra_header(header: str | tuple[str, str]) -> tuple[str, str]:
    if isinstance(header, str):
        name, value = parse_header_option(header)
    else:
        name, value = header
        check_header_name(name)
        check_header_value(name, value)
    reason = _SET_BY_OPTIONS.get(name.lower())
    if reason:
        raise MessageRefused(f"--header cannot set {inert(name)}: {reason}")
    return name, value


def _has_utf8_address(name: str, value: str) -> bool:
    """True when ``name`` is an address field (Reply-To, Sender...) whose value holds a
    non-ASCII local part, which only policy SMTPUTF8 can write."""
    try:
        parsed = email.policy.default.header_factory(name, value)
    except (email_errors.HeaderParseError, IndexError, ValueError):
        return False
    addresses = getattr(parsed, "addresses", ())
    return any(not address.username.isascii() for address in addresses)


def _headers(
    request: ComposeRequest,
    sender: Mailbox,
    to: list[Mailbox],
    cc: list[Mailbox],
    extra: list[tuple[str, str]],
    utf8_headers: bool,
) -> EmailMessage:
    base = email.policy.SMTPUTF8 if utf8_headers else email.policy.SMTP
    # cte_type 7bit: the email package then picks quoted-printable or base64 for a
    # non-ASCII text body instead of 8bit, so a composed message never needs 8BITMIME
    # (and passes any relay unchanged, RFC 6152 3).
    message = EmailMessage(policy=base.clone(cte_type="7bit"))
    message["From"] = _address(sender)
    if to:
        message["To"] = [_address(mailbox) for mailbox in to]
    if cc:
        message["Cc"] = [_address(mailbox) for mailbox in cc]
    if request.subject is not None:
        try:
            message["Subject"] = request.subject
        except ValueError as exc:  # checked above; the email package has rules of its own
            raise MessageRefused(f"--subject: {exc}") from exc
    given = {name.lower() for name, _ in extra}
    if "date" not in given:
        message["Date"] = format_datetime(datetime.now().astimezone())
    if "message-id" not in given:
        domain = sender.domain
        if request.message_id_domain:
            check_header_value("Message-ID", request.message_id_domain)
            domain = ascii_domain(request.message_id_domain, "the Message-ID domain")
        message["Message-ID"] = make_msgid(domain=domain)
    for name, value in extra:
        try:
            message[name] = value
        except (ValueError, TypeError) as exc:
            # "There may be at most 1 Date headers", a malformed Message-ID...
            raise MessageRefused(f"--header {inert(name)}: {exc}") from exc
        written = message.policy.fold(name, message.get_all(name, [""])[-1])
        if value.strip() and not written.partition(":")[2].strip():
            # The email package writes a structured field it cannot parse (a Date of
            # "yesterday") as empty: the user's value would vanish without a word.
            raise MessageRefused(
                f"--header {inert(name)}: {inert(value)!r} is not a valid {inert(name)} field"
            )
    return message


def _address(mailbox: Mailbox) -> Address:
    return Address(mailbox.display_name, mailbox.local, mailbox.domain)


def _set_body(message: EmailMessage, body: str) -> None:
    try:
        body.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MessageRefused("the message body is not valid UTF-8 text") from exc
    # A NUL would go out as 7bit text, which may not hold one (RFC 2045 2.7) and which
    # the session refuses in DATA: quoted-printable writes it as =00.
    cte = "quoted-printable" if "\x00" in body else None
    message.set_content(body, subtype="plain", charset="utf-8", cte=cte)


def _add_attachments(message: EmailMessage, attachments: list[Attachment]) -> list[bytes]:
    """Attachment parts with a random placeholder body each, replaced when flattened."""
    markers = []
    for attachment in attachments:
        message.add_attachment(
            b"",
            maintype=attachment.maintype,
            subtype=attachment.subtype,
            filename=attachment.filename,
            cte="base64",
        )
        markers.append(f"smtpshell-attachment-{secrets.token_hex(16)}".encode("ascii"))
    if attachments:
        # "=_" occurs in neither base64 nor quoted-printable output (RFC 2045 6.7, 6.8),
        # so no part's body can hold a boundary line, whatever the random part.
        message.set_boundary(f"=_{secrets.token_hex(16)}")
        for part, marker in zip(message.iter_attachments(), markers, strict=True):
            del part["MIME-Version"]  # only the top level says it (RFC 2045 4)
            part.set_payload(marker.decode("ascii"))
    return markers


def _flatten(
    message: EmailMessage, markers: list[bytes], attachments: list[Attachment]
) -> list[bytes | Attachment]:
    """The message as literal bytes around each attachment's place."""
    buffer = BytesIO()
    BytesGenerator(buffer, policy=message.policy).flatten(message)
    rest = buffer.getvalue()
    segments: list[bytes | Attachment] = []
    for marker, attachment in zip(markers, attachments, strict=True):
        before, found, rest = rest.partition(marker)
        if not found or marker in rest:
            raise AssertionError("attachment placeholder lost in the generated message")
        segments += [before, attachment]
    segments.append(rest)
    for segment in segments:
        if isinstance(segment, bytes) and _has_bare_line_end(segment):
            # Defence in depth: the email package before 3.11.10 could be made to write
            # a bare LF in a header (CVE-2024-6923); never send one (SMTP smuggling).
            raise MessageRefused("the composed message holds a bare CR or LF; nothing was sent")
        if isinstance(segment, bytes):
            _check_line_lengths(segment)
    return segments


def _check_line_lengths(segment: bytes) -> None:
    """RFC 5322 2.1.1: no line over 998 octets. The email package folds at spaces and
    encodes long words, but cannot fold a long quoted display name: servers would
    refuse or break such a line, so it is refused here, naming its field."""
    field = b""
    for line in segment.split(b"\r\n"):
        if line[:1] not in (b" ", b"\t"):
            field = line.split(b":", 1)[0]
        if len(line) > MAX_LINE_OCTETS:
            name = inert(field[:40].decode("ascii", "replace"))
            raise MessageRefused(
                f"the {name} header would have a line of {len(line)} octets, over the "
                f"{MAX_LINE_OCTETS} RFC 5322 allows, which cannot be folded: shorten it"
            )


def _has_bare_line_end(data: bytes) -> bool:
    crlf = data.count(b"\r\n")
    return data.count(b"\r") != crlf or data.count(b"\n") != crlf
