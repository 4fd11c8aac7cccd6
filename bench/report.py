"""The Markdown table: one row per comparison, with its target and whether it was met."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from measure import Measured

MiB = 1024 * 1024


@dataclass(frozen=True)
class Row:
    what: str
    smtpshell: str
    yardsticks: str
    ratio: str
    target: str = "—"
    met: str = "—"


def ms(seconds: float) -> str:
    if seconds < 0.001:
        return f"{seconds * 1e6:.0f} µs"
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def mib(size: float) -> str:
    return f"{size / MiB:.1f} MiB"


@dataclass(frozen=True)
class Metric:
    """Which median a row shows (wall, cpu or rss), divided by ``per``, and how."""

    attribute: str = "wall"
    per: float = 1.0
    unit: Callable[[float], str] = ms

    def value(self, result: Measured) -> float | None:
        return getattr(result, self.attribute) / self.per if result.ok else None

    def text(self, result: Measured) -> str:
        value = self.value(result)
        if value is None:
            return f"FAILED ({result.failure or 'no run'})"
        return self.unit(value)


WALL, CPU, RSS = Metric("wall"), Metric("cpu"), Metric("rss", unit=mib)


def times(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}x"


def verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("yes" if ok else "**no**")


def comparison(
    what: str,
    results: Mapping[str, Measured],
    mine: str,
    metric: Metric = WALL,
    limits: Mapping[str, float] | None = None,
    absolute: tuple[float, str] | None = None,
) -> Row:
    """A row: ``mine`` against every other result, with ratios; ``limits`` maps a
    yardstick to the largest ratio allowed, ``absolute`` is (limit, its text)."""
    limits = limits or {}
    own = metric.value(results[mine])
    others = {name: r for name, r in results.items() if name != mine}
    ratios: dict[str, float | None] = {}
    for name, other in others.items():
        theirs = metric.value(other)
        ratios[name] = own / theirs if own is not None and theirs else None
    checks: list[bool | None] = []
    for name, limit in limits.items():
        value = ratios.get(name)
        checks.append(None if value is None else value <= limit)
    targets = [f"≤{limit:g}x {name}" for name, limit in limits.items()]
    if absolute is not None:
        checks.append(None if own is None else own <= absolute[0])
        targets.append(absolute[1])
    met = None if not checks or any(c is None for c in checks) else all(checks)
    return Row(
        what,
        metric.text(results[mine]),
        "; ".join(f"{name} {metric.text(r)}" for name, r in others.items()) or "—",
        "; ".join(f"{times(x)} {name}" for name, x in ratios.items() if x is not None) or "—",
        "; ".join(targets) or "—",
        verdict(met),
    )


def markdown(header: str, rows: Iterable[Row], notes: Iterable[str]) -> str:
    lines = [
        header,
        "",
        "| what | smtpshell | yardsticks | ratio | target | met? |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        cells = [row.what, row.smtpshell, row.yardsticks, row.ratio, row.target, row.met]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    notes = list(notes)
    if notes:
        lines += ["", *(f"- {note}" for note in notes)]
    return "\n".join(lines) + "\n"
