"""Figures (matplotlib, Agg backend). Functions take arrays and return a Figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
# Text is drawn as written: labels that users control (neuron and stimulus names) may hold "$",
# which matplotlib would otherwise parse as TeX math (and fail on, e.g. "$\\foo$").
matplotlib.rcParams["text.parse_math"] = False
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from calcium.outputs.palette import ensemble_colour, stimulus_colours  # noqa: E402


def neurons_shown(n_neurons: int, max_neurons: int) -> np.ndarray:
    """At most max_neurons neuron indices, evenly spaced over 0..n_neurons-1."""
    if n_neurons <= max_neurons:
        return np.arange(n_neurons)
    return np.unique(np.linspace(0, n_neurons - 1, max_neurons).round().astype(np.int64))


def example_view(
    n_neurons: int,
    n_frames: int,
    frame_rate_hz: float,
    example_neurons: list[int] | None = None,
    time_window_s: list[float] | None = None,
) -> tuple[list[int], slice]:
    """Neurons and frames drawn in a session's example figures.

    example_neurons: neuron ids, or None for the first four (fewer if the session
        has fewer); ids beyond the session are dropped.
    time_window_s: [start, end] in seconds from the first frame, or None for all
        frames; a window holding fewer than 2 frames falls back to all frames.
    Returns (neuron ids, slice of frames).
    """
    neurons = [n for n in (example_neurons or range(4)) if n < n_neurons] or [0]
    frames = slice(0, n_frames)
    if time_window_s:
        first = max(0, int(np.ceil(time_window_s[0] * frame_rate_hz - 1e-9)))
        last = min(n_frames - 1, int(np.floor(time_window_s[1] * frame_rate_hz + 1e-9)))
        if last - first >= 1:
            frames = slice(first, last + 1)
    return neurons, frames


# Longest stretch of recording drawn in an example figure when no time window is configured:
# 120 s over the figure's ~11 in of axis, ~11 s per inch, single events stay visible.
EXAMPLE_WINDOW_S = 120.0


def choose_example_neurons(
    n_neurons: int,
    features=None,
    members=None,
    regression=None,
    max_examples: int = 4,
) -> list[tuple[int, str]]:
    """Example neurons by a fixed rule, each with why it was chosen:

    1. the most active neuron (highest event_rate_per_min in `features`);
    2. for each ensemble (in id order), its member (member true in `members`, the
       ensemble_members table) with the highest participation not chosen yet, alternating
       with 3. for each response type of `regression` (other than "not stimulus-locked", in
       name order), the neuron of that type with the highest R² not chosen yet;
    4. then the next most active neurons, until `max_examples` are chosen.
    Ties go to the lower neuron id. Without tables, neurons 0, 1, ... Returns [(neuron, reason)].
    """
    chosen: dict[int, str] = {}
    if features is not None and len(features):
        active = features.sort_values(["event_rate_per_min", "neuron"], ascending=[False, True]).neuron
        by_activity = [int(n) for n in active if 0 <= int(n) < n_neurons]
    else:
        by_activity = list(range(n_neurons))
    known = features is not None and len(features) > 0
    groups: list[tuple[str, list[int]]] = [("most active", by_activity[:1])] if known else []
    ensembles: list[tuple[str, list[int]]] = []
    if members is not None and len(members) and "member" in members:
        in_ensembles = members[members.member.astype(bool)]
        for ensemble, group in in_ensembles.groupby("ensemble", sort=True):
            ranked = group.sort_values(["participation", "neuron"], ascending=[False, True]).neuron
            ensembles.append((f"ensemble {ensemble}", [int(n) for n in ranked]))
    responses: list[tuple[str, list[int]]] = []
    if regression is not None and len(regression) and "response_type" in regression:
        for kind, group in regression.groupby("response_type", sort=True):
            if kind != "not stimulus-locked":
                ranked = group.sort_values(["r2", "neuron"], ascending=[False, True]).neuron
                responses.append((f"response {kind}", [int(n) for n in ranked]))
    for k in range(max(len(ensembles), len(responses))):  # alternate: ensemble, response type, ...
        groups += ensembles[k : k + 1] + responses[k : k + 1]
    for reason, ranked in groups:
        if len(chosen) >= max_examples:
            break
        first = next((n for n in ranked if n not in chosen and 0 <= n < n_neurons), None)
        if first is not None:
            chosen[first] = reason
    for neuron in by_activity:
        if len(chosen) >= max_examples:
            break
        chosen.setdefault(neuron, "active" if known else "")
    return list(chosen.items())


def busiest_window(event_times_s, start_s: float, duration_s: float, window_s: float = EXAMPLE_WINDOW_S):
    """[start, end] (s from the first frame) of the `window_s` stretch holding most of
    `event_times_s` (on the recording's clock; starts on whole seconds, the earliest of ties);
    the whole recording when it is not longer than `window_s`."""
    if duration_s <= window_s:
        return [0.0, float(duration_s)]
    seconds = int(np.floor(duration_s))
    times = np.asarray(event_times_s, dtype=float) - start_s
    counts = np.bincount(
        np.clip(times[np.isfinite(times)], 0, seconds - 1).astype(np.int64), minlength=seconds
    )
    width = int(np.ceil(window_s))
    sums = np.convolve(counts, np.ones(width, dtype=np.int64), mode="valid")
    first = int(np.argmax(sums)) if sums.size else 0
    first = min(first, max(0, int(np.floor(duration_s - window_s))))
    return [float(first), float(first + window_s)]


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


STEP_COLOURS = ("0.3", "tab:blue", "tab:green", "tab:purple", "tab:orange")


def trace_steps_figure(
    time_s: np.ndarray,
    steps: list[tuple[str, str, np.ndarray]],
    spike_times_s: list[np.ndarray],
    neuron_ids: list[int],
    title: str = "",
    reasons: list[str] | None = None,
):
    """Example neurons across the processing steps.

    time_s: (frames,) time of each frame in seconds.
    steps: [(name, y-axis label with unit, (neurons, frames) array)] in order; the
        last step gets the spike times as ticks.
    spike_times_s: per example neuron, its spike times in seconds.
    neuron_ids: ids shown in the panel titles; reasons: why each was chosen (in its title).
    """
    n_steps = len(steps)
    n_rows = n_steps * len(neuron_ids)
    figure, axes = plt.subplots(n_rows, 1, figsize=(12, 1.25 * n_rows + 0.6), sharex=True, squeeze=False)
    axes = axes[:, 0]
    for k, neuron in enumerate(neuron_ids):
        for j, (name, unit, values) in enumerate(steps):
            ax = axes[k * n_steps + j]
            ax.plot(time_s, values[k], lw=0.6, color=STEP_COLOURS[j % len(STEP_COLOURS)])
            ax.set_ylabel(unit, fontsize=8)
            ax.tick_params(labelsize=8)
            why = f" ({reasons[k]})" if reasons else ""
            ax.text(
                0.005,
                0.95,
                f"neuron {neuron}{why}: {name}",
                transform=ax.transAxes,
                fontsize=10,
                va="top",
                bbox={"facecolor": "white", "alpha": 0.7, "lw": 0, "pad": 1},
            )
            if j == n_steps - 1 and len(spike_times_s[k]):
                top = float(np.max(values[k])) if values[k].size else 1.0
                ax.plot(
                    spike_times_s[k],
                    np.full(len(spike_times_s[k]), top * 1.1 if top > 0 else 1.0),
                    "|",
                    color="k",
                    ms=5,
                    label="spike times",
                )
                ax.legend(loc="upper right", fontsize=8, frameon=False)
    axes[-1].set_xlabel("time (s)")
    axes[-1].set_xlim(time_s[0], time_s[-1])
    if title:
        figure.suptitle(title, fontsize=11)
    stacked_layout(figure, bool(title))
    return figure


def save_figure(figure, path: str, dpi: int = 110) -> None:
    """Save a figure atomically as PNG (see `calcium.io.atomic_output`) and close it."""
    from calcium.io import atomic_output

    try:
        with atomic_output(path) as handle:
            figure.savefig(handle, format="png", dpi=dpi, metadata={"Software": None})
    finally:
        plt.close(figure)


def events_on_traces_figure(time_s, traces, events, thresholds, neuron_ids, title: str = ""):
    """Example traces (ΔF/F) with threshold lines, event spans shaded and peaks marked.

    traces: (examples, frames); events: events table (all neurons);
    thresholds: per-neuron table with neuron, baseline_dff, threshold_dff.
    """
    n = len(neuron_ids)
    figure, axes = plt.subplots(n, 1, figsize=(12, 1.6 * n + 0.6), sharex=True, squeeze=False)
    axes = axes[:, 0]
    for ax, neuron, trace in zip(axes, neuron_ids, traces, strict=True):
        ax.plot(time_s, trace, lw=0.6, color="tab:blue")
        row = thresholds[thresholds.neuron == neuron]
        if len(row):
            ax.axhline(float(row.threshold_dff.iloc[0]), color="tab:red", lw=0.7, ls="--", label="threshold")
            ax.axhline(float(row.baseline_dff.iloc[0]), color="0.5", lw=0.5, label="baseline")
        mine = events[(events.neuron == neuron) & events.peak_s.between(time_s[0], time_s[-1])]
        spans = np.column_stack([mine.onset_s, mine.end_s - mine.onset_s])
        ax.broken_barh(
            spans, (0, 1), transform=ax.get_xaxis_transform(), color="tab:orange", alpha=0.25, lw=0
        )
        ax.plot(
            mine.peak_s,
            mine.amplitude_dff + (row.baseline_dff.iloc[0] if len(row) else 0),
            "v",
            color="k",
            ms=3,
        )
        ax.set_ylabel("ΔF/F", fontsize=8)
        ax.text(
            0.005, 0.92, f"neuron {neuron}: {len(mine)} events", transform=ax.transAxes, fontsize=7, va="top"
        )
        ax.tick_params(labelsize=7)
    axes[0].legend(loc="upper right", fontsize=6, frameon=False)
    axes[-1].set_xlabel("time (s)")
    axes[-1].set_xlim(time_s[0], time_s[-1])
    if title:
        figure.suptitle(title, fontsize=9)
    stacked_layout(figure, bool(title), hspace_in=0.15)
    return figure


def raster_figure(
    events,
    n_neurons: int,
    duration_s: float,
    ensemble_events=None,
    title: str = "",
    start_time_s: float = 0.0,
):
    """Raster of event onsets (x: time in s, y: neuron) with ensemble events shaded by ensemble.

    ensemble_events: table with start_s, end_s (each event's window) and ensemble.
    start_time_s: time of the first frame on the recording's clock (the axis spans
        start_time_s to start_time_s + duration_s).
    """
    figure, ax = plt.subplots(figsize=(12, max(3.0, min(10.0, 0.05 * n_neurons + 2))))
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


def coactivity_figure(start_s, n_active, threshold, null_hist, n_neurons: int, title: str = ""):
    """Coactivity per bin with the null threshold, and the null distribution beside it.

    n_active: the coactivity tested (neurons active within the jitter window).
    threshold: one number, or one per bin (bins holding different numbers of frames
        have their own threshold); significant bins are marked.
    null_hist: table with n_active and fraction (pooled null distribution).
    """
    figure, (ax, ax_null) = plt.subplots(
        1, 2, figsize=(12, 3.4), gridspec_kw={"width_ratios": [5, 1]}, sharey=True
    )
    start_s = np.asarray(start_s)
    n_active = np.asarray(n_active)
    per_bin = np.broadcast_to(np.asarray(threshold, dtype=float), n_active.shape)
    ax.plot(start_s, n_active, lw=0.6, color="k", drawstyle="steps-post")
    above = n_active > per_bin
    ax.plot(start_s[above], n_active[above], "o", ms=3, color="tab:red", label="above the null")
    levels = np.unique(per_bin)
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


def regressors_figure(time_s, labels, boxcars, regressors, title: str = ""):
    """Each stimulus's boxcar and its kernel-convolved regressor over time."""
    n = len(labels)
    figure, axes = plt.subplots(n, 1, figsize=(12, 1.4 * n + 0.8), sharex=True, squeeze=False)
    for ax, label, box, reg in zip(axes[:, 0], labels, boxcars, regressors, strict=True):
        ax.fill_between(time_s, 0, box, step="post", color="0.85", label="stimulus on")
        ax.plot(
            time_s,
            reg / (reg.max() if reg.max() > 0 else 1),
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


def heatmaps_figure(time_s, panels, table, title: str = ""):
    """Heat maps (neurons x time) of z-scored ΔF/F with stimulus onsets marked.

    panels: [(panel title, (neurons, bins) z-scored array, y tick labels (one per row: the
        neuron ids, optionally with their response type) or None)].
    table: stimulus table (stimulus, onset_s); onsets are drawn as lines in the stimulus
        colours of `calcium.outputs.palette`.
    Rows are labelled by their tick labels at 7 pt, every k-th row when there are more than
    HEATMAP_MAX_LABELS rows (k chosen so that at most that many labels are drawn).
    """
    n = len(panels)
    heights = [max(1.0, min(8.0, ROW_INCHES * max(p[1].shape[0], 1))) for p in panels]
    figure, axes = plt.subplots(
        n, 1, figsize=(12, sum(heights) + 1.5 * n), squeeze=False, gridspec_kw={"height_ratios": heights}
    )
    colours = stimulus_colours(table.stimulus)
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
                extent=(time_s[0], time_s[-1], values.shape[0] - 0.5, -0.5),
            )
            figure.colorbar(image, ax=ax, label="z-scored ΔF/F", pad=0.01)
            if ticks is not None and len(ticks):
                rows = heatmap_tick_rows(len(ticks), height)
                ax.set_yticks(rows, [str(ticks[r]) for r in rows], fontsize=7)
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


def response_examples_figure(time_s, examples, table, title: str = ""):
    """Example neurons per response type with their fitted regressor model overlaid.

    examples: [(response type, neuron, trace, fitted model trace)].
    """
    n = max(len(examples), 1)
    figure, axes = plt.subplots(n, 1, figsize=(12, 1.6 * n + 0.6), sharex=True, squeeze=False)
    for ax, (kind, neuron, trace, model) in zip(axes[:, 0], examples, strict=False):
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


def evaluation_figure(
    time_s, trace, calcium, spikes, inferred_times, true_times, neuron: int, title: str = ""
):
    """One neuron: ΔF/F with the OASIS fit, inferred s with spike times, and the true spikes."""
    figure, axes = plt.subplots(
        3, 1, figsize=(12, 5.5), sharex=True, gridspec_kw={"height_ratios": [3, 2, 1]}
    )
    axes[0].plot(time_s, trace, lw=0.6, color="0.3", label="detrended ΔF/F")
    axes[0].plot(time_s, calcium, lw=0.9, color="tab:orange", label="OASIS calcium")
    axes[0].set_ylabel("ΔF/F")
    axes[0].legend(loc="upper right", fontsize=7, frameon=False)
    axes[1].plot(time_s, spikes, lw=0.7, color="tab:blue", label="inferred activity (s, smoothed)")
    top = float(np.max(spikes)) if len(spikes) and np.max(spikes) > 0 else 1.0
    axes[1].plot(
        inferred_times,
        np.full(len(inferred_times), 1.05 * top),
        "|",
        color="tab:blue",
        ms=6,
        label="inferred spike times",
    )
    axes[1].set_ylabel("s (ΔF/F)")
    axes[1].legend(loc="upper right", fontsize=7, frameon=False)
    axes[2].eventplot([true_times], colors="k", lineoffsets=0.5, linelengths=0.8)
    axes[2].set_yticks([])
    axes[2].set_ylabel("true\nspikes", fontsize=8)
    axes[2].set_xlabel("time (s)")
    axes[2].set_xlim(time_s[0], time_s[-1])
    figure.suptitle(title or f"neuron {neuron}", fontsize=9)
    figure.tight_layout()
    return figure


def expected_accuracy_figure(bands, neuron_nu, note: str = "", title: str = ""):
    """Session's noise levels (histogram with band edges) and the expected r and F1 per band.

    bands: table of calcium.evaluation.accuracy.expected_accuracy (nu_low, nu_high, nu_median,
    expected_correlation, correlation_p10/p90, expected_f1, f1_p10/p90).
    neuron_nu: ν of every neuron (%·Hz^-1/2). note: text shown when there is no estimate.
    """
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    finite = np.asarray(neuron_nu, dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size:
        axes[0].hist(finite, bins=min(40, max(5, finite.size // 3)), color="0.6")
    for edge in (
        np.unique(np.concatenate([bands.nu_low.to_numpy(), bands.nu_high.to_numpy()])) if len(bands) else []
    ):
        axes[0].axvline(edge, color="k", lw=0.6, ls="--")
    axes[0].set_xlabel("noise level ν (%/√Hz)")
    axes[0].set_ylabel("neurons")
    axes[0].set_title("session's neurons and noise bands", fontsize=9)
    has = len(bands) and np.isfinite(bands.expected_correlation.to_numpy(dtype=float)).any()
    if has:
        x = np.arange(len(bands), dtype=float)
        for column, low, high, label, colour, dx in (
            (
                "expected_correlation",
                "correlation_p10",
                "correlation_p90",
                "correlation (40 ms bins)",
                "tab:blue",
                -0.06,
            ),
            ("expected_f1", "f1_p10", "f1_p90", "F1 of spike times", "tab:orange", 0.06),
        ):
            y = bands[column].to_numpy(dtype=float)
            err = np.vstack([y - bands[low].to_numpy(dtype=float), bands[high].to_numpy(dtype=float) - y])
            axes[1].errorbar(x + dx, y, yerr=np.abs(err), fmt="o-", color=colour, capsize=3, label=label)
        axes[1].set_xticks(x)
        axes[1].set_xticklabels(
            [f"{a:.3g}-{b:.3g}" for a, b in zip(bands.nu_low, bands.nu_high, strict=True)], fontsize=7
        )
        axes[1].set_xlim(-0.5, len(bands) - 0.5)
        axes[1].set_ylim(0, 1)
        axes[1].set_xlabel("noise band of the session's neurons, ν (%/√Hz)")
        axes[1].set_ylabel("expected score (median over reference sets, p10-p90)")
        axes[1].legend(fontsize=7, frameon=False, loc="lower left")
    else:
        axes[1].axis("off")
    if note:
        axes[1].text(
            0.5,
            0.98 if has else 0.5,
            note,
            transform=axes[1].transAxes,
            ha="center",
            va="top" if has else "center",
            fontsize=7,
            wrap=True,
        )
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
