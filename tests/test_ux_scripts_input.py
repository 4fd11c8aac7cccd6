"""Piped input cut anywhere reads the same: lines, message text up to its ".", and the
refusals, whatever the sizes of the reads (a pipe hands over what it holds)."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtpshell.errors import CommandRejected, UsageError
from smtpshell.shell.batch import PipedInput


class Reads:
    """A binary buffer whose read1 hands over the sizes given, in turn."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self._data = data
        self._sizes = sizes or [1]
        self._turn = 0

    def read1(self, _limit: int) -> bytes:
        size = self._sizes[self._turn % len(self._sizes)]
        self._turn += 1
        piece, self._data = self._data[:size], self._data[size:]
        return piece


class Stdin:
    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self.buffer = Reads(data, sizes)

    def readline(self) -> str:  # never used: the buffer is read
        raise AssertionError


def read_all(data: bytes, sizes: list[int]) -> list[object]:
    """Commands as str; message text as bytes, after a line "DATA"."""

    async def main() -> list[object]:
        source = PipedInput(Stdin(data, sizes))  # type: ignore[arg-type]
        seen: list[object] = []
        while (line := await source.line()) is not None:
            seen.append(line.decode())
            if line == b"DATA":
                seen.append(b"".join([block async for block in source.body(seen.append)]))
        return seen

    return asyncio.run(main())


TEXT_LINES = st.lists(
    st.sampled_from([b"", b"x", b"..", b".x", b"x.", b"Subject: s", b"\xe9t\xe9", b"a" * 1200]),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(TEXT_LINES, st.sampled_from([b"\n", b"\r\n"]), st.lists(st.integers(1, 70), max_size=5))
def test_any_reads_give_the_same_lines_and_message(
    lines: list[bytes], ending: bytes, sizes: list[int]
) -> None:
    body = b"".join(line + ending for line in lines)
    data = b"EHLO me\nDATA\n" + body + b"." + ending + b"QUIT"  # the last line has no LF
    seen = read_all(data, sizes)
    warnings = [item for item in seen if isinstance(item, str) and "octets" in item]
    rest = [item for item in seen if item not in warnings]
    assert rest == ["EHLO me", "DATA", body, "QUIT"]
    assert len(warnings) == (1 if b"a" * 1200 in lines else 0)


@pytest.mark.parametrize(
    ("body", "line"),
    [(b"ok\nbare\rcr\n.\n", 4), (b"ok\nok\nnul\x00\n.\n", 5), (b"ok\r\r\n.\n", 3)],
)
@pytest.mark.parametrize("size", [1, 2, 65536])
def test_a_smuggling_line_is_refused_with_its_number(body: bytes, line: int, size: int) -> None:
    with pytest.raises(CommandRejected, match=f"^line {line}: refusing to send"):
        read_all(b"EHLO me\nDATA\n" + body, [size])


@pytest.mark.parametrize("tail", [b"", b"no end", b"..\n"])
def test_input_ending_inside_the_message_is_refused(tail: bytes) -> None:
    with pytest.raises(UsageError, match="input ended inside the message"):
        read_all(b"DATA\nSubject: s\n\n" + tail, [3])


def test_a_final_dot_without_line_ending_ends_the_message() -> None:
    assert read_all(b"DATA\nbody\n.", [4]) == ["DATA", b"body\n"]
