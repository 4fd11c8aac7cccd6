"""Reply framing and the Reply value type (RFC 5321 4.2, RFC 3463)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtpshell.errors import ProtocolError, ReplyTooLong, SmtpShellError
from smtpshell.protocol.reply import (
    MAX_LINE_BYTES,
    MAX_REPLY_BYTES,
    Reply,
    ReplyClass,
    ReplyParser,
    decode_text,
    split_enhanced,
)


def parse_all(data: bytes, parser: ReplyParser | None = None) -> list[Reply]:
    """Feed ``data`` at once and collect every complete reply."""
    parser = parser or ReplyParser()
    parser.feed(data)
    return drain(parser)


def drain(parser: ReplyParser) -> list[Reply]:
    out = []
    while (reply := parser.next_reply()) is not None:
        out.append(reply)
    return out


# --------------------------------------------------------------------------- framing


def test_single_line_reply() -> None:
    assert parse_all(b"220 mail.example.com ESMTP Postfix\r\n") == [
        Reply(220, ("mail.example.com ESMTP Postfix",))
    ]


def test_multi_line_reply() -> None:
    data = b"250-mail.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n"
    (reply,) = parse_all(data)
    assert reply.code == 250
    assert reply.lines == ("mail.example.com", "PIPELINING", "SIZE 10240000", "8BITMIME")
    assert reply.text == "mail.example.com\nPIPELINING\nSIZE 10240000\n8BITMIME"


def test_several_replies_in_one_feed() -> None:
    data = b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
    replies = parse_all(data)
    assert [r.code for r in replies] == [250, 250, 354]
    assert replies[2].lines == ("End data with <CR><LF>.<CR><LF>",)


def test_bare_code_without_text() -> None:
    (reply,) = parse_all(b"250\r\n")
    assert reply == Reply(250, ("",))
    assert reply.text == ""


def test_code_and_space_without_text() -> None:
    assert parse_all(b"250 \r\n") == [Reply(250, ("",))]


def test_continuation_with_empty_text() -> None:
    assert parse_all(b"250-\r\n250-\r\n250 end\r\n") == [Reply(250, ("", "", "end"))]


def test_bare_code_ends_a_multi_line_reply() -> None:
    assert parse_all(b"250-first\r\n250\r\n") == [Reply(250, ("first", ""))]


def test_lf_only_line_endings_tolerated() -> None:
    data = b"250-a\n250-b\r\n250 c\n220 next\n"
    assert parse_all(data) == [Reply(250, ("a", "b", "c")), Reply(220, ("next",))]


def test_only_one_trailing_cr_is_removed() -> None:
    # "a\r" is the text: only the CR of the CRLF belongs to the framing.
    assert parse_all(b"250 a\r\r\n") == [Reply(250, ("a\r",))]


def test_text_keeps_inner_and_trailing_spaces() -> None:
    assert parse_all(b"250  two  spaces \r\n") == [Reply(250, (" two  spaces ",))]


def test_incomplete_reply_returns_none() -> None:
    parser = ReplyParser()
    parser.feed(b"250-first\r\n250-sec")
    assert parser.next_reply() is None
    assert parser.in_reply
    parser.feed(b"ond\r\n250 last\r\n")
    assert parser.next_reply() == Reply(250, ("first", "second", "last"))
    assert not parser.in_reply
    assert parser.next_reply() is None


def test_no_data_returns_none() -> None:
    parser = ReplyParser()
    assert parser.next_reply() is None
    assert not parser.in_reply
    assert parser.buffered == 0


def test_partial_line_without_newline_is_not_a_reply() -> None:
    parser = ReplyParser()
    parser.feed(b"250 ok")
    assert parser.next_reply() is None
    parser.feed(b"\r")
    assert parser.next_reply() is None
    parser.feed(b"\n")
    assert parser.next_reply() == Reply(250, ("ok",))


def test_bytes_one_at_a_time() -> None:
    data = b"220 hi\r\n250-a\r\n250-\r\n250 b\r\n354 go\n"
    parser = ReplyParser()
    replies = []
    for byte in data:
        parser.feed(bytes([byte]))
        replies.extend(drain(parser))
    assert replies == parse_all(data)
    assert len(replies) == 3


# ------------------------------------------------------------------------ errors


def test_mixed_codes_inside_a_reply() -> None:
    with pytest.raises(ProtocolError, match=r"251.*250"):
        parse_all(b"250-first\r\n251 second\r\n")


def test_mixed_codes_after_a_continuation_line_only() -> None:
    parser = ReplyParser()
    parser.feed(b"250-first\r\n")
    assert parser.next_reply() is None
    parser.feed(b"550 nope\r\n")
    with pytest.raises(ProtocolError):
        parser.next_reply()


def test_different_codes_in_consecutive_replies_are_fine() -> None:
    assert [r.code for r in parse_all(b"250 a\r\n550 b\r\n")] == [250, 550]


@pytest.mark.parametrize(
    "line",
    [
        b"hello world",
        b"25 short",
        b"2500 four digits",
        b"250_underscore",
        b"250\tTAB separator",
        b"",
        b" 250 leading space",
        b"abc def",
        b"\xff\xfe\xfd",
        b"\xd9\xa2\xd9\xa5\xd9\xa0 arabic-indic digits",
    ],
)
def test_garbage_line_is_a_protocol_error(line: bytes) -> None:
    with pytest.raises(ProtocolError, match="malformed reply line") as info:
        parse_all(line + b"\r\n")
    assert not isinstance(info.value, ReplyTooLong)


def test_garbage_line_is_shown_in_the_message() -> None:
    with pytest.raises(ProtocolError) as info:
        parse_all(b"HTTP/1.1 400 Bad Request\r\n")
    assert "HTTP/1.1 400 Bad Request" in str(info.value)


def test_garbage_line_shown_with_non_utf8_visible() -> None:
    with pytest.raises(ProtocolError) as info:
        parse_all(b"\xffgarbage\r\n")
    assert "\\xff" in str(info.value)
    assert "garbage" in str(info.value)


def test_garbage_line_shown_is_truncated() -> None:
    with pytest.raises(ProtocolError) as info:
        parse_all(b"x" * 500 + b"\r\n")
    assert len(str(info.value)) < 200


def test_protocol_errors_are_smtpshell_errors() -> None:
    assert issubclass(ProtocolError, SmtpShellError)
    assert issubclass(ReplyTooLong, ProtocolError)


def test_line_at_the_bound_is_accepted() -> None:
    # The bound counts the whole line including CRLF.
    line = b"250 " + b"a" * (MAX_LINE_BYTES - 6) + b"\r\n"
    assert len(line) == MAX_LINE_BYTES
    (reply,) = parse_all(line)
    assert reply.lines == ("a" * (MAX_LINE_BYTES - 6),)


def test_line_over_the_bound_is_too_long() -> None:
    line = b"250 " + b"a" * (MAX_LINE_BYTES - 5) + b"\r\n"
    assert len(line) == MAX_LINE_BYTES + 1
    with pytest.raises(ReplyTooLong, match=str(MAX_LINE_BYTES)):
        parse_all(line)


def test_line_over_the_bound_without_any_newline() -> None:
    parser = ReplyParser()
    parser.feed(b"250 " + b"a" * (MAX_LINE_BYTES - 4))
    assert parser.next_reply() is None  # exactly MAX_LINE_BYTES buffered: still may end
    parser.feed(b"a")
    with pytest.raises(ReplyTooLong):
        parser.next_reply()


def test_endless_line_streamed_in_small_chunks_is_stopped() -> None:
    parser = ReplyParser()
    chunk = b"a" * 1000
    with pytest.raises(ReplyTooLong):
        for _ in range(20):
            parser.feed(chunk)
            assert parser.next_reply() is None
    assert parser.buffered <= MAX_LINE_BYTES + len(chunk)


def test_custom_line_bound() -> None:
    parser = ReplyParser(max_line=10)
    parser.feed(b"250 12345\r\n")  # 11 bytes
    with pytest.raises(ReplyTooLong):
        parser.next_reply()
    assert parse_all(b"250 1234\r\n", ReplyParser(max_line=10)) == [Reply(250, ("1234",))]


def test_reply_over_32_kib_is_too_long() -> None:
    line = b"250-" + b"x" * 996 + b"\r\n"  # 1002 bytes a line
    count = MAX_REPLY_BYTES // len(line) + 1
    parser = ReplyParser()
    parser.feed(line * count + b"250 end\r\n")
    with pytest.raises(ReplyTooLong, match="KiB"):
        parser.next_reply()


def test_endless_continuation_reply_streamed_is_stopped() -> None:
    parser = ReplyParser()
    line = b"250-" + b"y" * 100 + b"\r\n"
    with pytest.raises(ReplyTooLong):
        for _ in range(MAX_REPLY_BYTES // len(line) + 2):
            parser.feed(line)
            assert parser.next_reply() is None


def test_reply_just_under_32_kib_is_fine() -> None:
    last = b"250 end\r\n"
    line = b"250-" + b"x" * 1018 + b"\r\n"  # 1024 bytes
    body = line * (MAX_REPLY_BYTES // len(line) - 1)
    data = body + b"250-" + b"z" * (MAX_REPLY_BYTES - len(body) - len(last) - 6) + b"\r\n" + last
    assert len(data) == MAX_REPLY_BYTES
    (reply,) = parse_all(data)
    assert reply.lines[-1] == "end"


def test_reply_bound_resets_between_replies() -> None:
    line = b"250 " + b"x" * 1018 + b"\r\n"
    many = line * (2 * MAX_REPLY_BYTES // len(line))
    assert len(parse_all(many)) == 2 * MAX_REPLY_BYTES // len(line)


def test_custom_reply_bound() -> None:
    parser = ReplyParser(max_reply=20)
    parser.feed(b"250-0123456789\r\n250-x\r\n250 y\r\n")
    with pytest.raises(ReplyTooLong):
        parser.next_reply()


# ---------------------------------------------------------------- buffer handling


def test_buffered_counts_unreturned_bytes() -> None:
    parser = ReplyParser()
    parser.feed(b"250-a\r\n250-b\r\n25")
    assert parser.next_reply() is None
    assert parser.buffered == 16
    parser.feed(b"0 c\r\n")
    assert parser.next_reply() is not None
    assert parser.buffered == 0


def test_discard_returns_the_buffered_byte_count() -> None:
    parser = ReplyParser()
    data = b"250-a\r\n250-b\r\n250 partial"
    parser.feed(data)
    assert parser.next_reply() is None
    assert parser.discard() == len(data)
    assert parser.buffered == 0
    assert not parser.in_reply
    assert parser.next_reply() is None


def test_discard_counts_unread_complete_replies() -> None:
    # STARTTLS (RFC 3207 5): bytes pipelined after "220 Ready" must be dropped.
    parser = ReplyParser()
    parser.feed(b"220 2.0.0 Ready to start TLS\r\n250 injected\r\n")
    assert parser.next_reply() == Reply(220, ("2.0.0 Ready to start TLS",))
    assert parser.discard() == len(b"250 injected\r\n")
    assert parser.next_reply() is None


def test_discard_on_empty_parser_is_zero() -> None:
    assert ReplyParser().discard() == 0


def test_parser_is_reusable_after_discard() -> None:
    parser = ReplyParser()
    parser.feed(b"250-half a reply\r\n")
    assert parser.next_reply() is None
    parser.discard()
    parser.feed(b"220 fresh\r\n")
    assert parser.next_reply() == Reply(220, ("fresh",))


# ------------------------------------------------------------------------- decoding


def test_non_utf8_bytes_are_kept_visible() -> None:
    (reply,) = parse_all(b"250 caf\xe9 \xff\r\n")
    assert reply.lines == ("caf\\xe9 \\xff",)


def test_utf8_text_is_decoded() -> None:
    (reply,) = parse_all("250 Grüße ✓\r\n".encode())
    assert reply.lines == ("Grüße ✓",)


def test_decode_text() -> None:
    assert decode_text(b"ok") == "ok"
    assert decode_text("é".encode()) == "é"
    assert decode_text(b"\x80") == "\\x80"


# ------------------------------------------------------------------------ the Reply


@pytest.mark.parametrize(
    ("code", "kind", "positive"),
    [
        (220, ReplyClass.POSITIVE, True),
        (250, ReplyClass.POSITIVE, True),
        (235, ReplyClass.POSITIVE, True),
        (334, ReplyClass.INTERMEDIATE, True),
        (354, ReplyClass.INTERMEDIATE, True),
        (421, ReplyClass.TRANSIENT, False),
        (451, ReplyClass.TRANSIENT, False),
        (500, ReplyClass.PERMANENT, False),
        (554, ReplyClass.PERMANENT, False),
        (199, ReplyClass.UNKNOWN, False),
        (600, ReplyClass.UNKNOWN, False),
        (999, ReplyClass.UNKNOWN, False),
        (0, ReplyClass.UNKNOWN, False),
        (99, ReplyClass.UNKNOWN, False),
    ],
)
def test_reply_class(code: int, kind: ReplyClass, positive: bool) -> None:
    reply = Reply(code, ("x",))
    assert reply.kind is kind
    assert reply.is_positive is positive


def test_odd_codes_parse_and_are_unknown() -> None:
    assert [r.kind for r in parse_all(b"199 a\r\n600 b\r\n000 c\r\n")] == [ReplyClass.UNKNOWN] * 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2.1.0 Ok", ("2.1.0", " Ok")),
        ("5.7.1 Relay access denied", ("5.7.1", " Relay access denied")),
        ("4.4.2 ", ("4.4.2", " ")),
        ("2.0.0", ("2.0.0", "")),
        ("5.123.456 big", ("5.123.456", " big")),
        ("4.7.0\ttab", ("4.7.0", "\ttab")),
        ("Ok", (None, "Ok")),
        ("", (None, "")),
        ("3.1.0 class 3 does not exist", (None, "3.1.0 class 3 does not exist")),
        ("1.0.0 x", (None, "1.0.0 x")),
        ("2.1234.0 x", (None, "2.1234.0 x")),
        ("2.1.1234 x", (None, "2.1.1234 x")),
        ("2.1.0Ok", (None, "2.1.0Ok")),
        ("2.1 Ok", (None, "2.1 Ok")),
        ("2..0 Ok", (None, "2..0 Ok")),
        (" 2.1.0 Ok", (None, " 2.1.0 Ok")),
        ("2.1.0.5 Ok", (None, "2.1.0.5 Ok")),
    ],
)
def test_split_enhanced(text: str, expected: tuple[str | None, str]) -> None:
    assert split_enhanced(text) == expected


def test_split_enhanced_only_ascii_digits() -> None:
    assert split_enhanced("2.\u0661.\u0660 Ok") == (None, "2.\u0661.\u0660 Ok")


def test_enhanced_code_of_reply_uses_first_line() -> None:
    (reply,) = parse_all(b"550-5.1.1 <x@example.com>: user unknown\r\n550 4.0.0 second\r\n")
    assert reply.enhanced_code == "5.1.1"
    assert Reply(250, ("Ok",)).enhanced_code is None
    assert Reply(250, ()).enhanced_code is None


@pytest.mark.parametrize(
    "wire",
    [
        [b"250 ok"],
        [b"250"],
        [b"250-"],  # only as a non-last line; completed below
        [b"250-a", b"250-", b"250 b"],
        [b"250-a", b"250"],
        [b"354 End data with <CR><LF>.<CR><LF>"],
        [b"550-5.1.1 first", b"550 5.1.1 second"],
    ],
)
def test_wire_lines_round_trip(wire: list[bytes]) -> None:
    if wire[-1].endswith(b"-"):
        wire = [*wire, b"250 end"]
    (reply,) = parse_all(b"".join(line + b"\r\n" for line in wire))
    assert reply.wire_lines() == [line.decode() for line in wire]
    assert str(reply) == "\n".join(line.decode() for line in wire)


def test_wire_lines_of_trailing_space_reply_is_bare_code() -> None:
    (reply,) = parse_all(b"250 \r\n")
    assert reply.wire_lines() == ["250"]


def test_wire_lines_keep_three_digit_code() -> None:
    (reply,) = parse_all(b"050 odd\r\n")
    assert reply.wire_lines() == ["050 odd"]


# ---------------------------------------------------------------------- properties

_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
    max_size=30,
)


@st.composite
def replies(draw: st.DrawFn) -> Reply:
    code = draw(st.integers(100, 999))
    lines = draw(st.lists(_text, min_size=1, max_size=5))
    return Reply(code, tuple(lines))


def encode_replies(values: list[Reply], newline: bytes = b"\r\n") -> bytes:
    return b"".join(
        line.encode("utf-8") + newline for reply in values for line in reply.wire_lines()
    )


@settings(max_examples=300, deadline=None)
@given(replies())
def test_wire_lines_round_trip_property(reply: Reply) -> None:
    assert parse_all(encode_replies([reply])) == [reply]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(replies(), min_size=1, max_size=6),
    st.sampled_from([b"\r\n", b"\n"]),
    st.data(),
)
def test_arbitrary_split_points_give_same_replies(
    values: list[Reply], newline: bytes, data: st.DataObject
) -> None:
    stream = encode_replies(values, newline)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12), label="cuts"))
    parser = ReplyParser()
    got: list[Reply] = []
    start = 0
    for cut in [*cuts, len(stream)]:
        parser.feed(stream[start:cut])
        start = cut
        got.extend(drain(parser))
    assert got == values == parse_all(stream)
    assert parser.buffered == 0
    assert not parser.in_reply


@settings(max_examples=100, deadline=None)
@given(st.lists(replies(), min_size=1, max_size=3))
def test_byte_at_a_time_property(values: list[Reply]) -> None:
    stream = encode_replies(values)
    parser = ReplyParser()
    got: list[Reply] = []
    for byte in stream:
        parser.feed(bytes([byte]))
        got.extend(drain(parser))
    assert got == values


_reply_ish = st.lists(
    st.one_of(
        st.binary(max_size=40),
        st.sampled_from([b"250", b"250-", b"250 ", b"\r\n", b"\n", b"\r", b"354 go\r\n", b"2"]),
    ),
    max_size=20,
).map(b"".join)


@settings(max_examples=500, deadline=None)
@given(_reply_ish, st.lists(st.integers(0, 10_000), max_size=8))
def test_any_bytes_raise_only_protocol_errors(data: bytes, cuts: list[int]) -> None:
    parser = ReplyParser(max_line=64, max_reply=256)
    points = sorted(c % (len(data) + 1) for c in cuts)
    start = 0
    try:
        for cut in [*points, len(data)]:
            parser.feed(data[start:cut])
            start = cut
            for reply in drain(parser):
                assert 0 <= reply.code <= 999
                assert reply.lines
                assert isinstance(reply.kind, ReplyClass)
                reply.wire_lines()
                _ = reply.enhanced_code
    except ProtocolError:
        pass
    # Whatever happened, discarding (as at STARTTLS) drops exactly what is buffered,
    # never more than was fed, and leaves the parser empty.
    buffered = parser.buffered
    assert parser.discard() == buffered <= len(data)
    assert parser.buffered == 0 and not parser.in_reply


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_default_bounds(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        parse_all(data)
