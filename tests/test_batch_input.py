"""PipedInput hands message text to the session in blocks of whole lines, at most
BLOCK octets each (flow control lets one block past the high-water mark), however
large its reads are; the text comes out byte for byte, the "." found wherever the
reads split it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from smtpshell.shell.batch import BLOCK, PipedInput


def _blocks(path: Path) -> tuple[list[bytes], list[bytes]]:
    async def read() -> tuple[list[bytes], list[bytes]]:
        warnings: list[str] = []
        with path.open(encoding="utf-8") as stream:
            source = PipedInput(stream)
            assert await source.line() == b"DATA"
            blocks = [block async for block in source.body(warnings.append)]
            rest = []
            while (line := await source.line()) is not None:
                rest.append(line)
        return blocks, rest

    return asyncio.run(read())


@pytest.mark.parametrize("long_line", [0, BLOCK + 10, 3 * BLOCK])
def test_message_text_comes_in_bounded_blocks_of_whole_lines(
    tmp_path: Path, long_line: int
) -> None:
    lines = [b"line %d %s\n" % (n, b"y" * (n % 97)) for n in range(40_000)]
    lines[123] = b".leading dot\n"
    lines[20_000] = b"z" * long_line + b"\n"
    text = b"".join(lines)
    script = tmp_path / "script.txt"
    script.write_bytes(b"DATA\n" + text + b".\nQUIT\n")

    blocks, rest = _blocks(script)

    assert b"".join(blocks) == text
    assert rest == [b"QUIT"]
    for block in blocks:
        assert block.endswith(b"\n")
        assert len(block) <= BLOCK or block.count(b"\n") == 1, len(block)


@pytest.mark.parametrize("end", [b".\n", b".\r\n"])
def test_the_end_is_found_after_lines_that_start_with_a_dot(tmp_path: Path, end: bytes) -> None:
    text = b"..two dots\n.one\n.\t\n. \nx.\n"
    script = tmp_path / "script.txt"
    script.write_bytes(b"DATA\n" + text + end + b"QUIT\n")
    blocks, rest = _blocks(script)
    assert b"".join(blocks) == text
    assert rest == [b"QUIT"]
