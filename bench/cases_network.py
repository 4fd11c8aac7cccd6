"""Behind a far or slow link: round trips per transaction, memory under back-pressure."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import replace
from functools import partial

from context import Bench
from invocations import fresh, piped_session, smtplib_script, swaks
from measure import Contender, Invocation, interleave
from proxies import DelayProxy, ThrottleProxy
from report import RSS, Metric, Row, comparison, mib
from servers import Target

DELAY = 0.025  # each way: a 50 ms round trip, a server in another country
MB = 1_000_000
THROTTLED, FULL = "throttled", "full speed"


def round_trips(bench: Bench) -> list[Row]:
    """Each client once direct and once through the delay, interleaved.

    Wall / RTT counts start-up too; (delayed - direct) / RTT is the round trips the
    conversation itself waited for.
    """
    target = bench.target
    with DelayProxy(target.host, target.port, DELAY) as proxy:
        far = replace(target, port=proxy.port)
        clients: dict[str, Callable[[Target], Invocation]] = {
            "piped session": lambda t: piped_session(bench, t, fresh(t)),
            "smtplib": lambda t: smtplib_script(bench, t, fresh(t)),
        }
        if bench.swaks():
            clients["swaks --pipeline"] = lambda t: swaks(bench, t, fresh(t), pipeline=True)
        contenders = [
            Contender(f"{name}{suffix}", partial(client, where))
            for name, client in clients.items()
            for suffix, where in ((" far", far), (" near", target))
        ]
        results = interleave(contenders, bench.runs, bench.env)
    rtt = 2 * DELAY
    per_rtt = Metric("wall", per=rtt, unit=lambda x: f"{x:.1f} RTT")
    far_only = {name: results[f"{name} far"] for name in clients}
    waited = {}
    for name in clients:
        near, distant = results[f"{name} near"], results[f"{name} far"]
        # Far and near ran side by side in each round: the median of those paired
        # differences shrugs off a round the machine was busy, as a difference of
        # medians would not.
        paired = [f.wall - n.wall for f, n in zip(distant.samples, near.samples, strict=False)]
        waited[name] = statistics.median(paired) / rtt if near.ok and distant.ok else None
    mine = waited["piped session"]
    return [
        comparison(
            f"one transaction through a {rtt * 1000:.0f} ms round trip: wall / RTT",
            far_only,
            "piped session",
            per_rtt,
        ),
        Row(
            "same: round trips waited, (far - near) / RTT, paired by round",
            _rtts(mine),
            "; ".join(
                f"{name} {_rtts(x)}" for name, x in waited.items() if name != "piped session"
            ),
            "; ".join(
                f"{mine / x:.2f}x {name}"
                for name, x in waited.items()
                if name != "piped session" and mine is not None and x
            )
            or "—",
        ),
    ]


def _rtts(value: float | None) -> str:
    return "FAILED" if value is None else f"{value:.1f} RTT"


def flow_control(bench: Bench) -> list[Row]:
    target = bench.target
    size = 4 * MB if bench.quick else 20 * MB
    rate = 2 * MB
    with ThrottleProxy(target.host, target.port, rate) as proxy:
        slow = replace(target, port=proxy.port)
        contenders = [
            Contender(THROTTLED, lambda: piped_session(bench, slow, fresh(slow, size))),
            Contender(FULL, lambda: piped_session(bench, target, fresh(target, size))),
        ]  # fmt: skip
        # Each throttled run takes size / rate seconds: one run says whether memory is flat.
        results = interleave(contenders, 1, bench.env, warmups=0)
    return [
        comparison(
            f"{size // MB} MB through a {rate // MB} MB/s link: peak RSS",
            results,
            THROTTLED,
            RSS,
            {FULL: 1.1},
            absolute=(40 * 1024 * 1024, f"<{mib(40 * 1024 * 1024)}"),
        )
    ]
