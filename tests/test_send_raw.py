"""read_raw(): a prepared message sent as is (`send --raw`, like `ssmtp rcpt < mail.txt`)."""

from __future__ import annotations

import io
import os
import re
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtpshell.errors import MessageChanged, MessageRefused, UnreadableInput
from smtpshell.send.message import BLOCK_SIZE, OutgoingMessage
from smtpshell.send.normalize import HEADER_LIMIT, RawPass
from smtpshell.send.raw import SPOOL_IN_MEMORY, read_raw

MAIL = (
    b"From: Me <me@example.com>\n"
    b"To: a@example.com, B <b@example.org>\n"
    b"Bcc: hidden@example.net,\n"
    b"  hidden2@example.net\n"
    b"Cc: c@example.com\n"
    b"Subject: hi\n"
    b"\n"
    b"body line\n"
    b".\n"
    b"last\n"
)
SENT = (
    b"From: Me <me@example.com>\r\n"
    b"To: a@example.com, B <b@example.org>\r\n"
    b"Cc: c@example.com\r\n"
    b"Subject: hi\r\n"
    b"\r\n"
    b"body line\r\n"
    b".\r\n"  # not stuffed: the session does that
    b"last\r\n"
)


def sent(message: OutgoingMessage) -> bytes:
    return b"".join(message.chunks())


def from_bytes(data: bytes, **options: object) -> OutgoingMessage:
    """The message in ``data`` as if piped; the sender is given unless ``sender=None``."""
    options.setdefault("sender", "me@example.com")
    return read_raw(io.BytesIO(data), **options)  # type: ignore[arg-type]


def test_lf_becomes_crlf_and_bcc_goes_with_its_continuation_lines(tmp_path: Path) -> None:
    path = tmp_path / "mail.txt"
    path.write_bytes(MAIL)
    with read_raw(path) as message:
        assert sent(message) == SENT
        assert message.size == len(SENT)


def test_a_crlf_message_is_sent_byte_identical() -> None:
    data = b"Subject: x\r\nTo: a@example.com\r\n\r\nline\r\n\r\n.\r\n..\r\n"
    with from_bytes(data) as message:
        assert sent(message) == data


def test_mixed_line_ends_all_become_crlf() -> None:
    with from_bytes(b"To: a@example.com\r\n\nx\ny\r\nz") as message:
        assert sent(message) == b"To: a@example.com\r\n\r\nx\r\ny\r\nz\r\n"


@pytest.mark.parametrize(
    "field",
    [
        b"Bcc: x@example.net",
        b"BCC: x@example.net",
        b"bcc : x@example.net",
        b"Bcc:\n\tx@example.net",
    ],
)
def test_every_spelling_of_bcc_is_removed(field: bytes) -> None:
    data = b"To: a@example.com\n" + field + b"\nX-After: kept\n  folded\n\nbody\n"
    with from_bytes(data) as message:
        assert sent(message) == b"To: a@example.com\r\nX-After: kept\r\n  folded\r\n\r\nbody\r\n"
        assert message.recipients == ("a@example.com", "x@example.net")


def test_bcc_in_the_body_is_not_touched() -> None:
    data = b"To: a@example.com\n\nBcc: stays@example.com\n"
    with from_bytes(data) as message:
        assert b"Bcc: stays@example.com\r\n" in sent(message)
        assert message.recipients == ("a@example.com",)


def test_recipients_and_sender_come_from_the_headers() -> None:
    with from_bytes(MAIL, sender=None) as message:
        assert message.sender == "me@example.com"
        assert message.recipients == (
            "a@example.com",
            "b@example.org",
            "hidden@example.net",
            "hidden2@example.net",
            "c@example.com",
        )


def test_to_replaces_the_header_recipients_and_bcc_is_still_removed() -> None:
    with from_bytes(MAIL, to=["only@example.com"]) as message:
        assert message.recipients == ("only@example.com",)
        assert sent(message) == SENT


def test_t_adds_the_header_recipients_to_those_given() -> None:
    with from_bytes(MAIL, to=["only@example.com", "A@EXAMPLE.com"], use_headers=True) as message:
        assert message.recipients[:2] == ("only@example.com", "A@EXAMPLE.com")
        assert "hidden2@example.net" in message.recipients
        assert len(message.recipients) == 7


def test_recipients_are_each_once_domains_without_case() -> None:
    data = b"To: a@example.com, a@EXAMPLE.com\nCc: a@Example.Com, A@example.com\n\n"
    with from_bytes(data) as message:
        assert message.recipients == ("a@example.com", "A@example.com")


@pytest.mark.parametrize(
    ("given", "expected"), [("other@example.org", "other@example.org"), ("", "")]
)
def test_a_given_sender_overrides_from(given: str, expected: str) -> None:
    with from_bytes(MAIL, sender=given) as message:
        assert message.sender == expected


def test_without_from_or_a_sender_it_is_refused() -> None:
    with pytest.raises(MessageRefused, match="no sender"):
        from_bytes(b"To: a@example.com\n\nhi\n", sender=None)


def test_without_any_recipient_it_is_refused() -> None:
    with pytest.raises(MessageRefused, match="no recipient"):
        from_bytes(b"From: me@example.com\nTo: undisclosed-recipients:;\n\nhi\n")


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (b"Subject: a\rb\nTo: a@example.com\n\n", 1),
        (b"To: a@example.com\nSubject: x\r\r\n\n", 2),
        (b"To: a@example.com\n\nok\nsmuggled\r.\r\n", 4),
        (b"To: a@example.com\n\nok\r\n.\rMAIL FROM:<x@y>\r\n", 4),
        (b"To: a@example.com\n\nends in a CR\r", 3),
        (b"To: a@example.com\n\n\r", 3),
    ],
)
def test_a_bare_cr_is_refused_naming_its_line(data: bytes, line: int) -> None:
    with pytest.raises(MessageRefused, match=rf"line {line} holds a bare CR"):
        from_bytes(data)


@pytest.mark.parametrize(("data", "line"), [(b"X: a\x00\n\n", 2), (b"\nbody\nnul\x00\n", 4)])
def test_a_nul_is_refused_naming_its_line(data: bytes, line: int) -> None:
    with pytest.raises(MessageRefused, match=rf"line {line} holds a NUL"):
        from_bytes(b"To: a@example.com\n" + data)


def test_a_cr_lf_split_across_blocks_is_one_line_end(tmp_path: Path) -> None:
    body = b"x" * (BLOCK_SIZE - 1) + b"\r\n" + b"y" * BLOCK_SIZE + b"\n"
    header = b"To: a@example.com\r\n\r\n"
    path = tmp_path / "m"
    # The body starts at a block boundary as the file is read after the header lines.
    path.write_bytes(header + body)
    with read_raw(path, sender="me@example.com") as message:
        assert sent(message) == header + body.replace(b"y\n", b"y\r\n")


def test_a_bare_cr_at_a_block_boundary_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m"
    path.write_bytes(b"To: a@example.com\n\n" + b"x" * (BLOCK_SIZE - 1) + b"\rX\n")
    with pytest.raises(MessageRefused, match="line 3 holds a bare CR"):
        read_raw(path, sender="me@example.com")


# Bodies without NUL and bare CR, read in small blocks so that CRLFs straddle them.
bodies = st.lists(st.sampled_from([b"a", b".", b"\n", b"\r\n", b"\xc3\xa9", b" "]), max_size=60)


@settings(max_examples=300, deadline=None)
@given(pieces=bodies, block_size=st.integers(1, 7))
def test_normalising_in_blocks_changes_only_line_ends(pieces: list[bytes], block_size: int) -> None:
    body = b"".join(pieces)
    scan = RawPass("test", block_size=block_size)
    out = b"".join(scan.run(io.BytesIO(b"To: a@example.com\n\n" + body)))
    expected = body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if expected and not expected.endswith(b"\r\n"):
        expected += b"\r\n"
    assert out == b"To: a@example.com\r\n\r\n" + expected
    assert scan.size == len(out)
    assert scan.eight_bit == (b"\xc3" in body)


def test_a_body_line_before_any_header_is_refused() -> None:
    with pytest.raises(MessageRefused, match="line 1 is neither a header field"):
        from_bytes(b"just some text\n", to=["a@example.com"])


def test_a_message_missing_the_empty_line_is_refused() -> None:
    with pytest.raises(MessageRefused, match="line 2 is neither a header field"):
        from_bytes(b"Subject: hi\nhere comes the body\n", to=["a@example.com"])


def test_an_mbox_from_line_gets_a_hint() -> None:
    with pytest.raises(MessageRefused, match="mbox"):
        from_bytes(b"From me@example.com Mon Jan  1 00:00:00 2024\nTo: a@example.com\n\n")


def test_a_leading_continuation_line_is_refused() -> None:
    with pytest.raises(MessageRefused, match="line 1 continues a header field"):
        from_bytes(b" folded\nTo: a@example.com\n\n")


def test_headers_only_without_the_empty_line_are_a_message() -> None:
    # RFC 5322 3.5: the body is optional, and with it the empty line.
    with from_bytes(b"From: me@example.com\nTo: a@example.com\nSubject: ping") as message:
        assert sent(message) == b"From: me@example.com\r\nTo: a@example.com\r\nSubject: ping\r\n"


def test_an_empty_message_is_refused() -> None:
    with pytest.raises(MessageRefused, match="empty"):
        from_bytes(b"", to=["a@example.com"])


def test_a_header_block_over_the_limit_is_refused() -> None:
    data = b"To: a@example.com\n" + b"X-Filler: " + b"y" * HEADER_LIMIT + b"\n\nbody\n"
    with pytest.raises(MessageRefused, match="no empty line ends the header block"):
        from_bytes(data)


def test_stdin_is_spooled_and_can_be_sent_again() -> None:
    body = os.urandom(3 * SPOOL_IN_MEMORY).replace(b"\r", b"").replace(b"\x00", b"")
    data = b"From: me@example.com\nTo: a@example.com\n\n" + body
    read_fd, write_fd = os.pipe()
    writer = threading.Thread(target=_write_and_close, args=(write_fd, data))
    writer.start()
    try:
        with open(read_fd, "rb") as pipe, read_raw(pipe) as message:
            first = sent(message)
            assert sent(message) == first
            expected = data.replace(b"\n", b"\r\n")
            if not expected.endswith(b"\r\n"):
                expected += b"\r\n"
            assert first == expected
            assert message.size == len(first)
            assert message.needs_8bitmime
    finally:
        writer.join()


def _write_and_close(fd: int, data: bytes) -> None:
    with open(fd, "wb") as pipe:
        pipe.write(data)


def test_interleaved_iterations_of_a_spool_do_not_disturb_each_other() -> None:
    data = b"To: a@example.com\n\n" + b"line\n" * 50_000
    with from_bytes(data) as message:
        one, two = message.chunks(), message.chunks()
        first = [next(one), next(two), next(one)]
        assert first[0] == first[1]
        assert first[0] + first[2] + b"".join(one) == b"".join([first[1], *two])


def test_8bit_body_needs_8bitmime_but_not_smtputf8() -> None:
    with from_bytes(b"To: a@example.com\nFrom: me@example.com\n\ncaf\xc3\xa9\n") as message:
        assert message.needs_8bitmime
        assert not message.needs_smtputf8


def test_an_ascii_message_needs_neither() -> None:
    with from_bytes(MAIL) as message:
        assert not message.needs_8bitmime and not message.needs_smtputf8


def test_utf8_in_headers_needs_smtputf8() -> None:
    data = "From: me@example.com\nTo: a@example.com\nSubject: 测试邮件\n\nhi\n".encode()
    with from_bytes(data) as message:
        assert message.needs_smtputf8 and message.needs_8bitmime


def test_a_utf8_local_part_in_the_envelope_needs_smtputf8() -> None:
    with from_bytes(b"From: me@example.com\n\nhi\n", to=["用户@example.cn"]) as message:
        assert message.needs_smtputf8
        assert message.recipients == ("用户@example.cn",)
        assert not message.needs_8bitmime


def test_utf8_only_in_a_removed_bcc_and_an_idna_domain_needs_no_smtputf8() -> None:
    data = "From: me@example.com\nTo: j@münchen.example\nBcc: x@bücher.de\n\nhi\n".encode()
    with from_bytes(data) as message:
        # The To header itself holds UTF-8, so SMTPUTF8 is needed for that...
        assert message.needs_smtputf8
        assert message.recipients == ("j@xn--mnchen-3ya.example", "x@xn--bcher-kva.de")
    with from_bytes(
        b"From: me@example.com\nTo: a@example.com\n\nhi\n", to=["x@bücher.de"]
    ) as message:
        # ...but a Unicode domain given on the command line is IDNA-encoded: no need.
        assert not message.needs_smtputf8
        assert message.recipients == ("x@xn--bcher-kva.de",)


def test_a_file_changed_after_it_was_read_is_not_sent(tmp_path: Path) -> None:
    path = tmp_path / "mail.txt"
    path.write_bytes(MAIL)
    with read_raw(path) as message:
        path.write_bytes(MAIL + b"more\n")
        with pytest.raises(MessageChanged, match=re.escape("mail.txt")):
            sent(message)


def test_a_file_removed_after_it_was_read_is_not_sent(tmp_path: Path) -> None:
    path = tmp_path / "mail.txt"
    path.write_bytes(MAIL)
    with read_raw(path) as message:
        path.unlink()
        with pytest.raises(MessageChanged, match="is gone"):
            sent(message)


def test_a_missing_file_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(UnreadableInput, match=re.escape("nowhere.eml")):
        read_raw(tmp_path / "nowhere.eml")


def test_a_garbled_recipient_header_is_refused_not_guessed() -> None:
    with pytest.raises(MessageRefused, match="To header"):
        from_bytes(b"From: me@example.com\nTo: alice@example.org)<bob@example.org>\n\n")


def test_a_garbled_to_option_is_refused() -> None:
    with pytest.raises(MessageRefused, match="--to"):
        from_bytes(MAIL, to=["a@example.com\r\nRCPT TO:<x@y>"])
