"""Behind a far or slow link: round trips per transaction, memory under back-pressure."""

from __future__ import annotations

from dataclasses import replace

from context import Bench
from invocations import fresh, piped_session, smtplib_script, swaks
from measure import Contender, interleave
from proxies import DelayProxy, ThrottleProxy
from report import RSS, Metric, Row, comparison, mib

DELAY = 0.025  # each way: a 50 ms round trip, a server in another country
MB = 1_000_000
THROTTLED, FULL = "throttled", "full speed"


def round_trips(bench: Bench) -> list[Row]:
    target = bench.target
    with DelayProxy(target.host, target.port, DELAY) as proxy:
        port = proxy.port
        contenders = [
            Contender(
                "piped session", lambda: piped_session(bench, target, fresh(target), port=port)
            ),
            Contender("smtplib", lambda: smtplib_script(bench, target, fresh(target), port=port)),
        ]
        if bench.swaks():
            contenders.append(
                Contender(
                    "swaks --pipeline",
                    lambda: swaks(bench, target, fresh(target), pipeline=True, port=port),
                )
            )
        results = interleave(contenders, bench.runs, bench.env)
    rtt = Metric("wall", per=2 * DELAY, unit=lambda x: f"{x:.1f} RTT")
    return [
        comparison(
            f"one transaction through a {2 * DELAY * 1000:.0f} ms round trip: wall / RTT",
            results,
            "piped session",
            rtt,
        )
    ]


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
