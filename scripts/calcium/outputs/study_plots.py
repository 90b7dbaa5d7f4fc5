"""Figures of the study level (matplotlib, Agg): sessions compared by group, one point per
session (a session's neurons are not independent samples of a condition), each session's
neuron distribution, and variants against the default run. Functions take tables and return
a Figure (calcium.outputs.plot_style.save_figure writes it)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from calcium.outputs.plot_style import plt  # Agg backend, user text drawn as written (no TeX math)

# Per-session values drawn by `sessions_figure`: (column of the sessions table, axis label).
SESSION_METRICS = [
    ("n_neurons", "neurons (count)"),
    ("mean_event_rate_per_min", "event rate (events/min,\nmean over neurons)"),
    ("mean_amplitude_dff", "event amplitude (ΔF/F,\nmean over neurons)"),
    ("mean_spike_rate_hz", "spike rate (Hz,\nmean over neurons)"),
    ("significant_bin_fraction", "coactive bins above null\n(fraction of bins)"),
    ("ensemble_event_rate_per_min", "ensemble events\n(events/min)"),
    ("n_ensembles", "ensembles (count)"),
    ("mean_ensemble_size", "ensemble size\n(neurons, mean)"),
    ("fraction_stimulus_locked", "stimulus-locked neurons\n(fraction)"),
    ("median_expected_correlation", "expected correlation\n(Pearson r, median neuron)"),
]
# Per-neuron values drawn by `neurons_figure`: (column of the neurons table, axis label).
NEURON_METRICS = [
    ("event_rate_per_min", "event rate (events/min)"),
    ("mean_amplitude_dff", "mean event amplitude (ΔF/F)"),
]
MARKERS = "osD^v<>PX*"


# Up to this many sessions, each point is labelled with its session id.
MAX_NAMED_SESSIONS = 12


def spread(n: int, width: float = 0.25) -> np.ndarray:
    """Offsets that set n points of one category side by side (deterministic, no overlap)."""
    return np.zeros(n) if n < 2 else np.linspace(-width, width, n)


def sessions_figure(summary: pd.DataFrame, group_by: list[str], metrics=SESSION_METRICS):
    """One panel per (metric, grouping column): each session one point at its group, the
    group's median a bar. Points are marked by the session's value of the other grouping
    column (if any); with a `subject` column, a grey line joins each subject's sessions
    across the groups of the other columns (its median per group). Without grouping columns
    every session sits in one column, "all sessions"."""
    columns = group_by or [None]
    metrics = [
        (c, label) for c, label in metrics if c in summary and np.isfinite(summary[c].astype(float)).any()
    ]
    figure, axes = plt.subplots(
        len(metrics),
        len(columns),
        figsize=(3.2 * len(columns) + 1.0, 1.7 * len(metrics) + 0.8),
        squeeze=False,
        layout="constrained",
    )
    for j, column in enumerate(columns):
        groups = summary[column].astype(str) if column else pd.Series("all sessions", index=summary.index)
        names = sorted(groups.unique())
        other = next((c for c in group_by if c != column), None)
        kinds = sorted(summary[other].astype(str).unique()) if other else []
        for i, (metric, label) in enumerate(metrics):
            ax = axes[i, j]
            values = summary[metric].to_numpy(dtype=float)
            positions = np.zeros(len(values))
            for x, name in enumerate(names):
                rows = np.flatnonzero((groups == name).to_numpy())
                offsets = spread(len(rows))
                positions[rows] = x + offsets
                for row, offset in zip(rows, offsets, strict=True):
                    kind = kinds.index(str(summary[other].iloc[row])) if other else 0
                    ax.plot(
                        x + offset,
                        values[row],
                        MARKERS[kind % len(MARKERS)],
                        color=f"C{kind % 10}",
                        markersize=6,
                        label=str(summary[other].iloc[row]) if other else None,
                    )
                    if len(values) <= MAX_NAMED_SESSIONS and np.isfinite(values[row]):
                        ax.annotate(
                            str(summary["session"].iloc[row]),
                            (x + offset, values[row]),
                            xytext=(4, 0),
                            textcoords="offset points",
                            fontsize=6,
                            va="center",
                        )
                finite = values[rows][np.isfinite(values[rows])]
                if len(finite):
                    ax.hlines(np.median(finite), x - 0.35, x + 0.35, color="0.2", linewidth=1.5)
            if column != "subject" and "subject" in group_by:
                subject_lines(ax, summary["subject"].astype(str), groups, names, positions, values)
            ax.set_xticks(
                range(len(names)), names if i == len(metrics) - 1 else [""] * len(names), fontsize=8
            )
            ax.set_xlim(-0.6, len(names) - 0.4)
            ax.tick_params(labelsize=7)
            if j == 0:
                ax.set_ylabel(label, fontsize=8)
        what = "one point per session, bar: median"
        axes[-1, j].set_xlabel(f"{column} ({what})" if column else what, fontsize=8)
        if other:
            handles, labels = axes[0, j].get_legend_handles_labels()
            unique = dict(zip(labels, handles, strict=True))
            axes[0, j].legend(unique.values(), unique.keys(), title=other, fontsize=7, title_fontsize=7)
    figure.suptitle(f"{len(summary)} sessions compared", fontsize=9)
    return figure


def subject_lines(ax, subjects, groups, names: list[str], positions: np.ndarray, values: np.ndarray) -> None:
    """A thin line per subject through its sessions in each group it has (their mean position
    and median value when it has several): a subject followed across conditions."""
    for subject in sorted(subjects.unique()):
        xs, ys = [], []
        for name in names:
            mine = ((subjects == subject) & (groups == name)).to_numpy() & np.isfinite(values)
            if mine.any():
                xs.append(positions[mine].mean())
                ys.append(np.median(values[mine]))
        if len(xs) > 1:
            ax.plot(xs, ys, "-", color="0.6", linewidth=0.8, zorder=0)


def session_labels(summary: pd.DataFrame, group_by: list[str]) -> list[str]:
    """Axis labels of sessions: the id with its group values beneath."""
    return [
        "\n".join([str(row["session"]), *(str(row[c]) for c in group_by)]) for _, row in summary.iterrows()
    ]


def neurons_figure(neurons: pd.DataFrame, summary: pd.DataFrame, group_by: list[str], metrics=NEURON_METRICS):
    """Each session's distribution over its neurons (box: quartiles, whiskers: 5th-95th
    percentiles), sessions ordered by their groups, one box per session."""
    order = summary.sort_values(list(group_by) + ["session"], kind="stable") if group_by else summary
    sessions = order["session"].astype(str).tolist()
    figure, axes = plt.subplots(
        len(metrics),
        1,
        figsize=(min(40.0, max(6.0, 0.9 * len(sessions) + 2.0)), 2.4 * len(metrics) + 0.8),
        squeeze=False,
        layout="constrained",
    )
    by_session = neurons.groupby(neurons["session"].astype(str))
    for ax, (metric, label) in zip(axes[:, 0], metrics, strict=True):
        data = []
        for session in sessions:
            values = (
                by_session.get_group(session)[metric].to_numpy(dtype=float)
                if session in by_session.groups
                else []
            )
            values = np.asarray(values, dtype=float)
            data.append(values[np.isfinite(values)])
        ax.boxplot(data, whis=(5, 95), showfliers=False, widths=0.6)
        ax.set_xticks(range(1, len(sessions) + 1), session_labels(order, group_by), fontsize=7)
        ax.set_ylabel(label, fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
        for x, values in enumerate(data, start=1):
            ax.annotate(
                f"n={len(values)}",
                (x, 1.0),
                xycoords=("data", "axes fraction"),
                ha="center",
                va="bottom",
                fontsize=6,
            )
    axes[-1, 0].set_xlabel("session (" + ", ".join(group_by) + ")" if group_by else "session", fontsize=8)
    figure.suptitle("Each session's neurons (box: quartiles; whiskers: 5th-95th percentiles)", fontsize=9)
    return figure


def variants_figure(variants: pd.DataFrame):
    """Each variant against the default run, one point per session: spikes and events as a
    ratio to the default run's, and the median over neurons of the correlation between the
    variant's and the default's deconvolved activity."""
    runs = variants[variants["variant"] != "default"]
    default = variants[variants["variant"] == "default"].set_index("session")
    names = list(dict.fromkeys(runs["variant"]))
    panels = [
        ("n_spikes", "spikes, variant / default\n(ratio)"),
        ("n_events", "events, variant / default\n(ratio)"),
        ("median_activity_correlation", "activity vs default\n(Pearson r, median neuron)"),
    ]
    figure, axes = plt.subplots(
        1, len(panels), figsize=(3.4 * len(panels), 3.4), squeeze=False, layout="constrained"
    )
    for ax, (column, label) in zip(axes[0], panels, strict=True):
        for x, name in enumerate(names):
            rows = runs[runs["variant"] == name]
            values = rows[column].to_numpy(dtype=float)
            if column != "median_activity_correlation":
                base = default.loc[rows["session"], column].to_numpy(dtype=float)
                with np.errstate(divide="ignore", invalid="ignore"):
                    values = np.where(base > 0, values / np.where(base > 0, base, 1), np.nan)
            ax.plot(x + spread(len(values), 0.15), values, "o", color=f"C{x % 10}", markersize=6)
        if column != "median_activity_correlation":
            ax.axhline(1.0, color="0.5", linewidth=0.8, linestyle="--")
        ax.set_xticks(range(len(names)), names, fontsize=8)
        ax.set_xlim(-0.6, len(names) - 0.4)
        ax.set_xlabel("variant (one point per session)", fontsize=8)
        ax.set_ylabel(label, fontsize=8)
        ax.tick_params(labelsize=7)
    figure.suptitle("Variants against the default run", fontsize=9)
    return figure
