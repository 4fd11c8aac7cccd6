"""One run of each client, sending given messages to a target, checked on arrival.

Each function writes the client's input (a session script, a message file, a
pre-encoded conversation) into the scratch directory and returns the Invocation;
its ``verify`` waits for the messages in the maildir and then removes the input.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from context import Bench
from measure import Invocation
from messages import dot_stuffed, message, new_token, session_script
from servers import Target

Messages = dict[str, bytes]  # token -> message as sent (CRLF)


def fresh(target: Target, size: int = 2048, count: int = 1) -> Messages:
    token = new_token()
    tokens = [token] if count == 1 else [f"{token}-{n}" for n in range(count)]
    return {t: message(t, target.sender, target.recipient, size) for t in tokens}


def checked(target: Target, sent: Mapping[str, bytes], inputs: list[Path]) -> Callable[[], None]:
    """After a run: every message in ``sent`` arrived intact; the input files go."""
    timeout = delivery_timeout(sent)

    def verify() -> None:
        target.mailbox.expect(sent, timeout)
        for path in inputs:
            path.unlink()

    return verify


def delivery_timeout(sent: Mapping[str, bytes]) -> float:
    """Long enough to deliver this much mail on a busy two-core machine."""
    return 60 + sum(len(text) for text in sent.values()) / 2e6 + len(sent) / 20


def piped_session(
    bench: Bench,
    target: Target,
    sent: Messages,
    starttls: bool = False,
    port: int | None = None,
) -> Invocation:
    """``smtpshell HOST PORT < script``, as a user pipes a session into it."""
    token = next(iter(sent))
    script = bench.file(
        f"session-{token}.txt",
        session_script(target.sender, target.recipient, list(sent.values()), ehlo=not starttls),
    )
    tls = ["--starttls", "--cafile", str(target.ca_file)] if starttls else []
    argv = [*bench.smtpshell, *tls, target.host, str(port or target.port)]
    return Invocation(argv, script, checked(target, sent, [script]))


def _message_file(bench: Bench, sent: Messages) -> Path:
    """The one message of ``sent``, in a file of its own."""
    ((token, text),) = sent.items()
    return bench.file(f"message-{token}.eml", text)


def send_command(
    bench: Bench, target: Target, sent: Messages, starttls: bool = False
) -> Invocation:
    """``smtpshell send --raw FILE``: the prepared message, as it is."""
    path = _message_file(bench, sent)
    tls = ["--starttls", "--cafile", str(target.ca_file)] if starttls else []
    argv = [*bench.smtpshell, "send", "--server", target.address, *tls, "--from", target.sender,
            "--to", target.recipient, "--helo", "bench.test", "--raw", str(path),
            "--quiet"]  # fmt: skip
    return Invocation(argv, None, checked(target, sent, [path]))


def smtplib_script(
    bench: Bench,
    target: Target,
    sent: Messages,
    starttls: bool = False,
    port: int | None = None,
) -> Invocation:
    """The ten-line smtplib script, sending the message read from a file."""
    path = _message_file(bench, sent)
    tls = [str(target.ca_file)] if starttls else []
    argv = [
        *bench.python("smtplib_send.py"),
        target.host,
        str(port or target.port),
        target.sender,
        target.recipient,
        str(path),
        *tls,
    ]
    return Invocation(argv, None, checked(target, sent, [path]))


def smtplib_many(
    bench: Bench, target: Target, count: int, one_connection: bool, size: int = 2048
) -> Invocation:
    """COUNT messages from one smtplib process: on one connection, or one each."""
    token = new_token()
    template = message(f"{token}-@N@", target.sender, target.recipient, size)
    sent = {f"{token}-{n}": template.replace(b"@N@", str(n).encode()) for n in range(count)}
    path = bench.file(f"template-{token}.eml", template)
    mode = "--one-connection" if one_connection else "--connections"
    argv = [
        *bench.python("smtplib_many.py"),
        target.host,
        str(target.port),
        target.sender,
        target.recipient,
        str(path),
        str(count),
        mode,
    ]
    return Invocation(argv, None, checked(target, sent, [path]))


def swaks(
    bench: Bench,
    target: Target,
    sent: Messages,
    starttls: bool = False,
    pipeline: bool = False,
    port: int | None = None,
) -> Invocation:
    """``swaks --data -`` with the message on standard input."""
    ((token, text),) = sent.items()
    # swaks ends the data with CRLF . CRLF itself: given a final CRLF, it would add a line.
    path = bench.file(f"message-{token}.eml", text.removesuffix(b"\r\n"))
    argv = [
        "swaks",
        "--server",
        f"{target.host}:{port or target.port}",
        "--from",
        target.sender,
        "--to",
        target.recipient,
        "--helo",
        "bench.test",
        "--data",
        "-",
    ]
    if starttls:
        argv += ["--tls", "--tls-verify", "--tls-ca-path", str(target.ca_file)]
    if pipeline:
        argv.append("--pipeline")
    return Invocation(argv, path, checked(target, sent, [path]))


def raw_socket(bench: Bench, target: Target, sent: Messages) -> Invocation:
    """The physical limit: the pre-encoded conversation, replies read only where needed."""
    ((token, text),) = sent.items()
    head = bench.file(
        f"head-{token}.bin",
        f"EHLO bench.test\r\nMAIL FROM:<{target.sender}>\r\n"
        f"RCPT TO:<{target.recipient}>\r\nDATA\r\n".encode(),
    )
    body = bench.file(f"body-{token}.bin", dot_stuffed(text))
    argv = [*bench.python("raw_socket.py"), target.host, str(target.port), str(head), str(body)]
    return Invocation(argv, None, checked(target, sent, [head, body]))
