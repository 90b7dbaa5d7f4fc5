"""Figures of example neurons: every step of the signal chain with spike times, and events on
the traces they were detected on; which neurons and which stretch of time they show."""

from __future__ import annotations

import numpy as np

from calcium.outputs.plot_style import mark_trial_gaps, plt, stacked_layout


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


STEP_COLOURS = ("0.3", "tab:blue", "tab:green", "tab:purple", "tab:orange")


def trace_steps_figure(
    time_s: np.ndarray,
    steps: list[tuple[str, str, np.ndarray]],
    spike_times_s: list[np.ndarray],
    neuron_ids: list[int],
    title: str = "",
    reasons: list[str] | None = None,
    gaps_s=None,
):
    """Example neurons across the processing steps.

    time_s: (frames,) time of each frame in seconds.
    steps: [(name, y-axis label with unit, (neurons, frames) array)] in order; the
        last step gets the spike times as ticks.
    spike_times_s: per example neuron, its spike times in seconds.
    neuron_ids: ids shown in the panel titles; reasons: why each was chosen (in its title).
    gaps_s: a session cut into trials, its gaps (`calcium.input.trial_structure.gap_spans_s`;
        the steps' arrays are NaN there: breaks), marked by `mark_trial_gaps`.
    """
    n_steps = len(steps)
    n_rows = n_steps * len(neuron_ids)
    figure, axes = plt.subplots(n_rows, 1, figsize=(12, 1.25 * n_rows + 0.6), sharex=True, squeeze=False)
    axes = axes[:, 0]
    for k, neuron in enumerate(neuron_ids):
        for j, (name, unit, values) in enumerate(steps):
            ax = axes[k * n_steps + j]
            mark_trial_gaps(ax, gaps_s)
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
                finite = values[k][np.isfinite(values[k])]  # gaps between trials are NaN: breaks
                top = float(np.max(finite)) if finite.size else 1.0
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


def events_on_traces_figure(time_s, traces, events, thresholds, neuron_ids, title: str = "", gaps_s=None):
    """Example traces (ΔF/F) with threshold lines, event spans shaded and peaks marked.

    traces: (examples, frames); events: events table (all neurons);
    thresholds: per-neuron table with neuron, baseline_dff, threshold_dff.
    gaps_s: a session cut into trials, its gaps (`calcium.input.trial_structure.gap_spans_s`;
        the traces are NaN there: breaks), marked by `mark_trial_gaps`.
    """
    n = len(neuron_ids)
    figure, axes = plt.subplots(n, 1, figsize=(12, 1.6 * n + 0.6), sharex=True, squeeze=False)
    axes = axes[:, 0]
    for ax, neuron, trace in zip(axes, neuron_ids, traces, strict=True):
        mark_trial_gaps(ax, gaps_s)
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


def example_selection(facts: dict, settings: dict, events, features, members, regression=None):
    """Neurons and frames of a session's example figures: (neuron ids, slice of frames, why each
    neuron was chosen).

    facts: the session's recording.json (n_neurons, n_frames, frame_rate_hz, start_time_s,
    duration_s); settings: config section figures. Neurons: figures.example_neurons, or the
    rule of `choose_example_neurons` (features, members, regression: the session's tables);
    time: figures.time_window_s, or the `busiest_window` of those neurons' event onsets.
    """
    if settings["example_neurons"]:
        chosen = [(int(n), "") for n in settings["example_neurons"] if int(n) < facts["n_neurons"]]
    else:
        chosen = choose_example_neurons(facts["n_neurons"], features, members, regression)
    window = settings["time_window_s"]
    if not window:
        mine = events[events.neuron.isin([n for n, _ in chosen])]
        window = busiest_window(mine.onset_s.to_numpy(), facts["start_time_s"], facts["duration_s"])
    neurons, span = example_view(
        facts["n_neurons"], facts["n_frames"], facts["frame_rate_hz"], [n for n, _ in chosen], window
    )
    return neurons, span, [why for n, why in chosen if n in neurons]


def spike_times_shown(spikes, neurons, time_s: np.ndarray) -> list[np.ndarray]:
    """Per neuron of `neurons`, its spike times (s; spike_times.csv's time_s) within time_s."""
    return [
        spikes.time_s[(spikes.neuron == n) & spikes.time_s.between(time_s[0], time_s[-1])].to_numpy()
        for n in neurons
    ]
