"""compose(): what `smtpshell send --to ... --subject ...` sends, read back by the email package."""

from __future__ import annotations

import email
import email.policy
import os
import re
from email.header import decode_header, make_header
from email.message import EmailMessage
from pathlib import Path

import pytest

from smtpshell.errors import MessageChanged, MessageRefused, UnreadableInput
from smtpshell.send.attachment import base64_size
from smtpshell.send.compose import ComposeRequest, compose
from smtpshell.send.message import BLOCK_SIZE, OutgoingMessage


def sent(message: OutgoingMessage) -> bytes:
    return b"".join(message.chunks())


def parsed(data: bytes) -> EmailMessage:
    result = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(result, EmailMessage)
    return result


def header_block(data: bytes) -> bytes:
    return data.split(b"\r\n\r\n", 1)[0]


def request(**changes: object) -> ComposeRequest:
    fields: dict[str, object] = {"sender": "me@example.com", "to": ["you@example.org"]}
    fields.update(changes)
    return ComposeRequest(**fields)  # type: ignore[arg-type]


def test_the_seed_chinese_subject_arrives_readable() -> None:
    message = compose(request(subject="测试邮件"))
    data = sent(message)
    raw_subject = re.search(rb"^Subject: (.*)$", data, re.MULTILINE)
    assert raw_subject is not None
    # RFC 2047: the header itself is ASCII, an encoded word...
    assert raw_subject.group(1).isascii() and raw_subject.group(1).startswith(b"=?utf-8?")
    # ...that both decoders turn back into the same text.
    assert str(make_header(decode_header(raw_subject.group(1).decode()))) == "测试邮件"
    assert parsed(data)["Subject"] == "测试邮件"
    assert not message.needs_8bitmime and not message.needs_smtputf8


def test_utf8_display_names_decode_to_the_same_text() -> None:
    message = compose(
        request(sender="张三 <zs@example.com>", to=["李四 <ls@example.org>"], cc=["Zoë <z@x.io>"])
    )
    data = sent(message)
    assert header_block(data).isascii()
    mail = parsed(data)
    assert mail["From"].addresses[0].display_name == "张三"
    assert mail["To"].addresses[0].display_name == "李四"
    assert mail["To"].addresses[0].addr_spec == "ls@example.org"
    assert mail["Cc"].addresses[0].display_name == "Zoë"
    assert message.sender == "zs@example.com"


@pytest.mark.parametrize(
    "body",
    [
        "你好，世界\nsecond line\n",
        "plain ASCII\n",
        "a line of ASCII longer than seventy-eight characters " * 5 + "\n",
        "ends without a new line",
        "CRLF\r\nline ends\r\n",
        "",
        "a NUL \x00 in the text\n",
    ],
)
def test_the_body_decodes_to_the_same_text_and_is_7bit(body: str) -> None:
    message = compose(request(body=body))
    data = sent(message)
    expected = body.replace("\r\n", "\n")
    if not expected.endswith("\n"):
        expected += "\n"
    if body == "":
        expected = "\n"
    # Text travels in its canonical form, CRLF line ends (RFC 2046 4.1.1), whatever the
    # encoding; a reader shows those as new lines.
    assert parsed(data).get_content().replace("\r\n", "\n") == expected
    # Quoted-printable or base64: never 8BITMIME for a composed message, never a NUL.
    assert data.isascii() and b"\x00" not in data
    assert not message.needs_8bitmime


def test_a_5_mb_binary_attachment_decodes_byte_identical(tmp_path: Path) -> None:
    content = os.urandom(5 * 1024 * 1024 + 17)
    (tmp_path / "data.bin").write_bytes(content)
    (tmp_path / "report.pdf").write_bytes(b"%PDF-1.4\n")
    message = compose(
        request(
            body="see attached\n",
            attachments=[tmp_path / "data.bin", str(tmp_path / "report.pdf")],
        )
    )
    data = sent(message)
    mail = parsed(data)
    assert mail.get_content_type() == "multipart/mixed"
    body = mail.get_body()
    assert body is not None and body.get_content() == "see attached\r\n"
    first, second = mail.iter_attachments()
    assert first.get_content() == content
    assert first.get_content_type() == "application/octet-stream"
    assert first.get_filename() == "data.bin"
    assert second.get_content_type() == "application/pdf"
    assert second.get_content() == b"%PDF-1.4\n"


def test_attachment_body_is_76_character_base64_lines(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(os.urandom(57 * 900 + 5))
    (part,) = parsed(sent(compose(request(attachments=[tmp_path / "a.bin"])))).iter_attachments()
    payload = part.get_payload()
    assert isinstance(payload, str)
    lines = payload.splitlines()
    assert len(lines) == 901
    assert {len(line) for line in lines[:-1]} == {76}
    assert 0 < len(lines[-1]) <= 76


def test_a_non_ascii_file_name_goes_as_an_rfc_2231_parameter(tmp_path: Path) -> None:
    (tmp_path / "测试 文件.txt").write_bytes(b"hello\n")
    data = sent(compose(request(attachments=[tmp_path / "测试 文件.txt"])))
    assert data.isascii()
    assert b"filename*=utf-8''" in data
    (part,) = parsed(data).iter_attachments()
    assert part.get_filename() == "测试 文件.txt"
    assert part.get_content_type() == "text/plain"
    assert part.get_content() == "hello\n"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("archive.tar.gz", "application/octet-stream"),  # gzip, not a tar: sent as octets
        ("note.eml", "application/octet-stream"),  # message/* may not be base64
        ("no-extension", "application/octet-stream"),
        ("photo.png", "image/png"),
    ],
)
def test_content_types_are_guessed_or_octet_stream(
    tmp_path: Path, name: str, expected: str
) -> None:
    (tmp_path / name).write_bytes(b"x")
    (part,) = parsed(sent(compose(request(attachments=[tmp_path / name])))).iter_attachments()
    assert part.get_content_type() == expected
    assert part.get_content() == b"x"


def test_bcc_never_appears_in_the_message_but_is_a_recipient() -> None:
    message = compose(request(bcc=["Secret <hidden@example.net>"], subject="x"))
    data = sent(message)
    assert b"bcc" not in data.lower()
    assert b"hidden" not in data
    assert message.recipients == ("you@example.org", "hidden@example.net")


@pytest.mark.parametrize("sizes", [[], [0], [1], [2, 3], [56, 57, 58], [57 * 840, 57 * 840 + 1]])
def test_size_is_exactly_what_chunks_yields(tmp_path: Path, sizes: list[int]) -> None:
    paths = []
    for index, size in enumerate(sizes):
        path = tmp_path / f"f{index}"
        path.write_bytes(os.urandom(size))
        paths.append(path)
    message = compose(request(subject="测试", body="正文\n", attachments=paths))
    data = sent(message)
    assert message.size == len(data)
    for index, part in enumerate(parsed(data).iter_attachments()):
        assert part.get_content() == paths[index].read_bytes()


def test_base64_size_matches_the_encoder() -> None:
    import base64

    for octets in range(0, 400):
        expected = base64.encodebytes(b"x" * octets).rstrip(b"\n").replace(b"\n", b"\r\n")
        assert base64_size(octets) == len(expected), octets


def test_chunks_start_over_on_each_call_in_blocks_of_64_kib(tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(os.urandom(300_000))
    message = compose(request(attachments=[tmp_path / "big"]))
    first = list(message.chunks())
    second = list(message.chunks())
    assert b"".join(first) == b"".join(second)
    assert len(first) > 3
    assert max(len(chunk) for chunk in first) <= BLOCK_SIZE


def test_no_bare_cr_or_lf_anywhere(tmp_path: Path) -> None:
    (tmp_path / "crlf.txt").write_bytes(b"a\rb\nc\r\n")
    data = sent(
        compose(request(body="x\ry\nz\r\n", subject="s", attachments=[tmp_path / "crlf.txt"]))
    )
    crlf = data.count(b"\r\n")
    assert data.count(b"\r") == crlf and data.count(b"\n") == crlf
    assert data.endswith(b"\r\n")


@pytest.mark.parametrize(
    "changes",
    [
        {"subject": "hello\r\nBcc: victim@example.com"},
        {"subject": "line\nfeed"},
        {"subject": "carriage\rreturn"},
        {"subject": "nul\x00"},
        {"headers": ["X-Note: a\r\nBcc: victim@example.com"]},
        {"headers": [("X-Note", "a\nb")]},
        {"to": ["you@example.org\r\nBcc: victim@example.com"]},
        {"to": ["Name\n <you@example.org>"]},
        {"sender": "me@example.com\nX: y"},
        {"cc": ["a@example.org\r"]},
    ],
)
def test_cr_or_lf_in_a_header_value_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(MessageRefused, match="control character"):
        compose(request(**changes))


@pytest.mark.parametrize("header", ["Bad Name: x", "Ünicode: x", ": no name", "NoColon"])
def test_a_header_name_that_is_not_ftext_is_refused(header: str) -> None:
    with pytest.raises(MessageRefused, match="header"):
        compose(request(headers=[header]))


@pytest.mark.parametrize(
    ("header", "advice"),
    [
        ("Bcc: someone@example.com", "--bcc"),
        ("bcc: someone@example.com", "--bcc"),
        ("To: someone@example.com", "--to"),
        ("From: someone@example.com", "--from"),
        ("Subject: x", "--subject"),
        ("Content-Type: text/html", "sets it"),
    ],
)
def test_header_cannot_set_bcc_or_what_options_set(header: str, advice: str) -> None:
    with pytest.raises(MessageRefused, match=advice):
        compose(request(headers=[header]))


def test_date_and_message_id_are_added() -> None:
    mail = parsed(sent(compose(request(sender="me@example.com"))))
    assert mail["Date"].datetime.tzinfo is not None
    assert re.fullmatch(r"<[^@<>]+@example\.com>", mail["Message-ID"])


def test_given_date_message_id_and_extra_headers_are_kept() -> None:
    headers = [
        "Date: Mon, 1 Jan 2024 00:00:00 +0000",
        ("Message-ID", "<given@example.com>"),
        "X-Mailer: smtpshell",
        "Reply-To: 回复 <r@example.com>",
    ]
    data = sent(compose(request(headers=headers)))
    mail = parsed(data)
    assert mail.get_all("Date") == ["Mon, 01 Jan 2024 00:00:00 +0000"]
    assert mail.get_all("Message-ID") == ["<given@example.com>"]
    assert mail["X-Mailer"] == "smtpshell"
    assert mail["Reply-To"].addresses[0].display_name == "回复"
    assert header_block(data).isascii()


def test_a_second_date_header_is_refused() -> None:
    with pytest.raises(MessageRefused, match="Date"):
        compose(request(headers=["Date: Mon, 1 Jan 2024 00:00:00 +0000", "Date: now"]))


def test_message_id_domain_can_be_given() -> None:
    mail = parsed(sent(compose(request(message_id_domain="mx.example.net"))))
    assert mail["Message-ID"].endswith("@mx.example.net>")


@pytest.mark.parametrize("make", ["missing", "directory"])
def test_an_unreadable_attachment_is_refused_naming_it(tmp_path: Path, make: str) -> None:
    path = tmp_path / "the-file.pdf"
    if make == "directory":
        path.mkdir()
    with pytest.raises(UnreadableInput, match=re.escape("the-file.pdf")):
        compose(request(attachments=[path]))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_attachment_without_read_permission_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret.txt"
    path.write_bytes(b"x")
    path.chmod(0)
    with pytest.raises(UnreadableInput, match=re.escape("secret.txt")):
        compose(request(attachments=[path]))


def test_an_attachment_changed_after_compose_is_not_sent_as_announced(tmp_path: Path) -> None:
    path = tmp_path / "grows.bin"
    path.write_bytes(b"x" * 1000)
    message = compose(request(attachments=[path]))
    path.write_bytes(b"x" * 2000)
    with pytest.raises(MessageChanged, match=re.escape("grows.bin")):
        sent(message)


def test_every_attachment_is_checked_before_the_first_byte(tmp_path: Path) -> None:
    # Big enough that, read in order, whole blocks of it would go before the second.
    (tmp_path / "first").write_bytes(os.urandom(200_000))
    (tmp_path / "second").write_bytes(b"2")
    message = compose(request(attachments=[tmp_path / "first", tmp_path / "second"]))
    (tmp_path / "second").unlink()
    chunks = message.chunks()
    with pytest.raises(MessageChanged, match="second"):
        next(chunks)


def test_the_boundary_is_random_and_cannot_occur_in_encoded_bodies(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"a")
    boundaries = {
        parsed(sent(compose(request(attachments=[tmp_path / "a"])))).get_boundary()
        for _ in range(3)
    }
    assert len(boundaries) == 3
    assert all(boundary and "=_" in boundary for boundary in boundaries)


def test_recipients_are_each_once_domains_compared_without_case() -> None:
    message = compose(
        request(
            to=["a@Example.com", "b@example.com, A@example.com"],
            cc=["a@example.COM"],
            bcc=["b@EXAMPLE.com"],
        )
    )
    assert message.recipients == ("a@Example.com", "b@example.com", "A@example.com")


def test_unicode_domains_are_idna_encoded_without_smtputf8() -> None:
    message = compose(request(sender="me@bücher.de", to=["Jürgen <j@münchen.example>"]))
    assert message.sender == "me@xn--bcher-kva.de"
    assert message.recipients == ("j@xn--mnchen-3ya.example",)
    assert not message.needs_smtputf8 and not message.needs_8bitmime
    assert header_block(sent(message)).isascii()


def test_a_non_ascii_local_part_needs_smtputf8_and_goes_as_utf8() -> None:
    message = compose(request(to=["用户 <用户@example.cn>"], subject="测试"))
    assert message.needs_smtputf8 and message.needs_8bitmime
    assert message.recipients == ("用户@example.cn",)
    data = sent(message)
    # Headers in UTF-8 (RFC 6532): the bytes parser would read them as ASCII.
    mail = email.message_from_string(data.decode("utf-8"), policy=email.policy.default)
    assert mail["To"].addresses[0].addr_spec == "用户@example.cn"
    assert mail["Subject"] == "测试"
    assert "用户@example.cn".encode() in header_block(data)


def test_a_non_ascii_bcc_needs_smtputf8_but_headers_stay_ascii() -> None:
    message = compose(request(bcc=["秘密@example.cn"]))
    assert message.needs_smtputf8
    assert not message.needs_8bitmime
    assert "秘密".encode() not in sent(message)


@pytest.mark.parametrize(
    "changes",
    [
        {"to": ["alice@example.org)<bob@example.org>"]},
        {"to": ["root"]},
        {"to": ["a@b@c"]},
        {"sender": "a@example.com, b@example.com"},
        {"to": ["x@bad..domain"]},
    ],
)
def test_addresses_that_do_not_parse_cleanly_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(MessageRefused):
        compose(request(**changes))


def test_no_recipient_is_refused() -> None:
    with pytest.raises(MessageRefused, match="no recipient"):
        compose(request(to=[]))


def test_a_body_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(MessageRefused, match="UTF-8"):
        compose(request(body="bad \udce9 byte"))
