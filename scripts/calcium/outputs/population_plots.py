"""Figures of the population stage: raster with ensemble events, per-neuron feature
distributions, coactivity with its null, ensemble similarity and membership, the ROI map."""

from __future__ import annotations

import numpy as np

from calcium.outputs.palette import ensemble_colour
from calcium.outputs.plot_style import mark_trial_gaps, neurons_shown, plain_log_ticks, plt


def raster_figure(
    events,
    n_neurons: int,
    duration_s: float,
    ensemble_events=None,
    title: str = "",
    start_time_s: float = 0.0,
    gaps_s=None,
):
    """Raster of event onsets (x: time in s, y: neuron) with ensemble events shaded by ensemble.

    ensemble_events: table with start_s, end_s (each event's window) and ensemble.
    start_time_s: time of the first frame on the recording's clock (the axis spans
        start_time_s to start_time_s + duration_s).
    gaps_s: a session cut into trials, its gaps between trials (`calcium.input.trial_structure.
        gap_spans_s`): marked by `mark_trial_gaps` (in the legend); None: a continuous session.
    """
    figure, ax = plt.subplots(figsize=(12, max(3.0, min(10.0, 0.05 * n_neurons + 2))))
    marks = mark_trial_gaps(ax, gaps_s, legend=True)
    if ensemble_events is not None and len(ensemble_events):
        for label, group in ensemble_events.groupby("ensemble"):
            colour = ensemble_colour(label)  # calcium.outputs.palette: the same colours as the browser's
            for start, end in group[["start_s", "end_s"]].to_numpy():
                ax.axvspan(start, end, color=colour, alpha=0.35, lw=0, zorder=0)  # behind the ticks
            ax.plot(
                [],
                [],
                color=colour,
                lw=6,
                alpha=0.35,
                label="no ensemble" if label < 0 else f"ensemble {label}",
            )
    if marks or (ensemble_events is not None and len(ensemble_events)):
        # Outside the data, right of the axes.
        ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8, frameon=False, borderaxespad=0)
    ax.scatter(events.onset_s, events.neuron, s=2, c="k", marker="|", linewidths=0.6, zorder=2)
    ax.set_xlim(start_time_s, start_time_s + duration_s)
    ax.set_ylim(-0.5, n_neurons - 0.5)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("neuron")
    if title:
        ax.set_title(title, fontsize=9)
    figure.tight_layout()
    return figure


def raster_subset(events, n_neurons: int, max_neurons: int):
    """At most max_neurons evenly spaced neurons for a raster: (their events renumbered 0..k-1, k, note)."""
    shown = neurons_shown(n_neurons, max_neurons)
    if shown.size == n_neurons:
        return events, n_neurons, ""
    subset = events[events.neuron.isin(shown)].copy()
    subset["neuron"] = np.searchsorted(shown, subset.neuron)
    return subset, shown.size, f" ({shown.size} of {n_neurons} neurons shown, evenly spaced)"


# Per-neuron features drawn in the features figure, with axis labels.
FEATURE_AXES = [
    ("event_rate_per_min", "event rate (events/min)"),
    ("mean_amplitude_dff", "mean amplitude (ΔF/F)"),
    ("mean_fwhm_s", "mean FWHM (s)"),
    ("mean_area_dff_s", "mean area (ΔF/F·s)"),
    ("iei_mean_s", "mean inter-event interval (s)"),
    ("iei_cv", "inter-event interval CV"),
    ("fraction_time_active", "fraction of time active"),
    ("burst_index", "burst index"),
    ("population_coupling", "population coupling (ratio)"),
    ("ensemble_event_fraction", "fraction of events in ensemble events"),
]


def feature_distributions_figure(features, columns: list[tuple[str, str]], title: str = ""):
    """Histograms of per-neuron features; columns: [(column, axis label with unit)]."""
    n = len(columns)
    n_cols = 4
    n_rows = -(-n // n_cols)
    figure, axes = plt.subplots(n_rows, n_cols, figsize=(12, 2.4 * n_rows + 0.5), squeeze=False)
    for ax, (column, label) in zip(axes.ravel(), columns, strict=False):
        values = features[column].to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        ax.hist(values, bins=20, color="tab:blue", alpha=0.8)
        ax.set_xlabel(label, fontsize=8)
        ax.set_ylabel("neurons", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    if title:
        figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    return figure


def coactivity_title(session: str, null: dict) -> str:
    """Title of the coactivity figure: what is counted and the null it is tested against
    (null: the coactivity stage's threshold.json)."""
    return (
        f"{session}: neurons active within ± {null['jitter_bins']} bins; "
        f"{null['n_shuffles']} circular shifts, {null['percentile']}th percentile ({null['statistic']}), "
        f"at least {null['min_active']} neurons"
    )


def coactivity_figure(
    start_s,
    n_active,
    threshold,
    null_hist,
    n_neurons: int,
    title: str = "",
    separators=None,
    gaps_s=None,
):
    """Coactivity per bin with the null threshold, and the null distribution beside it.

    n_active: the coactivity tested (neurons active within the jitter window).
    threshold: one number, or one per bin (bins holding different numbers of frames
        have their own threshold); significant bins are marked.
    null_hist: table with n_active and fraction (pooled null distribution).
    separators: a session cut into trials, True for the bins separating two trials (coactivity
        table's trial -1: no frame, never tested): no value there, so the lines break at the gap
        instead of dropping to 0. gaps_s: its gaps (`calcium.input.trial_structure.gap_spans_s`),
        marked by `mark_trial_gaps`. Both None: a continuous session.
    """
    figure, (ax, ax_null) = plt.subplots(
        1, 2, figsize=(12, 3.4), gridspec_kw={"width_ratios": [5, 1]}, sharey=True
    )
    start_s = np.asarray(start_s)
    n_active = np.asarray(n_active)
    per_bin = np.broadcast_to(np.asarray(threshold, dtype=float), n_active.shape)
    tested = slice(None)
    if separators is not None:  # NaN: steps-post ends each trial's last bin at its end, then breaks
        tested = ~np.asarray(separators, dtype=bool)
        n_active = np.where(tested, n_active, np.nan)
        per_bin = np.where(tested, per_bin, np.nan)
    mark_trial_gaps(ax, gaps_s, legend=True)
    ax.plot(start_s, n_active, lw=0.6, color="k", drawstyle="steps-post")
    above = n_active > per_bin
    ax.plot(start_s[above], n_active[above], "o", ms=3, color="tab:red", label="above the null")
    levels = np.unique(per_bin[tested])
    label = f"null threshold ({', '.join(f'{v:.3g}' for v in levels[:4])}{'…' if levels.size > 4 else ''})"
    ax.plot(start_s, per_bin, color="tab:red", ls="--", lw=0.8, drawstyle="steps-post", label=label)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("active neurons")
    if len(start_s):  # from the first bin's start to the last bin's end
        width = float(start_s[-1] - start_s[-2]) if len(start_s) > 1 else 1.0
        ax.set_xlim(float(start_s[0]), float(start_s[-1]) + width)
    ax.legend(loc="upper right", fontsize=7, frameon=False)
    pooled = null_hist.groupby("n_active").n_bins.sum()
    ax_null.barh(pooled.index, pooled.to_numpy() / max(pooled.sum(), 1), color="0.5", height=0.8)
    for value in levels:
        ax_null.axhline(value, color="tab:red", ls="--", lw=0.8)
    ax_null.set_xscale("log")
    plain_log_ticks(ax_null.xaxis)  # not TeX: the style prints text as written
    ax_null.set_xlabel("fraction of null bins")
    if title:
        ax.set_title(title, fontsize=9)
    figure.tight_layout()
    return figure


def similarity_figure(similarity, order, labels, title: str = ""):
    """Jaccard similarity between ensemble events, ordered by the clustering, with ensemble labels."""
    figure, ax = plt.subplots(figsize=(6.5, 5.5))
    if len(order) == 0:
        ax.text(0.5, 0.5, "no ensemble events", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel("ensemble event")
        ax.set_ylabel("ensemble event")
    else:
        ordered = similarity[np.ix_(order, order)]
        image = ax.imshow(ordered, cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
        figure.colorbar(image, ax=ax, label="Jaccard similarity")
        ticks = np.arange(len(order))
        ax.set_xticks(ticks, [str(labels[i]) if labels[i] >= 0 else "-" for i in order], fontsize=5)
        ax.set_yticks(ticks, [str(i) for i in order], fontsize=5)
        ax.set_xlabel("ensemble event, labelled by ensemble (- none)")
        ax.set_ylabel("ensemble event (index)")
    if title:
        ax.set_title(title, fontsize=9)
    figure.tight_layout()
    return figure


def membership_figure(participation, member, title: str = ""):
    """Participation of each neuron (x) in each ensemble (y); members (bool, same shape) outlined."""
    n_ensembles, n_neurons = participation.shape
    figure, ax = plt.subplots(figsize=(12, 1.0 + 0.5 * max(n_ensembles, 1)))
    if n_ensembles == 0:
        ax.text(0.5, 0.5, "no ensembles", ha="center", va="center", transform=ax.transAxes)
    else:
        image = ax.imshow(participation, aspect="auto", cmap="Greys", vmin=0, vmax=1, interpolation="nearest")
        members = np.argwhere(np.asarray(member, dtype=bool))
        ax.scatter(
            members[:, 1], members[:, 0], s=12, facecolors="none", edgecolors="tab:red", linewidths=0.7
        )
        ax.set_yticks(range(n_ensembles), [f"ensemble {e}" for e in range(n_ensembles)], fontsize=7)
        ax.set_ylabel("ensemble")
        figure.colorbar(image, ax=ax, label="fraction of events", pad=0.01)
    ax.set_xlabel("neuron")
    ax.set_xlim(-0.5, n_neurons - 0.5)
    if title:
        ax.set_title(title, fontsize=9)
    figure.tight_layout()
    return figure


def roi_map_figure(footprints, n_rois: int, colours: list[str], legend: dict[str, str], title: str = ""):
    """ROI footprints over the mean image (greyscale), each ROI filled in its colour and
    numbered at its centroid (up to 200 ROIs); x and y in pixels. Without footprints the
    figure says why (`calcium.outputs.roimap.NO_DATA_NOTE`)."""
    from matplotlib.colors import to_rgb

    from calcium.outputs.roimap import NO_DATA_NOTE, centres, grey_image, label_image

    if footprints is None or footprints.empty:
        figure, ax = plt.subplots(figsize=(6, 2))
        ax.text(0.5, 0.5, "No ROI map:\n" + NO_DATA_NOTE, ha="center", va="center", wrap=True, fontsize=9)
        ax.set_axis_off()
        if title:
            ax.set_title(title, fontsize=10)
        return figure
    labels = label_image(footprints, n_rois)
    grey = grey_image(footprints).astype(float) / 255
    rgb = np.array([to_rgb(c) for c in colours]) if n_rois else np.zeros((0, 3))
    image = np.repeat(grey[:, :, None], 3, axis=2)
    inside = labels >= 0
    image[inside] = 0.45 * image[inside] + 0.55 * rgb[labels[inside]]
    # each ROI's edge (pixels next to another label) in its full colour, white for grey ROIs
    padded = np.pad(labels, 1, constant_values=-1)
    edge = inside & (
        (padded[:-2, 1:-1] != labels)
        | (padded[2:, 1:-1] != labels)
        | (padded[1:-1, :-2] != labels)
        | (padded[1:-1, 2:] != labels)
    )
    edge_rgb = np.where(np.ptp(rgb, axis=1, keepdims=True) < 0.05, 1.0, rgb) if len(rgb) else rgb
    image[edge] = edge_rgb[labels[edge]]
    height, width = labels.shape
    figure, ax = plt.subplots(
        figsize=(min(10.0, 2 + 7 * width / max(height, width)), 7 * height / max(height, width) + 1)
    )
    ax.imshow(image, interpolation="nearest", extent=(-0.5, width - 0.5, height - 0.5, -0.5))
    if n_rois <= 200:
        for roi, (y, x) in enumerate(centres(footprints, n_rois)):
            if np.isfinite(x):
                ax.text(x, y, str(roi), color="w", fontsize=6, ha="center", va="center")
    for name, colour in legend.items():
        ax.plot([], [], "s", color=colour, ms=8, label=name)
    if legend:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False, borderaxespad=0)
    ax.set_xlabel("x (pixels)")
    ax.set_ylabel("y (pixels)")
    if title:
        ax.set_title(title, fontsize=10)
    figure.tight_layout()
    return figure
