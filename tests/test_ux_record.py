"""Recording keeps what it has: an existing file is replaced only with ``--force``, a
second ``record`` finishes the first, a ``record`` that fails leaves the running one
alone, and a ``connect`` that fails leaves no trace in the transcript."""

from __future__ import annotations

from pathlib import Path

from cli_runner import run_cli

from smtpshell.server import BackgroundServer, free_port

PRECIOUS = "# an earlier recording\n> EHLO me\n250 ok\n"


def _shell(server: BackgroundServer, lines: list[str], *args: str) -> tuple[str, str, int]:
    return run_cli(
        "--connect", f"127.0.0.1:{server.port}", "--no-history", *args,
        stdin="\n".join(lines) + "\n",
    )  # fmt: skip


def test_record_refuses_an_existing_file_unless_forced(
    server: BackgroundServer, tmp_path: Path
) -> None:
    path = tmp_path / "a.smtp"
    path.write_text(PRECIOUS, encoding="utf-8")
    out, err, status = _shell(server, [f"record {path}", "NOOP", "record"])
    assert status == 1
    assert f"error: {path} exists: --force replaces it" in err
    assert "not recording" in out
    assert path.read_text(encoding="utf-8") == PRECIOUS
    out, err, status = _shell(server, [f"record {path} --force", "NOOP", "QUIT"])
    assert (status, err) == (0, "")
    text = path.read_text(encoding="utf-8")
    assert "> NOOP\n250 OK\n" in text and "earlier" not in text


def test_record_on_the_command_line_refuses_an_existing_file_unless_forced(
    server: BackgroundServer, tmp_path: Path
) -> None:
    path = tmp_path / "a.smtp"
    path.write_text(PRECIOUS, encoding="utf-8")
    out, err, status = _shell(server, ["NOOP", "QUIT"], "--record", str(path))
    assert status == 2
    assert err == f"smtpshell: error: {path} exists: --force replaces it\n"
    assert "NOOP" not in out  # refused before anything was sent
    assert path.read_text(encoding="utf-8") == PRECIOUS
    out, err, status = _shell(server, ["NOOP", "QUIT"], "--record", str(path), "--force")
    assert (status, err) == (0, "")
    assert "> NOOP\n250 OK\n" in path.read_text(encoding="utf-8")
    _out, err, status = run_cli("--force")
    assert (status, err) == (2, "smtpshell: error: --force goes with --record FILE\n")


def test_a_second_record_finishes_the_first(server: BackgroundServer, tmp_path: Path) -> None:
    first, second = tmp_path / "a.smtp", tmp_path / "b.smtp"
    out, err, status = _shell(
        server, [f"record {first}", "EHLO me", f"record {second}", "NOOP", "QUIT"]
    )
    assert (status, err) == (0, "")
    assert f"recording saved to {first}\nrecording to {second}\n> NOOP" in out
    a, b = first.read_text(encoding="utf-8"), second.read_text(encoding="utf-8")
    assert "> EHLO me\n250-smtpshell.local" in a and "NOOP" not in a
    assert "> NOOP\n250 OK" in b and "EHLO" not in b
    for path in (first, second):
        out, err, status = run_cli("replay", str(path))
        assert status == 0, out + err


def test_the_same_file_again_is_refused_and_recording_goes_on(
    server: BackgroundServer, tmp_path: Path
) -> None:
    path = tmp_path / "a.smtp"
    _out, err, status = _shell(server, [f"record {path}", "EHLO me", f"record {path} --force"])
    assert status == 1
    assert f"error: already recording to {path}" in err
    assert "> EHLO me\n250-smtpshell.local" in path.read_text(encoding="utf-8")


def test_a_failed_record_keeps_the_running_one(server: BackgroundServer, tmp_path: Path) -> None:
    path = tmp_path / "a.smtp"
    missing = tmp_path / "no-such-directory" / "x.smtp"
    out, err, status = _shell(
        server, [f"record {path}", f"record {missing}", "NOOP", "record", "record stop"]
    )
    assert status == 1
    assert f"error: cannot record to {missing}: No such file or directory" in err
    assert f"recording to {path}\n" in out.split("> NOOP")[1]  # `record` still says so
    assert f"recording saved to {path}: replay it with" in out
    assert "> NOOP\n250 OK" in path.read_text(encoding="utf-8")
    assert not missing.parent.exists()


def test_a_failed_connect_leaves_no_trace_and_the_recording_replays(
    server: BackgroundServer, tmp_path: Path
) -> None:
    path = tmp_path / "a.smtp"
    dead = free_port()
    _out, err, status = _shell(
        server, [f"record {path}", "EHLO me", f"connect 127.0.0.1:{dead}", "NOOP", "QUIT"]
    )
    assert status == 1 and "cannot connect" in err
    text = path.read_text(encoding="utf-8")
    assert str(dead) not in text
    assert "> NOOP\n250 OK" in text
    out, err, status = run_cli("replay", str(path))
    assert status == 0, out + err


def test_a_connect_elsewhere_is_recorded_after_the_old_connection_closed(
    server: BackgroundServer, tmp_path: Path
) -> None:
    path = tmp_path / "a.smtp"
    _out, err, status = _shell(
        server,
        [f"record {path}", "EHLO me", f"connect 127.0.0.1:{server.port}", "NOOP", "QUIT"],
    )
    assert (status, err) == (0, "")
    text = path.read_text(encoding="utf-8")
    # In the order it happened: the old connection ended, then the new one began.
    closed = text.index(f"# connection to 127.0.0.1:{server.port} closed\n")
    again = text.index(f"# server: 127.0.0.1:{server.port}", closed)
    assert text.index("220 smtpshell.local", again) < text.index("> NOOP", again)
