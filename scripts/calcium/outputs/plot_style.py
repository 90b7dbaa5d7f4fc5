"""Figures: the shared style (matplotlib's Agg backend, text drawn as written), the layout of a
column of panels sharing the time axis, neurons shown when there are too many, the marks of the
gaps between a session's trials, and saving.

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


def plain_log_ticks(axis) -> None:
    """Tick labels of a log-scaled `axis` (e.g. ax.xaxis) as plain text ("1e−03", minor ticks
    labelled when the axis spans few decades, as matplotlib does): its default labels are TeX
    ("$\\mathdefault{10^{-3}}$"), which text.parse_math = False would print as written."""
    from matplotlib.ticker import LogFormatter

    axis.set_major_formatter(LogFormatter())
    axis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.4)))


# How a figure on a session's time axis shows the session's trials (docs/trials.md): each gap
# (frames outside every trial, where no stage runs; the traces break there, NaN) as a light grey
# hatched band behind the data (hatched: not to be taken for the solid grey of "no ensemble" or
# "stimulus on" spans), and each boundary between two trials with no gap between them (several
# files read back to back) as a thin grey dotted line. A continuous session: no mark.
GAP_COLOUR = "0.94"
GAP_HATCH = "///"
GAP_HATCH_COLOUR = "0.72"
BOUNDARY_COLOUR = "0.4"
GAP_LABEL = "gap between trials"
BOUNDARY_LABEL = "trial boundary"


def mark_trial_gaps(ax, spans_s, legend: bool = False) -> list:
    """Mark a session's gaps between trials on `ax` (x: time in s on the recording's clock).

    spans_s: (spans, 2) [start, stop) in s (`calcium.input.trial_structure.gap_spans_s`): a band
        over each span, a dotted line at each zero-width one (a boundary with no gap); None (a
        continuous session): nothing is drawn.
    The marks span the axes' height, lie behind the data (bands) or with the grid (lines), and
    change neither the data limits nor the autoscaling of the x axis. Their gid is "trial gap"
    or "trial boundary". legend: the first band and the first line get a legend label.
    Returns the artists drawn.
    """
    if spans_s is None:
        return []
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle
    from matplotlib.transforms import blended_transform_factory

    transform = blended_transform_factory(ax.transData, ax.transAxes)  # x: s, y: 0-1 of the axes
    artists, labelled = [], set()
    for start, stop in np.asarray(spans_s, dtype=float).reshape(-1, 2):
        if stop > start:
            label, gid = GAP_LABEL, "trial gap"
            artist = Rectangle(
                (start, 0.0),
                stop - start,
                1.0,
                transform=transform,
                facecolor=GAP_COLOUR,
                edgecolor=GAP_HATCH_COLOUR,  # the hatch's colour (no outline: lw 0)
                hatch=GAP_HATCH,
                lw=0,
                zorder=-1,
            )
        else:
            label, gid = BOUNDARY_LABEL, "trial boundary"
            artist = Line2D(
                [start, start], [0.0, 1.0], transform=transform, color=BOUNDARY_COLOUR, lw=0.8, ls=":"
            )
            artist.set_zorder(1.5)
        artist.set_gid(gid)
        artist.set_label(label if legend and label not in labelled else f"_{label}")
        labelled.add(label)
        artists.append(ax.add_artist(artist))  # add_artist: the data limits stay the data's
    return artists


def save_figure(figure, path: str, dpi: int = 110) -> None:
    """Save a figure atomically as PNG (see `calcium.io.atomic_output`) and close it."""
    from calcium.io import atomic_output

    try:
        with atomic_output(path) as handle:
            figure.savefig(handle, format="png", dpi=dpi, metadata={"Software": None})
    finally:
        plt.close(figure)
