"""Small bar charts as geometry for inline SVG (web/templates/_chart.html): no JavaScript, no chart library."""

from __future__ import annotations

import math
from dataclasses import dataclass

WIDTH = 480
HEIGHT = 140
LABEL_SPACE = 18  # below the bars, for the axis labels
TOP_SPACE = 14  # above the bars, for the scale


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: float
    label: str
    show_label: bool
    series: int = 0


@dataclass(frozen=True)
class Chart:
    title: str
    unit: str
    bars: list[Bar]
    max_value: float
    width: int = WIDTH
    height: int = HEIGHT
    series_names: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return all(bar.value == 0 for bar in self.bars)


def bar_chart(
    title: str,
    labels: list[str],
    series: list[list[float]],
    *,
    unit: str = "",
    series_names: tuple[str, ...] = (),
    label_every: int = 1,
) -> Chart:
    """Grouped bars: one group per label, one bar per series in each group, scaled to the largest value."""
    groups = len(labels)
    count = max(1, len(series))
    top = max((value for values in series for value in values), default=0.0) or 1.0
    plot_height = HEIGHT - LABEL_SPACE - TOP_SPACE
    group_width = WIDTH / max(1, groups)
    bar_width = max(1.0, group_width * 0.8 / count)
    bars = []
    for index, label in enumerate(labels):
        for number, values in enumerate(series):
            value = values[index] if index < len(values) else 0.0
            height = plot_height * value / top
            bars.append(
                Bar(
                    x=round(index * group_width + group_width * 0.1 + number * bar_width, 1),
                    y=round(TOP_SPACE + plot_height - height, 1),
                    width=round(bar_width, 1),
                    height=round(height, 1),
                    value=round(value, 2),
                    label=label,
                    show_label=number == 0 and index % label_every == 0,
                    series=number,
                )
            )
    return Chart(title=title, unit=unit, bars=bars, max_value=round(top, 2), series_names=series_names)


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]
