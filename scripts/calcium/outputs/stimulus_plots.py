"""Figures of the stimulus-locked analysis: regressors, R² histogram, clustered heat maps,
example responses with the fitted model, trial-aligned responses."""

from __future__ import annotations

import numpy as np

from calcium.outputs.palette import stimulus_colours
from calcium.outputs.plot_style import mark_trial_gaps, plt


def regressors_figure(time_s, labels, boxcars, regressors, title: str = "", gaps_s=None):
    """Each stimulus's boxcar and its kernel-convolved regressor over time.

    regressors: (stimuli, frames); a session cut into trials passes them NaN in its gaps
    (`calcium.input.trial_structure.blank_gaps`: the line breaks there instead of drawing the
    gaps' 0) and its gaps_s (`gap_spans_s`), marked by `mark_trial_gaps`.
    """
    n = len(labels)
    figure, axes = plt.subplots(n, 1, figsize=(12, 1.4 * n + 0.8), sharex=True, squeeze=False)
    for ax, label, box, reg in zip(axes[:, 0], labels, boxcars, regressors, strict=True):
        mark_trial_gaps(ax, gaps_s, legend=ax is axes[0, 0])
        ax.fill_between(time_s, 0, box, step="post", color="0.85", label="stimulus on")
        top = np.nanmax(reg) if np.isfinite(reg).any() else 0.0  # gaps (NaN) left out
        ax.plot(
            time_s,
            reg / (top if top > 0 else 1),
            color="tab:red",
            lw=0.8,
            label="convolved regressor",
        )
        ax.set_ylabel(f"{label}\n(normalised)", fontsize=8)
        ax.set_ylim(-0.05, 1.15)
    axes[0, 0].legend(loc="upper right", fontsize=7, frameon=False, ncol=2)
    axes[-1, 0].set_xlabel("time (s)")
    axes[-1, 0].set_xlim(time_s[0], time_s[-1])
    if title:
        figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    return figure


def r2_histogram_figure(r2, min_r2: float, title: str = ""):
    """Histogram of per-neuron R² with the selection threshold."""
    figure, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(r2, bins=np.linspace(0, max(1e-3, float(np.max(r2)) if len(r2) else 1), 30), color="tab:blue")
    ax.axvline(min_r2, color="tab:red", ls="--", lw=0.8, label=f"threshold R² = {min_r2:g}")
    ax.set_xlabel("R² of the stimulus regression")
    ax.set_ylabel("neurons")
    ax.legend(fontsize=7, frameon=False)
    if title:
        ax.set_title(title, fontsize=9)
    figure.tight_layout()
    return figure


# Height of a heat map row (inches) and most row labels per panel: 7-pt labels need ~0.11 in.
ROW_INCHES = 0.12
HEATMAP_MAX_LABELS = 60


def heatmap_tick_rows(n_rows: int, height_in: float) -> np.ndarray:
    """Rows of a heat map panel that get a label: every k-th row, k the smallest step that
    keeps labels at least 0.11 in apart on a panel `height_in` inches high and at most
    HEATMAP_MAX_LABELS labels."""
    fit = max(1, min(HEATMAP_MAX_LABELS, int(height_in / 0.11)))
    step = max(1, -(-n_rows // fit))
    return np.arange(0, n_rows, step)


def heatmaps_figure(time_s, panels, table, title: str = "", gaps_s=None, bin_s: float | None = None):
    """Heat maps (neurons x time) of z-scored ΔF/F with stimulus onsets marked.

    time_s: (bins,) the start of each bin (s); bin_s: the bins' width (s; None: their
    spacing), so that bin k covers [time_s[k], time_s[k] + bin_s) on the time axis.

    panels: [(panel title, (neurons, bins) z-scored array, y tick labels (one per row: the
        neuron ids, optionally with their response type) or None)].
    table: stimulus table (stimulus, onset_s); onsets are drawn as lines in the stimulus
        colours of `calcium.outputs.palette`.
    Rows are labelled by their tick labels at 7 pt, every k-th row when there are more than
    HEATMAP_MAX_LABELS rows (k chosen so that at most that many labels are drawn).
    gaps_s: a session cut into trials, its gaps (`calcium.input.trial_structure.gap_spans_s`),
    marked by `mark_trial_gaps` (their bins are NaN: blank, the band shows through).
    """
    n = len(panels)
    heights = [max(1.0, min(8.0, ROW_INCHES * max(p[1].shape[0], 1))) for p in panels]
    figure, axes = plt.subplots(
        n, 1, figsize=(12, sum(heights) + 1.5 * n), squeeze=False, gridspec_kw={"height_ratios": heights}
    )
    colours = stimulus_colours(table.stimulus)
    time_s = np.asarray(time_s, dtype=float)
    width = float(bin_s) if bin_s else (float(np.diff(time_s[:2])[0]) if time_s.size > 1 else 1.0)
    for ax, height, (name, values, ticks) in zip(axes[:, 0], heights, panels, strict=True):
        if values.shape[0] == 0:
            ax.text(0.5, 0.5, f"{name}: no neurons", ha="center", va="center", transform=ax.transAxes)
            ax.set_yticks([])
        else:
            image = ax.imshow(
                values,
                aspect="auto",
                cmap="magma",
                vmin=-1,
                vmax=4,
                interpolation="nearest",
                extent=(time_s[0], time_s[-1] + width, values.shape[0] - 0.5, -0.5),
            )
            figure.colorbar(image, ax=ax, label="z-scored ΔF/F", pad=0.01)
            if ticks is not None and len(ticks):
                rows = heatmap_tick_rows(len(ticks), height)
                ax.set_yticks(rows, [str(ticks[r]) for r in rows], fontsize=7)
        mark_trial_gaps(ax, gaps_s)
        for label, onset in zip(table.stimulus, table.onset_s, strict=True):
            ax.axvline(onset, color=colours[str(label)], lw=0.8)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("time (s)")  # on every panel: they do not share the x axis
        ax.set_ylabel("neuron id (clustered order)", fontsize=8)
    for label, colour in colours.items():
        axes[0, 0].plot([], [], color=colour, label=f"{label} onset")
    # Above the image: legend text on the dark heat map would be unreadable.
    axes[0, 0].legend(
        loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False, ncol=len(colours)
    )
    if title:
        figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    return figure


def response_examples_figure(time_s, examples, table, title: str = "", gaps_s=None):
    """Example neurons per response type with their fitted regressor model overlaid.

    examples: [(response type, neuron, trace, fitted model trace)] (NaN in a session's gaps:
    `response_example_traces`). gaps_s: a session cut into trials, its gaps
    (`calcium.input.trial_structure.gap_spans_s`), marked by `mark_trial_gaps`.
    """
    n = max(len(examples), 1)
    figure, axes = plt.subplots(n, 1, figsize=(12, 1.6 * n + 0.6), sharex=True, squeeze=False)
    for ax, (kind, neuron, trace, model) in zip(axes[:, 0], examples, strict=False):
        mark_trial_gaps(ax, gaps_s, legend=ax is axes[0, 0])
        ax.plot(time_s, trace, lw=0.6, color="tab:blue", label="ΔF/F")
        ax.plot(time_s, model, lw=1.0, color="tab:red", label="regressors × coefficients")
        for onset, offset, label in zip(table.onset_s, table.offset_s, table.stimulus, strict=True):
            if label == kind.removeprefix("suppressed:"):
                ax.axvspan(onset, offset, color="0.85", lw=0)
        ax.set_ylabel("ΔF/F", fontsize=8)
        ax.text(0.005, 0.92, f"neuron {neuron}: {kind}", transform=ax.transAxes, fontsize=7, va="top")
    if not examples:
        axes[0, 0].text(
            0.5, 0.5, "no stimulus-locked neurons", ha="center", va="center", transform=axes[0, 0].transAxes
        )
    if axes[0, 0].get_legend_handles_labels()[0]:  # no examples: no legend
        axes[0, 0].legend(loc="upper right", fontsize=6, frameon=False)
    axes[-1, 0].set_xlabel("time (s)")
    if title:
        figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    return figure


def trial_responses_figure(time_s, panels, response_window_s=None, title: str = ""):
    """Trial-aligned responses of example neurons: per (stimulus, neuron) a row with the mean
    ± SEM over trials (left) and the trials x time heat map (right), time after onset in s.

    panels: [(stimulus, neuron, (trials, samples) ΔF/F; NaN outside the recording)].
    response_window_s: [start, end] after onset averaged for the response (shaded).
    """
    n = max(len(panels), 1)
    colours = stimulus_colours([stimulus for stimulus, _, _ in panels])
    figure, axes = plt.subplots(
        n, 2, figsize=(11, 2.0 * n + 0.8), squeeze=False, gridspec_kw={"width_ratios": [1, 1.3]}
    )
    time_s = np.asarray(time_s, dtype=float)
    step = float(np.median(np.diff(time_s))) if time_s.size > 1 else 1.0
    for (ax_mean, ax_heat), (stimulus, neuron, values) in zip(axes, panels, strict=False):
        values = np.asarray(values, dtype=float)
        counts = np.sum(np.isfinite(values), axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = (
                np.nanmean(np.where(counts > 0, values, 0.0), axis=0)
                if values.size
                else np.full(time_s.size, np.nan)
            )
            sem = (
                np.nanstd(values, axis=0, ddof=1) / np.sqrt(counts)
                if values.shape[0] > 1
                else np.zeros(time_s.size)
            )
        colour = colours[str(stimulus)]
        if response_window_s is not None:
            ax_mean.axvspan(*response_window_s, color="0.9", lw=0, label="response window")
        ax_mean.fill_between(time_s, mean - sem, mean + sem, color=colour, alpha=0.3, lw=0, label="± SEM")
        ax_mean.plot(time_s, mean, color=colour, lw=1.5, label=f"mean of {values.shape[0]} trials")
        ax_mean.axvline(0.0, color="k", lw=0.8, ls="--")
        ax_mean.set_ylabel("ΔF/F")
        ax_mean.set_title(f"neuron {neuron}: {stimulus}", fontsize=10)
        ax_mean.legend(loc="upper right", fontsize=7, frameon=False)
        if values.shape[0]:
            image = ax_heat.imshow(
                values,
                aspect="auto",
                cmap="viridis",
                interpolation="nearest",
                extent=(time_s[0] - step / 2, time_s[-1] + step / 2, values.shape[0] - 0.5, -0.5),
            )
            figure.colorbar(image, ax=ax_heat, label="ΔF/F", pad=0.01)
        ax_heat.axvline(0.0, color="w", lw=0.8, ls="--")
        ax_heat.set_ylabel("trial")
        ax_heat.set_title(f"neuron {neuron}: each {stimulus} presentation", fontsize=10)
    if not panels:
        axes[0, 0].text(
            0.5, 0.5, "no stimulus-locked neurons", ha="center", va="center", transform=axes[0, 0].transAxes
        )
        axes[0, 1].set_axis_off()
    for ax in axes[-1]:
        ax.set_xlabel("time after onset (s)")
    if title:
        figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    return figure


def heatmap_panels(
    traces: np.ndarray, table, factor: int, max_neurons: int, min_r2: float, gap: np.ndarray | None = None
):
    """The two panels of the heat-map figure: z-scored traces binned by `factor` frames, all
    neurons (at most max_neurons, evenly spaced) and the stimulus-locked ones (regression
    table's `selected`), each in the leaf order of their hierarchical clustering.
    gap: a session cut into trials, True for each frame outside every trial: binned, z-scored
    and clustered on the trials' frames only; bins holding no trial frame are NaN (blank).
    Returns (panels [(title, (rows, bins) array, row labels)], bins)."""
    from calcium.outputs.plot_style import neurons_shown
    from calcium.stimulus.clustering import cluster_order, downsample, zscored

    if gap is None:
        z = zscored(downsample(np.asarray(traces), factor))
        ordered = z
    else:
        z = _zscored_within_trials(np.asarray(traces), np.asarray(gap, dtype=bool), factor)
        ordered = z[:, np.isfinite(z).all(axis=0)]  # the bins holding trial frames
    shown = neurons_shown(z.shape[0], max_neurons)
    order_all = shown[cluster_order(ordered[shown])]
    chosen = np.flatnonzero(table.selected.to_numpy())
    order_selected = chosen[cluster_order(ordered[chosen])] if chosen.size else chosen
    panels = [
        (
            f"all neurons ({shown.size} of {z.shape[0]} shown)" if shown.size < z.shape[0] else "all neurons",
            z[order_all],
            [int(n) for n in order_all],
        ),
        (
            f"stimulus-locked neurons (R² > {min_r2:g})",
            z[order_selected],
            [f"{n} {table.response_type[n]}" for n in order_selected],
        ),
    ]
    return panels, z.shape[1]


def _zscored_within_trials(traces: np.ndarray, gap: np.ndarray, factor: int) -> np.ndarray:
    """`zscored(downsample(...))` of the trials' frames: gap frames left out of each bin's mean
    and of each row's mean and SD; bins of gap frames only are NaN."""
    values = np.where(gap[None, :], np.nan, np.asarray(traces, dtype=np.float64))
    n = values.shape[1] // factor if factor > 1 and values.shape[1] >= factor else 0
    if n:
        values = values[:, : n * factor].reshape(values.shape[0], n, factor)
        counts = np.isfinite(values).sum(axis=2)
        values = np.where(counts > 0, np.nansum(values, axis=2) / np.maximum(counts, 1), np.nan)
    finite = np.isfinite(values)
    count = np.maximum(finite.sum(axis=1, keepdims=True), 1)
    mean = np.where(finite, values, 0.0).sum(axis=1, keepdims=True) / count
    sd = np.sqrt((np.where(finite, values - mean, 0.0) ** 2).sum(axis=1, keepdims=True) / count)
    return (values - mean) / np.where(sd > 0, sd, 1)


def response_example_traces(
    traces, table, labels: list[str], regressors: np.ndarray, per_type: int, gap: np.ndarray | None = None
) -> list:
    """Examples of each response type: the `per_type` neurons of highest R², each as (type,
    neuron, trace, fitted model) for `response_examples_figure`. gap: a session cut into
    trials, True for each frame outside every trial: trace and model NaN there (breaks)."""
    from calcium.input.trial_structure import blank_gaps
    from calcium.stimulus.regression import model_prediction, response_kinds

    def shown(values):
        return values if gap is None else blank_gaps(np.asarray(values)[None, :], gap)[0]

    return [
        (
            kind,
            int(neuron),
            shown(np.asarray(traces[neuron])),
            shown(model_prediction(table, labels, regressors, neuron)),
        )
        for kind in response_kinds(labels, table.response_type)
        for neuron in table[table.response_type == kind]
        .sort_values("r2", ascending=False)
        .neuron.head(per_type)
    ]
