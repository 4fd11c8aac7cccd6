"""``smtpshell replay --update``: expected replies rewritten from what the server says."""

from __future__ import annotations

import asyncio
import base64
import difflib
from pathlib import Path

from cli_runner import run_cli
from conftest import PASSWORD, USER
from scripted_server import ScriptedServer, read_command

from smtpshell.server import BackgroundServer


class ChangingServer:
    """Answers from ``replies``; a test changes the text between runs."""

    def __init__(self) -> None:
        self.replies = {
            "": "220 one.test ESMTP ready",
            "EHLO": "250-one.test\r\n250-PIPELINING\r\n250 8BITMIME",
            "MAIL": "250 2.1.0 Ok",
            "RCPT": "250 2.1.5 Ok",
            "DATA": "354 End data with <CR><LF>.<CR><LF>",
            ".": "250 2.0.0 Ok: queued as AAAA",
            "NOOP": "250 2.0.0 Ok",
            "QUIT": "221 2.0.0 Bye",
        }

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(self.replies[""].encode() + b"\r\n")
        await writer.drain()
        in_data = False
        while True:
            line = await read_command(reader)
            if in_data:
                if line != ".":
                    continue
                in_data, verb = False, "."
            else:
                verb = line.split(" ", 1)[0].upper()
            writer.write(self.replies.get(verb, "500 what").encode() + b"\r\n")
            await writer.drain()
            in_data = verb == "DATA" and self.replies["DATA"].startswith("354")
            if verb == "QUIT":
                return


SESSION = [
    "EHLO me", "MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "DATA",
    "Subject: hi", "", "body", ".", "QUIT",
]  # fmt: skip


def _changed_lines(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("---", "+++"))
    ]


def test_update_round_trip_changes_exactly_the_changed_replies(tmp_path: Path) -> None:
    recording = tmp_path / "session.smtp"
    server = ChangingServer()
    with ScriptedServer(server) as scripted:
        out, err, status = run_cli(
            "--connect", f"127.0.0.1:{scripted.port}", "--record", str(recording),
            "--no-history", stdin="\n".join(SESSION) + "\n",
        )  # fmt: skip
        assert status == 0, out + err
        before = recording.read_text(encoding="utf-8")
        server.replies[""] = "220 two.test ESMTP ready"
        server.replies["."] = "250 2.0.0 Ok: queued as BBBB"
        out, err, status = run_cli("replay", str(recording), "--update")
        assert status == 0, out + err
        after = recording.read_text(encoding="utf-8")
        assert _changed_lines(before, after) == [
            "-220 one.test ESMTP ready",
            "+220 two.test ESMTP ready",
            "-250 2.0.0 Ok: queued as AAAA",
            "+250 2.0.0 Ok: queued as BBBB",
        ]
        assert f"UPDATED {recording}" in out
        assert "-220 one.test ESMTP ready" in out and "+220 two.test ESMTP ready" in out
        assert out.endswith("update: 1 updated, 0 unchanged, 0 not updated\n")
        # Updated, it is up to date: a second run changes nothing and it replays.
        out, err, status = run_cli("replay", str(recording), "--update")
        summary = "update: 0 updated, 1 unchanged, 0 not updated\n"
        assert (status, out) == (0, f"UNCHANGED {recording}\n{summary}")
        out, err, status = run_cli("replay", str(recording))
        assert status == 0, out + err


def test_update_keeps_patterns_comments_and_variables_that_still_fit(tmp_path: Path) -> None:
    transcript = tmp_path / "hand.smtp"
    text = (
        "# written by hand\n"
        "> telnet 127.0.0.1 PORT\n"
        "2xx # any greeting\n"
        "> EHLO ${HELO:-me}\n"
        "250-= one.test # the host name\n"
        "# the extensions we need:\n"
        "250 ~ 8BITMIME\n"
        "> MAIL FROM:<a@example.test>\n"
        "250 /^2\\.1\\.0/\n"
        "> NOOP\n"
        "250 = 2.0.0 Ok # exact\n"
        "> QUIT\n"
        "221\n"
    )
    server = ChangingServer()
    server.replies["EHLO"] = "250-two.test\r\n250-PIPELINING\r\n250 8BITMIME"
    server.replies["NOOP"] = "250 2.0.0 Fine"
    with ScriptedServer(server) as scripted:
        transcript.write_text(text.replace("PORT", str(scripted.port)), encoding="utf-8")
        before = transcript.read_text(encoding="utf-8")
        out, err, status = run_cli("replay", str(transcript))
        assert status == 1  # "= one.test" and "= 2.0.0 Ok" no longer match
        out, err, status = run_cli("replay", str(transcript), "--update")
        assert status == 0, out + err
        after = transcript.read_text(encoding="utf-8")
        # The EHLO reply is written as sent, "~ 8BITMIME" kept in its place; the
        # exact NOOP text becomes the text sent, its comment kept.
        assert after == before.replace(
            "250-= one.test # the host name\n# the extensions we need:\n250 ~ 8BITMIME\n",
            "# the extensions we need:\n250-two.test\n250-PIPELINING\n250 ~ 8BITMIME\n",
        ).replace("250 = 2.0.0 Ok # exact\n", "250 2.0.0 Fine # exact\n")
        out, err, status = run_cli("replay", str(transcript))
        assert status == 0, out + err


def test_update_refuses_a_conversation_that_diverged(tmp_path: Path) -> None:
    transcript = tmp_path / "diverged.smtp"
    server = ChangingServer()
    server.replies["DATA"] = "554 5.5.1 No valid recipients"
    with ScriptedServer(server) as scripted:
        transcript.write_text(
            f"> telnet 127.0.0.1 {scripted.port}\n220\n> EHLO me\n250 old text\n"
            "> MAIL FROM:<a@example.test>\n250\n> DATA\n354\n> body\n> .\n250\n",
            encoding="utf-8",
        )
        before = transcript.read_text(encoding="utf-8")
        out, _err, status = run_cli("replay", str(transcript), "--update")
    assert status == 1
    assert out.startswith(
        f"NOT UPDATED {transcript}:8 (step 3 of 5): the conversation diverged: "
        "expected 354, got 554 5.5.1 No valid recipients\n"
    )
    assert "update: 0 updated, 0 unchanged, 1 not updated" in out
    assert transcript.read_text(encoding="utf-8") == before


def test_update_never_writes_a_credential(server: BackgroundServer, tmp_path: Path) -> None:
    transcript = tmp_path / "auth.smtp"
    transcript.write_text(
        f"> smtpshell --connect 127.0.0.1:{server.port} --starttls\n220 old greeting\n"
        "> EHLO me\n250 old\n"
        "> AUTH LOGIN\n334 old\n> ${b64:AUTH_USER}\n334 old\n> ${b64:AUTH_PASSWORD}\n235 old\n"
        "> QUIT\n221 old\n",
        encoding="utf-8",
    )
    out, err, status = run_cli(
        "replay", str(transcript), "--update", "--cafile", str(server.ca_file),
        f"--var=AUTH_USER={USER}", f"--var=AUTH_PASSWORD={PASSWORD}",
    )  # fmt: skip
    assert status == 0, out + err
    after = transcript.read_text(encoding="utf-8")
    assert "> ${b64:AUTH_USER}\n" in after and "> ${b64:AUTH_PASSWORD}\n" in after
    assert "old" not in after
    for secret in (USER, PASSWORD, base64.b64encode(PASSWORD.encode()).decode()):
        assert secret not in after.replace("localhost", "") and secret not in out


def test_update_with_junit_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "a.smtp").write_text("> NOOP\n250\n", encoding="utf-8")
    _out, err, status = run_cli(
        "replay", str(tmp_path / "a.smtp"), "--update", "--junit", str(tmp_path / "r.xml")
    )
    assert status == 2
    assert "--update rewrites transcripts and reports no test results: drop --junit" in err


def test_update_leaves_the_shipped_examples_alone() -> None:
    _out, err, status = run_cli(
        "replay", "seed-3.2-direct-delivery", "--update", "--connect", "127.0.0.1:9"
    )
    assert status == 2
    assert "seed-3.2-direct-delivery.smtp: a shipped example; --update a copy of it instead" in err
