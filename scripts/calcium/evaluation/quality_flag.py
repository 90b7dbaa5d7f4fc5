"""Each neuron's expected-accuracy quality flag beside its deconvolution settings (deconvolution.tsv)."""

from __future__ import annotations

import pandas as pd

QUALITY_COLUMNS = ("expected_correlation", "quality_flag", "quality_reason")


def with_quality_flag(settings: pd.DataFrame, neurons: pd.DataFrame) -> pd.DataFrame:
    """Each neuron's deconvolution settings with its expected-accuracy quality flag beside them.

    settings: one row per neuron (the deconvolve rule's table, a `neuron` column); neurons:
    `neuron_quality`'s table (expected_correlation, quality_flag, quality_reason per neuron).
    Returns settings with those three columns appended, in settings' row order. Raises
    ValueError when the two tables do not hold the same neurons.
    """
    ours, theirs = set(settings["neuron"]), set(neurons["neuron"])
    if ours != theirs:
        missing = sorted(ours ^ theirs)[:5]
        raise ValueError(
            f"the deconvolution table has {len(ours)} neurons and the expected-accuracy table "
            f"{len(theirs)}; they differ in neurons {missing}: re-run both rules on the same session"
        )
    quality = neurons.set_index("neuron").loc[settings["neuron"], list(QUALITY_COLUMNS)]
    table = settings.reset_index(drop=True).copy()
    for column in QUALITY_COLUMNS:
        table[column] = quality[column].to_numpy()
    table["quality_flag"] = table["quality_flag"].astype(str).str.lower().eq("true")
    table["quality_reason"] = table["quality_reason"].fillna("").astype(str)
    return table
