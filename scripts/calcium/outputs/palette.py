"""The workflow's colours: one map for ensembles, another for stimuli, used by every figure
(`calcium.outputs.*_plots`) and handed to the session browser (its manifest's "palette"), so that
ensemble 0 has the same colour everywhere and no ensemble shares a colour with a stimulus.

Ensembles: matplotlib's "tab10" without its grey (9 colours, cycled: ensemble k gets
ENSEMBLE_COLOURS[k % 9]); events in no ensemble: NO_ENSEMBLE (light grey).
Stimuli: saturated colours chosen away from the ensemble colours (each at least 0.3 from
every ensemble colour in RGB, on a 0-1 scale; tested), cycled in the order stimuli first
appear in the stimulus table.
"""

from __future__ import annotations

ENSEMBLE_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#bcbd22",
    "#17becf",
)
NO_ENSEMBLE = "#bbbbbb"
STIMULUS_COLOURS = ("#00ffff", "#ff00ff", "#00e676", "#ffd700", "#ff1493", "#0000cd", "#4b0082", "#000080")


def ensemble_colour(ensemble: int) -> str:
    """Colour of ensemble id `ensemble` (NO_ENSEMBLE for a negative id: not in an ensemble)."""
    return NO_ENSEMBLE if int(ensemble) < 0 else ENSEMBLE_COLOURS[int(ensemble) % len(ENSEMBLE_COLOURS)]


def stimulus_colours(stimuli) -> dict[str, str]:
    """{stimulus: colour} in the order stimuli first appear in `stimuli` (an iterable of names)."""
    names = list(dict.fromkeys(str(name) for name in stimuli))
    return {name: STIMULUS_COLOURS[k % len(STIMULUS_COLOURS)] for k, name in enumerate(names)}


def browser_palette() -> dict:
    """The palette as the browser's manifest carries it."""
    return {
        "ensembles": list(ENSEMBLE_COLOURS),
        "no_ensemble": NO_ENSEMBLE,
        "stimuli": list(STIMULUS_COLOURS),
    }
