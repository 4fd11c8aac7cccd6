"""Several connections in one transcript: a recording that spans a reconnect replays."""

from __future__ import annotations

from pathlib import Path

from cli_runner import run_cli
from server_fixtures import stored_messages

from smtpshell.server import BackgroundServer
from smtpshell.transcript import Connection, parse_transcript


def test_a_later_directive_starts_another_connection() -> None:
    t = parse_transcript(
        "> telnet a.test 25\n220\n> NOOP\n250\n> QUIT\n221\n"
        "> telnet b.test 2525\n220\n> AUTH LOGIN\n334\n> ${b64:U}\n235\n"
    )
    # The first connection is where it always was; the others are in ``more``.
    assert t.connect is not None and t.connect.host == "a.test"
    assert [step.text for step in t.steps] == ["NOOP", "QUIT"]
    assert len(t.connections) == 2 and t.connections[0] == t.first
    second = t.more[0]
    assert isinstance(second, Connection)
    assert second.connect is not None and (second.connect.host, second.connect.port) == (
        "b.test",
        2525,
    )
    assert second.greeting is not None and second.greeting.line == 8
    # AUTH exchanges are followed per connection.
    assert [step.secret for step in second.steps] == [False, True]
    assert t.step_count == 4 and t.secrets == {"U"}


def test_a_connection_may_only_check_the_greeting() -> None:
    t = parse_transcript("> telnet a.test 25\n220\n> telnet b.test 25\n220\n> QUIT\n221\n")
    assert t.steps == () and t.greeting is not None
    assert [step.text for step in t.more[0].steps] == ["QUIT"]


def _two_connections(server: BackgroundServer, second_rcpt_reply: str) -> str:
    return (
        f"> telnet 127.0.0.1 {server.port}\n220\n> EHLO one\n250\n"
        "> MAIL FROM:<a@example.test>\n250\n> RCPT TO:<b@example.test>\n250\n"
        "> DATA\n354\n> first\n> .\n250\n> QUIT\n221\n"
        f"> telnet 127.0.0.1 {server.port}\n220\n> EHLO two\n250\n"
        "> MAIL FROM:<a@example.test>\n250\n"
        f"> RCPT TO:<b@example.test>\n{second_rcpt_reply}\n"
        "> DATA\n354\n> second\n> .\n250\n> QUIT\n221\n"
    )


def test_connections_replay_in_order(server: BackgroundServer, tmp_path: Path) -> None:
    transcript = tmp_path / "two.smtp"
    transcript.write_text(_two_connections(server, "250"), encoding="utf-8")
    out, err, status = run_cli("replay", str(transcript))
    assert status == 0, out + err
    assert "(14 steps, " in out
    assert stored_messages(server) == [b"first\r\n", b"second\r\n"]


def test_a_failure_in_the_second_connection_counts_every_step(
    server: BackgroundServer, tmp_path: Path
) -> None:
    transcript = tmp_path / "two.smtp"
    transcript.write_text(_two_connections(server, "550"), encoding="utf-8")
    out, _err, status = run_cli("replay", str(transcript))
    assert status == 1
    assert out.startswith(f"FAIL {transcript}:23 (step 10 of 14, ")


def test_a_recording_that_spans_a_reconnect_replays(
    server: BackgroundServer, tmp_path: Path
) -> None:
    recording = tmp_path / "reconnect.smtp"
    script = [
        "EHLO one", "NOOP",
        f"connect 127.0.0.1:{server.port}",
        "EHLO two", "MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "DATA",
        "after the reconnect", ".", "QUIT",
    ]  # fmt: skip
    out, err, status = run_cli(
        "--connect", f"127.0.0.1:{server.port}", "--record", str(recording), "--no-history",
        stdin="\n".join(script) + "\n",
    )  # fmt: skip
    assert status == 0, out + err
    text = recording.read_text(encoding="utf-8")
    assert text.count(f"> smtpshell --connect 127.0.0.1:{server.port}\n") == 2
    transcript = parse_transcript(text)
    assert [len(c.steps) for c in transcript.connections] == [2, 7]
    out, err, status = run_cli("replay", str(recording))
    assert status == 0, out + err
    assert stored_messages(server) == [b"after the reconnect\r\n"] * 2
