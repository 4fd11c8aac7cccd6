"""A progress bar for a large message going out, on a terminal only."""

from __future__ import annotations

from typing import TextIO


class ProgressBar:
    """Called with the bytes of each block as it goes; with -1 when it is over.

    rich is imported only here: a small message, or output that is not a
    terminal, never pays for it.
    """

    def __init__(self, stream: TextIO, total: int) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._progress = Progress(
            "sending",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(file=stream),
            transient=True,
        )
        self._task = self._progress.add_task("message", total=total)
        self._progress.start()

    def __call__(self, sent: int) -> None:
        if sent < 0:
            self._progress.stop()
            return
        self._progress.advance(self._task, sent)
