"""Tables that cut nothing: they fit the width by wrapping between words.

rich narrows the widest columns of a table that is too wide without regard for
their words, so at 60 columns ``ENHANCEDSTATUSCODES`` came out as
``ENHANCEDSTATUSCODE`` over ``S``, and a column with the default overflow ends a
long value (a certificate fingerprint) with an ellipsis. Here the columns give way
down to their longest word first; only a word wider than the whole width is
folded, never truncated. Lines end where their text ends: rich pads every cell to
its column, which left trailing spaces in piped output.
"""

from __future__ import annotations

from collections.abc import Iterable
from copy import copy
from typing import TYPE_CHECKING

from rich.measure import Measurement
from rich.segment import Segment
from rich.table import Table

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult


class WrappingTable(Table):
    """A borderless rich Table (``box=None``) that wraps on word boundaries, folds
    only what no line can hold, and leaves no trailing spaces."""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        fitted = copy(self)
        fitted.columns = [copy(column) for column in self.columns]
        for column, width in zip(fitted.columns, self._fit(console, options), strict=True):
            column.width = width
            column.no_wrap = False
            column.overflow = "fold"  # a word wider than its column folds, never "…"
        rendered = Table.__rich_console__(fitted, console, options)
        segments = (item for item in rendered if isinstance(item, Segment))
        for line in Segment.split_lines(segments):
            yield from _without_trailing_spaces(line)
            yield Segment.line()

    def _fit(self, console: Console, options: ConsoleOptions) -> list[int]:
        """Each column's text width for ``options.max_width``."""
        ranges = []
        for column in self.columns:
            cells = [*([column.header] if self.show_header else []), *column.cells]
            sizes = [Measurement.get(console, options, cell) for cell in cells]
            longest_word = max((size.minimum for size in sizes), default=1)
            ranges.append((longest_word, max((size.maximum for size in sizes), default=1)))
        budget = options.max_width - sum(self._padding_of(i) for i in range(len(self.columns)))
        return fit_widths(ranges, budget)

    def _padding_of(self, index: int) -> int:
        _, right, _, left = self.padding
        if not self.pad_edge:
            left = 0 if index == 0 else left
            right = 0 if index == len(self.columns) - 1 else right
        return left + right


def fit_widths(ranges: list[tuple[int, int]], budget: int) -> list[int]:
    """Widths for columns given as (longest word, longest line), within ``budget``.

    Every column is as wide as its longest line if they all fit. If not, the widest
    give way first, down to their longest word; only when even the words do not
    fit are columns narrowed further (their words then fold).
    """
    widths = [maximum for _, maximum in ranges]
    _narrow(widths, [minimum for minimum, _ in ranges], budget)
    _narrow(widths, [1] * len(widths), budget)
    return widths


def _narrow(widths: list[int], floors: list[int], budget: int) -> None:
    excess = sum(widths) - budget
    while excess > 0:
        wider = [index for index, width in enumerate(widths) if width > floors[index]]
        if not wider:
            return
        widest = max(wider, key=lambda index: widths[index])
        widths[widest] -= 1
        excess -= 1


def _without_trailing_spaces(line: Iterable[Segment]) -> list[Segment]:
    kept = list(line)
    while kept and not kept[-1].control and not kept[-1].text.rstrip(" "):
        kept.pop()
    if kept and not kept[-1].control:
        last = kept[-1]
        kept[-1] = Segment(last.text.rstrip(" "), last.style, last.control)
    return kept
