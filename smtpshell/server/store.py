"""A maildir the embedded server writes received messages into, byte for byte.

Python's ``mailbox.Maildir`` is not used for writing: it rewrites line endings, and the
point of this store is to show exactly what arrived. The delivery protocol is the
classic one (https://cr.yp.to/proto/maildir.html): write into ``tmp/`` under a unique
name, flush to disk, then rename into ``new/`` so a reader never sees a partial file.
"""

from __future__ import annotations

import itertools
import os
import re
import socket
import time
from pathlib import Path

# One sequence per process: together with the pid and the time it makes names unique
# even when several servers in one process deliver within the same microsecond.
_delivery_sequence = itertools.count(1)

_NAME_PATTERN = re.compile(r"^(?P<seconds>\d+)\.M(?P<micros>\d+)P\d+Q(?P<sequence>\d+)\.")


def _safe_hostname() -> str:
    # The maildir convention escapes "/" and ":" (the latter starts the info part).
    return socket.gethostname().replace("/", r"\057").replace(":", r"\072") or "localhost"


def _delivery_order(path: Path) -> tuple[int, int, int, int, str]:
    match = _NAME_PATTERN.match(path.name)
    if match is None:
        # Not one of ours (e.g. dropped in by hand): fall back to the file's time.
        modified = path.stat().st_mtime_ns
        return (modified // 1_000_000_000, modified // 1000 % 1_000_000, 0, 0, path.name)
    return (
        int(match["seconds"]),
        int(match["micros"]),
        int(match["sequence"]),
        1,
        path.name,
    )


class MaildirStore:
    """A maildir at ``root`` (created if needed, mode 0700: mail is private)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        # mkdir(parents=True) gives the parents the umask's mode (often 0755) and
        # ``mode`` to the last one only: the root itself is made private here.
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        for sub in ("tmp", "new", "cur"):
            (self.root / sub).mkdir(mode=0o700, exist_ok=True)

    def check_writable(self) -> None:
        """Raise ``OSError`` now rather than at the first delivery if ``tmp/`` is read-only."""
        probe = self.root / "tmp" / f".probe.{os.getpid()}.{next(_delivery_sequence)}"
        probe.touch(mode=0o600, exist_ok=False)
        probe.unlink()

    def _unique_name(self) -> str:
        now = time.time_ns()
        seconds, micros = divmod(now // 1000, 1_000_000)
        sequence = next(_delivery_sequence)
        return f"{seconds}.M{micros:06d}P{os.getpid()}Q{sequence}.{_safe_hostname()}"

    def deliver(self, content: bytes) -> Path:
        """Store ``content`` unchanged and return its path in ``new/``."""
        name = self._unique_name()
        temporary = self.root / "tmp" / name
        # O_EXCL: never overwrite, even if a name were somehow reused.
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with open(fd, "wb", closefd=True) as file:
                file.write(content)
                file.flush()
                os.fsync(file.fileno())
            delivered = self.root / "new" / name
            os.rename(temporary, delivered)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return delivered

    def messages(self) -> list[Path]:
        """Every message in ``new/`` and ``cur/`` (a reader moves read ones), oldest first."""
        paths = [
            path
            for sub in ("new", "cur")
            for path in (self.root / sub).iterdir()
            if path.is_file() and not path.name.startswith(".")
        ]
        return sorted(paths, key=_delivery_order)
