"""The pure parts of pipelining a paste, and the output held while a prompt is left."""

from __future__ import annotations

import asyncio

import pytest

from smtpshell.shell.output import OutputQueue
from smtpshell.shell.pipelining import PipelinedEchoes, group_size


@pytest.mark.parametrize(
    ("verbs", "size"),
    [
        (["MAIL", "RCPT", "RCPT", "DATA", "QUIT"], 4),  # DATA is the last of its group
        (["RSET", "MAIL", "RCPT", None], 3),  # a local command or secret is never in one
        (["MAIL", "RCPT", "AUTH", "MAIL"], 3),  # AUTH ends a group (RFC 4954 4)
        (["MAIL", "STARTTLS", "EHLO"], 2),  # so does STARTTLS (RFC 3207 4)
        (["EHLO", "MAIL"], 1),  # EHLO only last (RFC 2920 3.1): no group
        (["NOOP", "MAIL"], 1),
        ([None, "MAIL", "RCPT"], 0),
        ([], 0),
    ],
)
def test_group_size(verbs: list[str | None], size: int) -> None:
    assert group_size(verbs) == size


def test_echoes_come_after_the_replies_owed_before_the_group() -> None:
    shown: list[str] = []
    echoes = PipelinedEchoes()
    echoes.expect(1, [lambda: shown.append("RCPT"), lambda: shown.append("DATA")])
    echoes.replied()  # the late reply to a command before the group
    assert shown == []
    echoes.replied()  # MAIL's
    assert shown == ["RCPT"]
    echoes.flush()  # interrupted: the rest went out, shown now
    assert shown == ["RCPT", "DATA"]
    echoes.replied()
    assert shown == ["RCPT", "DATA"]


def test_held_output_keeps_its_order_and_flows_on_release() -> None:
    shown: list[str] = []

    async def scenario() -> None:
        queue = OutputQueue(lambda n: None)
        queue.put(lambda: shown.append("before"))
        await queue.flush()
        queue.hold()
        queue.put(lambda: shown.append("reply"))
        queue.put(lambda: shown.append("notice"))
        for _ in range(3):
            await asyncio.sleep(0)  # turns of the loop: nothing shows while held
        assert shown == ["before"]
        queue.release()
        await queue.flush()

    asyncio.run(scenario())
    assert shown == ["before", "reply", "notice"]


def test_flush_now_shows_held_output() -> None:
    """At the end of the program nothing stays held back."""
    shown: list[str] = []

    async def scenario() -> None:
        queue = OutputQueue(lambda n: None)
        queue.hold()
        queue.put(lambda: shown.append("reply"))
        queue.flush_now()

    asyncio.run(scenario())
    assert shown == ["reply"]
