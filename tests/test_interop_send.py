"""`smtpshell send` against the real Postfix: the seed's ssmtp, `mail -s` and smtplib
script equivalents arrive intact; a submission login over STARTTLS; a refused
recipient; pipelining as Postfix wants it."""

from __future__ import annotations

import email
import email.policy
import json
import random
from email.message import EmailMessage
from pathlib import Path

import pytest
from cli_runner import run_cli
from interop_env import InteropEnv, find_delivered, wait_for_delivery
from interop_fixtures import improper_pipelining, marker

from smtpshell.send.outcome import SendStatus

pytestmark = pytest.mark.interop


def delivered(env: InteropEnv, token: str, mailbox: str = "alice") -> EmailMessage:
    message = email.message_from_bytes(
        find_delivered(env, token, mailbox=mailbox), policy=email.policy.default
    )
    assert isinstance(message, EmailMessage)
    return message


def send(env: InteropEnv, *args: str, stdin: str = "", **environ: str) -> tuple[str, str, int]:
    return run_cli(
        "send", "--server", f"{env.host}:{env.smtp_port}", *args, stdin=stdin,
        environ={"NO_COLOR": "1", **environ},
    )  # fmt: skip


def test_mail_dash_s_equivalent(env: InteropEnv) -> None:
    # echo content | mail -a From:yourname@qq.com -s "test ssmpt" rcpt_to@163.com
    token = marker("mail-s")
    _, err, status = send(
        env, "--from", env.bob.address, "-s", f"测试邮件 {token}", "--to", env.alice.address,
        stdin="你好，世界\n",
    )  # fmt: skip
    assert status == SendStatus.OK, err
    message = delivered(env, token)
    assert message["Subject"] == f"测试邮件 {token}"
    body = message.get_body()
    assert body is not None and body.get_content().replace("\r\n", "\n") == "你好，世界\n"
    assert not improper_pipelining(env, token)


def test_ssmtp_equivalent_raw_message_from_stdin(env: InteropEnv) -> None:
    # ssmtp rcpt_to@qq.com < mail.txt
    token = marker("ssmtp")
    text = f"To: {env.alice.address}\nFrom: {env.bob.address}\nSubject: {token}\n\nyour content\n"
    _, err, status = send(env, "--raw", "--to", env.alice.address, stdin=text)
    assert status == SendStatus.OK, err
    message = find_delivered(env, token)
    assert message.endswith(f"Subject: {token}\n\nyour content\n".encode())


def test_smtplib_script_equivalent_with_login_over_starttls(env: InteropEnv) -> None:
    # server.login(user, password); server.sendmail(sender, toaddrs, msg)
    token = marker("smtplib")
    _, err, status = run_cli(
        "send", "--server", f"{env.host}:{env.submission_port}", "--starttls",
        "--cafile", str(env.ca_file), "--user", env.alice.address, "--to", env.bob.address,
        "-s", token, "--body", "send by python with", "-v",
        stdin="", environ={"NO_COLOR": "1", "SMTPSHELL_PASSWORD": env.alice.password},
    )  # fmt: skip
    assert status == SendStatus.OK, err
    assert env.alice.password not in err
    message = delivered(env, token, mailbox="bob")
    assert message["From"] == env.alice.address


def test_five_megabytes_of_binary_arrive_byte_identical(env: InteropEnv, tmp_path: Path) -> None:
    token = marker("attach")
    data = random.Random(11).randbytes(5 * 1024 * 1024)
    (tmp_path / "blob.bin").write_bytes(data)
    _, err, status = send(
        env, "--from", env.bob.address, "--to", env.alice.address, "-s", token,
        "--body", "attached", "--attach", str(tmp_path / "blob.bin"),
    )  # fmt: skip
    assert status == SendStatus.OK, err
    (part,) = delivered(env, token).iter_attachments()
    assert part.get_content() == data


def test_an_unknown_recipient_is_a_partial_delivery(env: InteropEnv) -> None:
    token = marker("partial")
    out, err, status = send(
        env, "--from", env.bob.address, "--to", env.alice.address,
        "--to", f"nobody-{token}@{env.domain}", "-s", token, "--body", "x", "--json",
    )  # fmt: skip
    assert status == SendStatus.PARTIAL, err
    document = json.loads(out)
    refused = document["deliveries"][0]["recipients"][1]
    assert refused["accepted"] is False and refused["code"] == 550
    assert refused["enhanced_code"] == "5.1.1"
    assert document["deliveries"][0]["queue_id"]
    wait_for_delivery(env, token)


def test_direct_to_the_mx_found_in_dns(env: InteropEnv) -> None:
    token = marker("direct")
    out, err, status = run_cli(
        "send", "--from", env.bob.address, "--to", env.alice.address, "-s", token,
        "--body", "straight to the MX", "--nameserver", env.nameserver,
        "--mx-port", str(env.smtp_port), "--json", environ={"NO_COLOR": "1"},
    )  # fmt: skip
    assert status == SendStatus.OK, err
    delivery = json.loads(out)["deliveries"][0]
    assert delivery["domain"] == env.domain
    assert delivery["server"].startswith(env.mx_name)
    assert delivery["tls"] is not None  # Postfix offers STARTTLS on port 25: used
    wait_for_delivery(env, token)
