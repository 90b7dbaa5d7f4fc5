"""Figures: the shared style (matplotlib's Agg backend, text drawn as written), the layout of a
column of panels sharing the time axis, neurons shown when there are too many, and saving.

Every figure module imports `plt` from here, so the style is set before the first figure.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
# Text is drawn as written: labels that users control (neuron and stimulus names) may hold "$",
# which matplotlib would otherwise parse as TeX math (and fail on, e.g. "$\\foo$").
matplotlib.rcParams["text.parse_math"] = False
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def neurons_shown(n_neurons: int, max_neurons: int) -> np.ndarray:
    """At most max_neurons neuron indices, evenly spaced over 0..n_neurons-1."""
    if n_neurons <= max_neurons:
        return np.arange(n_neurons)
    return np.unique(np.linspace(0, n_neurons - 1, max_neurons).round().astype(np.int64))


def stacked_layout(figure, title: bool = True, hspace_in: float = 0.12) -> None:
    """Margins of a column of panels sharing the time axis, set in inches.

    Fixed margins instead of tight_layout, which draws the whole figure once more to
    measure its labels (a second of a figure job's time for a few long traces).
    """
    width, height = figure.get_size_inches()
    top = height - (0.45 if title else 0.15)
    axes_height = (top - 0.45) / max(len(figure.axes), 1)
    figure.subplots_adjust(
        left=0.75 / width,
        right=1 - 0.15 / width,
        top=top / height,
        bottom=0.45 / height,
        hspace=hspace_in / max(axes_height - hspace_in, 0.1),
    )
    if figure._suptitle is not None:
        figure._suptitle.set_y(1 - 0.12 / height)
        figure._suptitle.set_verticalalignment("top")


def save_figure(figure, path: str, dpi: int = 110) -> None:
    """Save a figure atomically as PNG (see `calcium.io.atomic_output`) and close it."""
    from calcium.io import atomic_output

    try:
        with atomic_output(path) as handle:
            figure.savefig(handle, format="png", dpi=dpi, metadata={"Software": None})
    finally:
        plt.close(figure)
