"""Check that every message a run sent arrived intact, then remove it.

Each message starts with an ``X-Bench-Token`` header unique to it. A server may add
trace headers above it (Postfix adds Return-Path, Received...); everything from the
token header on must equal what was sent. Postfix stores line ends as LF, the
embedded server byte for byte.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from pathlib import Path

from measure import BenchFailure

TOKEN_HEADER = b"X-Bench-Token: "
_TOKEN = re.compile(rb"^X-Bench-Token: ([0-9a-z-]+)\r?$", re.MULTILINE)


class Mailbox:
    """A maildir the benchmark delivers to; messages already there are never read."""

    def __init__(self, maildir: Path, stores_lf: bool) -> None:
        self.maildir = maildir
        self.stores_lf = stores_lf
        self._seen = set(self._names())

    def _names(self) -> list[str]:
        names = []
        for sub in ("new", "cur"):
            try:
                names += [f"{sub}/{n}" for n in os.listdir(self.maildir / sub)]
            except FileNotFoundError:
                continue
        return names

    def expect(self, sent: Mapping[str, bytes], timeout: float = 60.0) -> None:
        """Wait until each token's message has arrived intact; raise BenchFailure if not.

        Delivery may lag the client's last reply (Postfix queues, then delivers), so
        poll until a deadline. Verified messages are deleted so the disk stays small.
        """
        waiting = dict(sent)
        deadline = time.monotonic() + timeout
        while waiting:
            for name in self._names():
                if name in self._seen:
                    continue
                self._seen.add(name)
                self._check(self.maildir / name, waiting)
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise BenchFailure(f"{len(waiting)} of {len(sent)} message(s) never arrived")
            time.sleep(0.02)  # polling the maildir: there is no event to wait on

    def _check(self, path: Path, waiting: dict[str, bytes]) -> None:
        try:
            with path.open("rb") as file:
                head = file.read(16384)
                match = _TOKEN.search(head)
                if match is None or match.group(1).decode() not in waiting:
                    return
                delivered = head[match.start() :] + file.read()
        except FileNotFoundError:  # moved to cur/ meanwhile: seen again under its new name
            return
        token = match.group(1).decode()
        expected = waiting.pop(token)
        if self.stores_lf:
            expected = expected.replace(b"\r\n", b"\n")
        path.unlink()
        if delivered != expected:
            at = next(
                (i for i, (a, b) in enumerate(zip(delivered, expected, strict=False)) if a != b),
                min(len(delivered), len(expected)),
            )
            raise BenchFailure(
                f"message {token} corrupted: {len(delivered)} bytes delivered, "
                f"{len(expected)} sent, first difference at byte {at}"
            )
