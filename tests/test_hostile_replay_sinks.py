"""Server text (and transcript text, and file names) on every sink of a replay: the
FAIL lines, the JUnit report and the pytest plugin's failure report.

Every string of ``hostile_strings.HOSTILE`` goes through each of them; none may
reach the sink raw, and the JUnit file must stay well-formed XML.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from cli_runner import run_cli
from hostile_server import HostileServer, Peer, Script
from hostile_strings import HOSTILE, leaked

NAMES = list(HOSTILE)


def _wire(text: str) -> bytes:
    # A lone surrogate stands for a byte that is not UTF-8, as a server would send it.
    return text.encode("utf-8", "surrogateescape")


def _replying(hostile: str) -> Script:
    """Greets, then refuses NOOP with the hostile text, in a multi-line reply."""

    async def script(peer: Peer) -> None:
        await peer.send(b"220 hostile.test ESMTP\r\n")
        while True:
            await peer.command()
            await peer.send(b"550-" + _wire(hostile) + b"\r\n550 5.0.0 " + _wire(hostile) + b"\r\n")

    return script


def _junit_texts(path: Path) -> list[str]:
    """Every attribute and text of the report; ET.parse fails if it is not well-formed."""
    root = ET.parse(path).getroot()
    texts: list[str] = []
    for element in root.iter():
        texts.extend(element.attrib.values())
        texts.append(element.text or "")
    return texts


@pytest.mark.parametrize("name", NAMES)
def test_fail_lines_and_junit_keep_server_text_inert(name: str, tmp_path: Path) -> None:
    """Terminal escapes (ESC [2J, OSC 52 clipboard writes), bidi overrides (Trojan
    Source, CVE-2021-42574) and characters XML 1.0 forbids (NUL, ESC, BEL, VT) in a
    reply: the FAIL lines show them as escapes, and the JUnit report stays
    well-formed XML that a CI server can read."""
    hostile = HOSTILE[name]
    transcript = tmp_path / "hostile.smtp"
    junit = tmp_path / "report.xml"
    with HostileServer(_replying(hostile)) as server:
        transcript.write_text(f"> telnet 127.0.0.1 {server.port}\n220\n> NOOP\n250\n")
        out, err, status = run_cli(
            "replay", str(transcript), "--junit", str(junit), "--timeout", "5"
        )
    assert status == 1, out + err
    assert f"FAIL {transcript}:4" in out
    assert "got       550-" in out
    assert leaked(out + err) == []
    texts = _junit_texts(junit)
    assert any("expected 250, got 550" in text for text in texts)
    assert leaked("".join(texts)) == []


@pytest.mark.parametrize("name", NAMES)
def test_transcript_text_in_fail_lines_and_junit_is_inert(name: str, tmp_path: Path) -> None:
    """A transcript is someone else's text too: its expected lines, shown beside the
    server's, go through the same escaping (and the lone surrogate, which a UTF-8
    file cannot hold, arrives through a file name instead)."""
    hostile = HOSTILE[name]
    # A bare CR is refused by the reader, and a UTF-8 file holds no lone surrogate.
    note = hostile.replace("\r", "\\r").replace("\udcff", "\\xff")
    transcript = tmp_path / "note.smtp"
    junit = tmp_path / "report.xml"
    with HostileServer(_replying("refused")) as server:
        transcript.write_text(
            f"> telnet 127.0.0.1 {server.port}\n220\n> NOOP\n250 {note}\n", encoding="utf-8"
        )
        out, err, status = run_cli("replay", str(transcript), "--junit", str(junit))
    assert status == 1
    assert leaked(out + err) == []
    assert leaked("".join(_junit_texts(junit))) == []


@pytest.mark.parametrize(
    "name", ["clear screen (ESC [2J)", "bidi override U+202E", "lone surrogate", "BEL"]
)
def test_file_names_are_inert_in_fail_lines_and_junit(name: str, tmp_path: Path) -> None:
    """A checked-out repository names its own files: a transcript called
    ``\\u202egnp.smtp`` or holding ESC, or a name that is not UTF-8 (a surrogate in
    Python), is shown escaped, and the report still encodes as UTF-8 XML."""
    folder = tmp_path / "transcripts"
    folder.mkdir()
    raw_name = os.fsencode(f"t{HOSTILE[name]}.smtp")
    junit = tmp_path / "report.xml"
    with HostileServer(_replying("refused")) as server:
        path = Path(os.fsdecode(os.path.join(os.fsencode(folder), raw_name)))
        path.write_text(f"> telnet 127.0.0.1 {server.port}\n220\n> NOOP\n250\n")
        out, err, status = run_cli("replay", str(folder), "--junit", str(junit))
    assert status == 1, out + err
    assert "FAIL " in out
    assert leaked(out + err) == []
    assert leaked("".join(_junit_texts(junit))) == []


def test_plugin_failure_report_keeps_server_text_inert(pytester: pytest.Pytester) -> None:
    """The pytest plugin's ``repr_failure`` is a terminal and CI-log sink: every hostile
    string a server sends comes out escaped."""
    folder = pytester.mkdir("transcripts")
    servers = [HostileServer(_replying(HOSTILE[name])) for name in NAMES]
    try:
        for index, server in enumerate(servers):
            server.__enter__()
            (folder / f"t{index}.smtp").write_text(
                f"> telnet 127.0.0.1 {server.port}\n220\n> NOOP\n250\n", encoding="utf-8"
            )
        pytester.makeini("[pytest]\nsmtp_transcripts = transcripts\nsmtp_timeout = 5\n")
        result = pytester.runpytest("-p", "no:cacheprovider")
    finally:
        for server in servers:
            server.__exit__(None, None, None)
    result.assert_outcomes(failed=len(NAMES))
    shown = result.stdout.str()
    assert shown.count("expected 250, got 550") >= len(NAMES)
    assert leaked(shown) == []
