"""Message data: CRLF normalisation and dot-stuffing (RFC 5321 4.5.2), SMTP smuggling."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtpshell.errors import CommandRejected
from smtpshell.protocol.dotstuff import END_OF_DATA, DataEncoder, stuff_line

EOD = b"\r\n.\r\n"


def unstuff(wire: bytes) -> bytes:
    """What a server stores for ``wire`` (the bytes between 354 and ``.CRLF``): the
    oracle the encoder's output is checked against (RFC 5321 4.5.2, receiver side)."""
    lines = wire.split(b"\r\n")
    return b"\r\n".join(line[1:] if line.startswith(b".") else line for line in lines)


def encode(data: bytes, cuts: list[int] | None = None) -> bytes:
    """Stream ``data`` through a DataEncoder, split at ``cuts`` (sorted offsets)."""
    encoder = DataEncoder()
    out = bytearray()
    start = 0
    for cut in [*(cuts or []), len(data)]:
        out += encoder.feed(data[start:cut])
        start = cut
    out += encoder.finish()
    return bytes(out)


def normalise(data: bytes) -> bytes:
    """Every CRLF, lone CR or lone LF becomes CRLF; a final CRLF is added if missing."""
    text = re.sub(rb"\r\n|\r|\n", b"\r\n", data)
    if text and not text.endswith(b"\r\n"):
        text += b"\r\n"
    return text


def assert_wire_ok(wire: bytes, original: bytes) -> None:
    # (a) no bare CR or LF anywhere.
    for index, byte in enumerate(wire):
        if byte == 0x0D:
            assert wire[index + 1 : index + 2] == b"\n", (index, wire)
        if byte == 0x0A:
            assert index > 0 and wire[index - 1] == 0x0D, (index, wire)
    # The terminating line is the only line that is a lone dot.
    assert wire.endswith(END_OF_DATA)
    body = wire[: -len(END_OF_DATA)]
    if body:
        # (b) ends with CRLF . CRLF
        assert wire.endswith(EOD)
        # The body's first line is not a lone dot (it would end DATA at once) ...
        assert not wire.startswith(b".\r\n")
        # (c) ... and no end-of-data sequence before the end.
        assert EOD not in wire[: -len(EOD)]
        assert wire.find(EOD) == len(wire) - len(EOD)
        assert body.endswith(b"\r\n")
    else:
        assert wire == b".\r\n"
    # (d) what the server stores is the input with CRLF line endings.
    assert unstuff(body) == normalise(original)


# ----------------------------------------------------------------- stuff_line


@pytest.mark.parametrize(
    ("line", "wire"),
    [
        (b"", b"\r\n"),
        (b"hello", b"hello\r\n"),
        (b".", b"..\r\n"),
        (b"..", b"...\r\n"),
        (b".hidden", b"..hidden\r\n"),
        (b" .not leading", b" .not leading\r\n"),
        (b"a.b", b"a.b\r\n"),
    ],
)
def test_stuff_line(line: bytes, wire: bytes) -> None:
    assert stuff_line(line) == wire
    assert unstuff(wire[:-2]) == line


# ------------------------------------------------------------ the unstuff oracle


@pytest.mark.parametrize(
    ("wire", "stored"),
    [
        (b"", b""),
        (b"a\r\n", b"a\r\n"),
        (b"..\r\n", b".\r\n"),
        (b"...x\r\n", b"..x\r\n"),
        (b"a\r\n..b\r\n", b"a\r\n.b\r\n"),
        (b"a.\r\n", b"a.\r\n"),
    ],
)
def test_unstuff(wire: bytes, stored: bytes) -> None:
    assert unstuff(wire) == stored


# ----------------------------------------------------------------- DataEncoder


def test_empty_message() -> None:
    assert encode(b"") == b".\r\n"
    encoder = DataEncoder()
    assert encoder.feed(b"") == b""
    assert encoder.finish() == b".\r\n"


@pytest.mark.parametrize(
    ("data", "wire"),
    [
        (b"hello", b"hello\r\n.\r\n"),
        (b"hello\r\n", b"hello\r\n.\r\n"),
        (b"hello\n", b"hello\r\n.\r\n"),
        (b"hello\r", b"hello\r\n.\r\n"),
        (b"a\nb\rc\r\nd", b"a\r\nb\r\nc\r\nd\r\n.\r\n"),
        (b".", b"..\r\n.\r\n"),
        (b".\r\n", b"..\r\n.\r\n"),
        (b"..\r\n", b"...\r\n.\r\n"),
        (b"a\r\n.\r\nb", b"a\r\n..\r\nb\r\n.\r\n"),
        (b"a\r\n.b\r\n", b"a\r\n..b\r\n.\r\n"),
        (b"\r\n", b"\r\n.\r\n"),
        (b"\n\n", b"\r\n\r\n.\r\n"),
        (b"\r\r", b"\r\n\r\n.\r\n"),
        (b"\n\r", b"\r\n\r\n.\r\n"),
        (b"a.b\r\n", b"a.b\r\n.\r\n"),
        (b"Subject: x\r\n\r\nbody", b"Subject: x\r\n\r\nbody\r\n.\r\n"),
    ],
)
def test_encode_examples(data: bytes, wire: bytes) -> None:
    assert encode(data) == wire
    assert_wire_ok(wire, data)


@pytest.mark.parametrize(
    "data",
    [
        # SEC Consult SMTP smuggling (CVE-2023-51764/51765/51766) and variants.
        b"Subject: a\r\n\r\nbody\n.\nMAIL FROM:<evil@example.com>\r\n",
        b"Subject: a\r\n\r\nbody\r.\rMAIL FROM:<evil@example.com>\r\n",
        b"Subject: a\r\n\r\nbody\r\n.\nMAIL FROM:<evil@example.com>\r\n",
        b"Subject: a\r\n\r\nbody\n.\r\nMAIL FROM:<evil@example.com>\r\n",
        b"body\r\n.\r\nMAIL FROM:<evil@example.com>\r\n",
        b"body\r\r\n.\r\r\nQUIT",
        b"\n.\n",
        b"\r.\r",
        b"\r\n.\n",
        b"\n.\r\n",
        b".\n",
        b".\r",
        b"x\n.",
        b"x\r.",
    ],
)
def test_smuggling_endings_never_end_data_early(data: bytes) -> None:
    for cuts in ([], *([i] for i in range(len(data) + 1))):
        wire = encode(data, cuts)
        assert_wire_ok(wire, data)


@pytest.mark.parametrize("ending", [b"\n.\n", b"\r.\r", b"\r\n.\n", b"\n.\r\n", b"\r\n.\r\n"])
def test_smuggling_ending_is_stuffed(ending: bytes) -> None:
    wire = encode(b"a" + ending + b"b")
    assert wire == b"a\r\n..\r\nb\r\n.\r\n"


def test_byte_at_a_time_matches_whole() -> None:
    data = b".a\r\n.\r\n\r.\r\n.\n..x\rend\r"
    assert encode(data, list(range(len(data) + 1))) == encode(data)


def test_cr_held_across_chunks_becomes_one_crlf() -> None:
    encoder = DataEncoder()
    first = encoder.feed(b"line\r")
    second = encoder.feed(b"\n.next")
    assert first + second + encoder.finish() == b"line\r\n..next\r\n.\r\n"
    assert not first.endswith(b"\r")  # a CR that may start a CRLF is held back


def test_lone_cr_at_chunk_end_then_dot() -> None:
    encoder = DataEncoder()
    out = encoder.feed(b"a\r") + encoder.feed(b".\r") + encoder.feed(b"b") + encoder.finish()
    assert out == b"a\r\n..\r\nb\r\n.\r\n"


def test_dot_at_start_of_later_chunk() -> None:
    encoder = DataEncoder()
    out = encoder.feed(b"a\r\n") + encoder.feed(b".b") + encoder.finish()
    assert out == b"a\r\n..b\r\n.\r\n"


def test_dot_not_at_line_start_in_later_chunk() -> None:
    encoder = DataEncoder()
    out = encoder.feed(b"a") + encoder.feed(b".b") + encoder.finish()
    assert out == b"a.b\r\n.\r\n"


def test_only_cr_message() -> None:
    assert encode(b"\r") == b"\r\n.\r\n"
    encoder = DataEncoder()
    assert encoder.feed(b"\r") == b""
    assert encoder.finish() == b"\r\n.\r\n"


def test_empty_chunks_change_nothing() -> None:
    encoder = DataEncoder()
    out = bytearray()
    for chunk in (b"", b"a\r", b"", b"", b"\n", b"", b".", b""):
        out += encoder.feed(chunk)
    out += encoder.finish()
    assert bytes(out) == b"a\r\n..\r\n.\r\n"


def test_feed_output_never_ends_in_bare_cr() -> None:
    encoder = DataEncoder()
    for chunk in (b"a\r", b"\r", b"\r\r", b"b\r\n", b"\n\r"):
        out = encoder.feed(chunk)
        assert not out.endswith(b"\r")


def test_long_message_streamed() -> None:
    line = b"x" * 997 + b"\n"
    data = (line + b".\n") * 200
    cuts = list(range(0, len(data), 4093))
    wire = encode(data, cuts)
    assert_wire_ok(wire, data)
    assert wire == encode(data)


# ------------------------------------------------------------------- property

_pieces = st.sampled_from(
    [b"\r", b"\n", b"\r\n", b".", b"..", b"\n.\n", b"\r.\r", b"\r\n.\n", b"\n.\r\n", b"\r\n.\r\n"]
)
# DATA cannot carry NUL (refused, see below): every other byte value is fair game.
_no_nul = st.binary(max_size=8).map(lambda b: b.replace(b"\x00", b""))
_message = st.lists(
    st.one_of(_pieces, _no_nul, st.sampled_from([b"a", b"From: x", b" "])),
    max_size=30,
).map(b"".join)


@settings(max_examples=500, deadline=None)
@given(_message, st.data())
def test_streamed_encoding_property(data: bytes, draw: st.DataObject) -> None:
    cuts = sorted(draw.draw(st.lists(st.integers(0, len(data)), max_size=10), label="cuts"))
    wire = encode(data, cuts)
    assert_wire_ok(wire, data)
    # Chunking never changes the result.
    assert wire == encode(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200).map(lambda b: b.replace(b"\x00", b"")), st.data())
def test_arbitrary_bytes_property(data: bytes, draw: st.DataObject) -> None:
    cuts = sorted(draw.draw(st.lists(st.integers(0, len(data)), max_size=10), label="cuts"))
    assert_wire_ok(encode(data, cuts), data)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.binary(max_size=20).filter(lambda b: not any(c in b for c in b"\r\n\x00"))
    )
)
def test_stuff_line_agrees_with_encoder(lines: list[bytes]) -> None:
    data = b"".join(line + b"\r\n" for line in lines)
    assert encode(data) == b"".join(stuff_line(line) for line in lines) + END_OF_DATA


@pytest.mark.parametrize("chunk", [b"\x00", b"a\r\n\x00.\r\nb", b"line\x00"])
def test_nul_is_refused(chunk: bytes) -> None:
    """RFC 6152 / RFC 5321 2.3.8: no NUL in DATA; a server that drops NULs would
    read "\\r\\n\\x00.\\r\\n" as the end of the message (SMTP smuggling)."""
    with pytest.raises(CommandRejected, match="NUL"):
        DataEncoder().feed(chunk)
