"""`smtpshell send` given hostile or careless input: every refusal is one inert line
and a documented exit status before anything is sent, never a traceback; what is
accepted goes out as valid RFC 5322."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from cli_runner import run_cli
from hostile_server import HostileServer, well_behaved

from smtpshell.send.outcome import SendStatus

ENVELOPE = ("--from", "a@example.com", "--to", "b@example.com")


def dry_run(*args: str, stdin: str = "hi\n") -> tuple[str, str, int]:
    return run_cli("send", "--dry-run", *args, stdin=stdin)


def one_error_line(err: str) -> str:
    assert err.count("\n") == 1 and err.startswith("smtpshell send: error: "), err
    assert "Traceback" not in err and "\x1b" not in err
    return err


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85", "\x9b"])
@pytest.mark.parametrize("option", ["-s", "--header"])
def test_unicode_line_separators_in_a_header_are_refused(separator: str, option: str) -> None:
    value = f"hi{separator}Bcc: evil@example.net"
    argument = value if option == "-s" else f"X-Note: {value}"
    _, err, status = dry_run(*ENVELOPE, option, argument, "--body", "x")
    # Before: U+2028 and U+0085 passed the check and the email package raised a
    # ValueError: a traceback.
    assert status == SendStatus.USAGE
    assert "control character" in one_error_line(err)


def test_a_display_name_holding_a_line_separator_is_encoded_not_a_new_header() -> None:
    out, err, status = dry_run("--from", "a@example.com", "--to", '"Evil\u2028Bcc: e@x" <b@x.com>')
    assert status == SendStatus.OK, err
    headers = out.split("\n\n", 1)[1].split("\n\n", 1)[0]
    assert "=?utf-8?" in headers and "\nBcc" not in headers


def test_a_long_unfoldable_display_name_is_refused_naming_the_field() -> None:
    name = "N" * 2000
    _, err, status = dry_run("--from", "a@example.com", "--to", f'"{name}" <b@example.com>')
    # Before: a To line of 2001 octets went out (RFC 5322 2.1.1 allows 998).
    assert status == SendStatus.USAGE
    assert "the To header would have a line of 2001 octets" in one_error_line(err)


@pytest.mark.parametrize(
    "argument",
    [("-s", "x" * 3000), ("--header", "X-Long: " + "y" * 3000), ("-s", "word " * 600)],
)
def test_long_header_values_are_folded_into_valid_lines(argument: tuple[str, str]) -> None:
    out, err, status = dry_run(*ENVELOPE, *argument, "--body", "x")
    assert status == SendStatus.OK, err
    message = out.split("\n\n", 1)[1]
    assert max(len(line.encode()) for line in message.split("\n")) <= 998


def test_a_header_value_the_email_package_would_drop_is_refused() -> None:
    _, err, status = dry_run(*ENVELOPE, "--header", "Date: yesterday", "--body", "x")
    # Before: the message went out with an empty "Date:" line.
    assert status == SendStatus.USAGE
    assert "'yesterday' is not a valid Date field" in one_error_line(err)


def test_a_closed_standard_input_is_a_usage_error() -> None:
    closed = __import__("io").StringIO()
    closed.close()
    for args in (ENVELOPE, ("--raw", "--to", "b@example.com")):
        _, err, status = run_cli("send", "--dry-run", *args, stdin=closed)
        assert status == SendStatus.USAGE
        assert "standard input is closed" in one_error_line(err)


@pytest.mark.parametrize("raw", [False, True])
def test_a_program_started_without_standard_input_says_so(raw: bool) -> None:
    args = ["--raw", "--to", "b@example.com"] if raw else list(ENVELOPE)
    done = subprocess.run(
        [sys.executable, "-m", "smtpshell", "send", "--dry-run", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        # fd 0 closed, as `<&-` does: Python's sys.stdin is then None.
        preexec_fn=lambda: os.close(0),  # no threads in the child yet
        check=False,
    )
    # Before: AttributeError: 'NoneType' object has no attribute 'isatty', a traceback.
    assert done.returncode == SendStatus.USAGE, done.stderr
    assert "standard input is closed" in one_error_line(done.stderr)


def test_files_that_cannot_be_read_exit_1_named_inertly(tmp_path: Path) -> None:
    missing = str(tmp_path / "no\x1b[2Jsuch\u202efile")
    cases = [
        (*ENVELOPE, "--body-file", missing),
        (*ENVELOPE, "--body", "x", "--attach", missing),
        ("--raw", missing, "--to", "b@example.com"),
        ("--raw", str(tmp_path), "--to", "b@example.com"),  # a directory
    ]
    for args in cases:
        _, err, status = dry_run(*args)
        # Before: 2, as a usage error (the README says 1), and --body-file's name
        # went to the terminal with its escape sequence.
        assert status == SendStatus.FAILURE, (args, err)
        assert "\\x1b[2J" in one_error_line(err) or "Is a directory" in err
        assert "\u202e" not in err


def test_an_attachment_named_with_newlines_or_escapes_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a\nb\x1b[31m.txt"
    path.write_text("data")
    _, err, status = dry_run(*ENVELOPE, "--body", "x", "--attach", str(path))
    assert status == SendStatus.USAGE
    assert "its name is not plain text" in one_error_line(err)
    assert "a\\x0ab\\x1b[31m.txt" in err


def test_raw_from_a_fifo_is_read_once_and_sent(tmp_path: Path) -> None:
    fifo = tmp_path / "message.fifo"
    os.mkfifo(fifo)
    text = b"From: a@example.com\nTo: b@example.com\nSubject: fifo\n\n.\nlast line without end"

    def write() -> None:
        with fifo.open("wb") as writer:
            writer.write(text)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        with HostileServer(well_behaved) as server:
            _, err, status = run_cli(
                "send", "--server", f"127.0.0.1:{server.port}", "--raw", str(fifo)
            )
            server.wait_finished()
    finally:
        writer.join(10)
    assert status == SendStatus.OK, err
    data = server.clear.split(b"DATA\r\n", 1)[1]
    assert data.startswith(b"From: a@example.com\r\nTo: b@example.com\r\nSubject: fifo\r\n\r\n")
    assert b"\r\n..\r\nlast line without end\r\n.\r\nQUIT\r\n" in data


def test_dry_run_prints_the_envelope_and_message_line_by_line() -> None:
    out, err, status = dry_run(*ENVELOPE, "-s", "hi", "--body", "one\ntwo")
    assert status == SendStatus.OK, err
    lines = out.split("\n")
    # Before: every line ran into the next, with no line end at all.
    assert lines[:2] == [
        "MAIL FROM:<a@example.com> SIZE=" + lines[0].rsplit("=", 1)[1],
        "RCPT TO:<b@example.com>",
    ]
    assert lines[2:5] == ["", "From: a@example.com", "To: b@example.com"]
    assert out.endswith("\n") and "one\ntwo\n" in out


def test_attaching_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "nobody-writes.fifo"
    os.mkfifo(fifo)
    done = subprocess.run(
        [sys.executable, "-m", "smtpshell", "send", "--dry-run", *ENVELOPE, "--body", "x",
         "--attach", str(fifo)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    # Before: open() waited for a writer for ever (the time-out above ended it).
    assert done.returncode == SendStatus.FAILURE, done.stderr
    assert "not a regular file" in one_error_line(done.stderr)


def test_the_null_sender_is_spelt_either_way_with_raw(tmp_path: Path) -> None:
    message = tmp_path / "bounce.eml"
    message.write_bytes(b"From: MAILER-DAEMON@example.com\nTo: b@example.com\n\nbounced\n")
    for spelling in ("", "<>", " <> "):
        out, err, status = dry_run("--raw", str(message), "--from", spelling)
        # Before: "" gave MAIL FROM:<>, and "<>" was refused as an address.
        assert status == SendStatus.OK, err
        assert out.startswith("MAIL FROM:<> SIZE=")
    _, err, status = dry_run("--from", "<>", "--to", "b@example.com", "--body", "x")
    assert status == SendStatus.USAGE
    assert "<> only with --raw" in one_error_line(err)


def test_quoted_local_parts_and_idn_domains_reach_the_envelope_intact() -> None:
    with HostileServer(well_behaved) as server:
        _, err, status = run_cli(
            "send", "--server", f"127.0.0.1:{server.port}", "--from", "a@example.com",
            "--to", '"john doe"@example.com', "--to", "Ünï <b@bücher.example>", "--body", "x",
        )  # fmt: skip
        server.wait_finished()
    assert status == SendStatus.OK, err
    assert b'RCPT TO:<"john doe"@example.com>\r\n' in server.clear
    assert b"RCPT TO:<b@xn--bcher-kva.example>\r\n" in server.clear
    assert b"SMTPUTF8" not in server.clear  # an IDN domain has an ASCII form


@pytest.mark.parametrize(
    "helo", ["x\r\nMAIL FROM:<evil@example.net>", "x\x1b[2J", "a b", "é.example", ""]
)
@pytest.mark.parametrize("tls", [[], ["--starttls"]])
def test_a_helo_that_is_not_a_host_name_is_refused_before_connecting(
    helo: str, tls: list[str]
) -> None:
    with HostileServer(well_behaved) as server:
        out, err, status = run_cli(
            "send", "--server", f"127.0.0.1:{server.port}", *ENVELOPE, "--body", "x",
            "--helo", helo, "--json", *tls,
        )  # fmt: skip
    # Before: a CR or ESC failed half-way (exit 1 without the JSON document, or 3
    # "not sent" with --starttls), and a space or a non-ASCII name went out in EHLO.
    assert status == SendStatus.USAGE
    assert "--helo" in one_error_line(err) and out == ""
    assert server.peers == []


def test_a_cafile_named_with_escapes_is_named_inertly(tmp_path: Path) -> None:
    _, err, status = dry_run(*ENVELOPE, "--body", "x", "--cafile", str(tmp_path / "ca\x1b[2J.pem"))
    # Before: argparse's message carried the escape sequence to the terminal.
    assert status == SendStatus.USAGE
    assert "ca\\x1b[2J.pem" in err and "\x1b" not in err
