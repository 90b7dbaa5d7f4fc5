"""Figures of the evaluation: spike inference scored against ground truth, and the expected
accuracy per noise band with each neuron's noise level."""

from __future__ import annotations

import numpy as np

from calcium.outputs.plot_style import mark_trial_gaps, plt


def evaluation_figure(
    time_s, trace, calcium, spikes, inferred_times, true_times, neuron: int, title: str = "", gaps_s=None
):
    """One neuron: ΔF/F with the OASIS fit, inferred s with spike times, and the true spikes.

    A session cut into trials: the traces are NaN in its gaps (breaks), and gaps_s
    (`calcium.input.trial_structure.gap_spans_s`) are marked by `mark_trial_gaps` on each panel.
    """
    figure, axes = plt.subplots(
        3, 1, figsize=(12, 5.5), sharex=True, gridspec_kw={"height_ratios": [3, 2, 1]}
    )
    for ax in axes:
        mark_trial_gaps(ax, gaps_s)
    axes[0].plot(time_s, trace, lw=0.6, color="0.3", label="detrended ΔF/F")
    axes[0].plot(time_s, calcium, lw=0.9, color="tab:orange", label="OASIS calcium")
    axes[0].set_ylabel("ΔF/F")
    axes[0].legend(loc="upper right", fontsize=7, frameon=False)
    axes[1].plot(time_s, spikes, lw=0.7, color="tab:blue", label="inferred activity (s, smoothed)")
    shown = np.asarray(spikes)[np.isfinite(spikes)]  # a session's gaps between trials are NaN
    top = float(np.max(shown)) if len(shown) and np.max(shown) > 0 else 1.0
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
