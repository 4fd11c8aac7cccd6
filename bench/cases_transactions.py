"""Mail sent by whole processes: one transaction, 1,000 on one connection, large messages."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from functools import cache

from context import Bench
from invocations import (
    fresh,
    piped_session,
    raw_socket,
    send_command,
    smtplib_many,
    smtplib_script,
    swaks,
)
from measure import Contender, interleave
from report import RSS, WALL, Metric, Row, comparison, mib
from servers import Target

MB = 1_000_000


def one_transaction(bench: Bench) -> list[Row]:
    if not _has_send(bench):
        bench.notes.append("`smtpshell send` rows skipped: this version has no `send` subcommand.")
    rows = _one_transaction(bench, starttls=False)
    if bench.target.ca_file is None:
        bench.notes.append("STARTTLS rows skipped: the server has no CA file to trust.")
    else:
        rows += _one_transaction(bench, starttls=True)
    return rows


def _one_transaction(bench: Bench, starttls: bool) -> list[Row]:
    target = bench.target
    contenders = [
        Contender("piped session", lambda: piped_session(bench, target, fresh(target), starttls)),
        Contender("smtplib", lambda: smtplib_script(bench, target, fresh(target), starttls)),
    ]
    clients = ["piped session"]
    if _has_send(bench):
        clients.append("smtpshell send")
        contenders.append(
            Contender(
                "smtpshell send", lambda: send_command(bench, target, fresh(target), starttls)
            )
        )
    swaks_here = bench.swaks_tls() if starttls else bool(bench.swaks())
    if starttls and bench.swaks() and not swaks_here:
        bench.notes.append("swaks left out of the STARTTLS rows: it lacks Net::SSLeay here.")
    if swaks_here:
        contenders.append(Contender("swaks", lambda: swaks(bench, target, fresh(target), starttls)))
    results = interleave(contenders, bench.runs, bench.env)
    what = f"one transaction, {'STARTTLS' if starttls else 'plain'}, whole process"
    limits = {"smtplib": 1.2, "swaks": 1.0} if swaks_here else {"smtplib": 1.2}
    rows = []
    for client in clients:
        others = {k: v for k, v in results.items() if k == client or k not in clients}
        rows += [
            comparison(f"{what}, {client}: wall", others, client, WALL, limits),
            comparison(f"{what}, {client}: peak RSS", others, client, RSS, {"smtplib": 1.2}),
        ]
    return rows


@cache
def _send_known(command: tuple[str, ...], env: tuple[tuple[str, str], ...]) -> bool:
    done = subprocess.run(
        [*command, "send", "--help"], capture_output=True, text=True, env=dict(env)
    )
    return (
        done.returncode == 0 and "usage: smtpshell send" in done.stdout and "--raw" in done.stdout
    )


def _has_send(bench: Bench) -> bool:
    """Whether ``smtpshell send`` is a subcommand taking ``--raw FILE`` (its own usage
    line), not a host name given to the shell."""
    return _send_known(tuple(bench.smtpshell), tuple(sorted(bench.env.items())))


def many_on_one_connection(bench: Bench) -> list[Row]:
    target = bench.target
    count = 200 if bench.quick else 1000

    contenders = [
        Contender(
            "piped session", lambda: piped_session(bench, target, fresh(target, count=count))
        ),
        Contender("smtplib", lambda: smtplib_many(bench, target, count, one_connection=True)),
    ]
    results = interleave(contenders, bench.runs, bench.env)
    what = f"{count:,} transactions on one connection"
    per_wall = Metric("wall", per=count)
    per_cpu = Metric("cpu", per=count)
    return [
        comparison(f"{what}: wall per transaction", results, "piped session", per_wall,
                   {"smtplib": 1.2}),
        comparison(f"{what}: CPU per transaction", results, "piped session", per_cpu,
                   {"smtplib": 2.0}),
    ]  # fmt: skip


def large_messages(bench: Bench) -> list[Row]:
    sizes = [5 * MB] if bench.quick else [20 * MB, 100 * MB]
    rows = []
    for size in sizes:
        target = _accepting(bench, size)
        if target is None:
            bench.notes.append(
                f"{size // MB} MB message skipped: neither {bench.target.label} nor the "
                "embedded server accepts a message that large (their EHLO SIZE)."
            )
            continue
        if target is not bench.target:
            bench.notes.append(
                f"{size // MB} MB message: sent to the embedded server ({bench.target.label} "
                f"accepts at most {mib(bench.target.size_limit or 0)})."
            )
        rows += _large(bench, target, size)
    return rows


def _accepting(bench: Bench, size: int) -> Target | None:
    """The server for a message of ``size`` bytes: ours, else the embedded one, else none."""
    # Some room for the headers and dot-stuffing beyond the text's own size.
    candidates: list[Callable[[], Target]] = [lambda: bench.target, bench.embedded]
    for candidate in candidates:
        target = candidate()
        if target.size_limit is None or size * 1.01 < target.size_limit:
            return target
    return None


def _large(bench: Bench, target: Target, size: int) -> list[Row]:
    contenders = [
        Contender("piped session", lambda: piped_session(bench, target, fresh(target, size))),
        Contender("smtplib", lambda: smtplib_script(bench, target, fresh(target, size))),
        Contender("raw socket", lambda: raw_socket(bench, target, fresh(target, size))),
    ]
    if _has_send(bench):
        contenders.append(
            Contender("smtpshell send", lambda: send_command(bench, target, fresh(target, size)))
        )
    if bench.swaks() and size <= 20 * MB:
        contenders.append(Contender("swaks", lambda: swaks(bench, target, fresh(target, size))))
    results = interleave(contenders, bench.runs, bench.env)
    what = f"{size // MB} MB message" + ("" if target is bench.target else " (embedded server)")
    rows = []
    for client in ("piped session", "smtpshell send"):
        if client not in results:
            continue
        mine = ("piped session", "smtpshell send")
        others = {k: v for k, v in results.items() if k == client or k not in mine}
        rows += [
            comparison(f"{what}, {client}: wall", others, client, WALL,
                       {"smtplib": 1.0, "raw socket": 1.2}),
            comparison(f"{what}, {client}: peak RSS", others, client, RSS,
                       absolute=(40 * 1024 * 1024, "<40 MiB")),
        ]  # fmt: skip
    return rows
