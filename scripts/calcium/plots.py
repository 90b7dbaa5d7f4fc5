"""Figures (matplotlib, Agg backend). Functions take arrays and return a Figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

STEP_COLOURS = ("0.3", "tab:blue", "tab:green", "tab:purple", "tab:orange")


def trace_steps_figure(
    time_s: np.ndarray,
    steps: list[tuple[str, str, np.ndarray]],
    spike_times_s: list[np.ndarray],
    neuron_ids: list[int],
    title: str = "",
):
    """Example neurons across the processing steps.

    time_s: (frames,) time of each frame in seconds.
    steps: [(name, y-axis label with unit, (neurons, frames) array)] in order; the
        last step gets the spike times as ticks.
    spike_times_s: per example neuron, its spike times in seconds.
    neuron_ids: ids shown in the panel titles.
    """
    n_steps = len(steps)
    n_rows = n_steps * len(neuron_ids)
    figure, axes = plt.subplots(n_rows, 1, figsize=(12, 1.25 * n_rows + 0.6), sharex=True, squeeze=False)
    axes = axes[:, 0]
    for k, neuron in enumerate(neuron_ids):
        for j, (name, unit, values) in enumerate(steps):
            ax = axes[k * n_steps + j]
            ax.plot(time_s, values[k], lw=0.6, color=STEP_COLOURS[j % len(STEP_COLOURS)])
            ax.set_ylabel(unit, fontsize=7)
            ax.tick_params(labelsize=7)
            ax.text(0.005, 0.92, f"neuron {neuron}: {name}", transform=ax.transAxes, fontsize=7, va="top")
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
                ax.legend(loc="upper right", fontsize=6, frameon=False)
    axes[-1].set_xlabel("time (s)")
    axes[-1].set_xlim(time_s[0], time_s[-1])
    if title:
        figure.suptitle(title, fontsize=9)
    figure.tight_layout(h_pad=0.2)
    return figure


def save_figure(figure, path: str, dpi: int = 110) -> None:
    """Save a figure atomically as PNG (temporary name, then rename) and close it."""
    import os
    import tempfile
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".png")
    os.close(fd)
    try:
        figure.savefig(tmp, dpi=dpi, metadata={"Software": None})
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        plt.close(figure)
