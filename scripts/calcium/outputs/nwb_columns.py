"""NWB: how the workflow's tables become NWB columns.

Column descriptions (`describe_column`: units are in the names, _s seconds, _dff ΔF/F), the
gzip rule for large columns (`compressed`), a pandas column as NWB data (`column_data`), and a
table's columns as VectorData with links to the ROI table (`table_columns`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# Descriptions of the workflow's table columns (units are in the names: _s seconds, _dff ΔF/F).
COLUMN_DESCRIPTIONS = {
    "neuron": "row of the ROI table (PlaneSegmentation) this row belongs to",
    "label": "the ROI's label in the input (ROI id, index column or header)",
    "onset_frame": "frame where the event rises above the rest level",
    "onset_s": "time of the event onset (s)",
    "peak_frame": "frame of the event peak",
    "peak_s": "time of the event peak (s)",
    "end_frame": "frame where the event returns to the rest level",
    "end_s": "time of the event end (s)",
    "amplitude_dff": "event peak above baseline (ΔF/F)",
    "prominence_dff": "peak prominence (ΔF/F)",
    "fwhm_s": "full width at half maximum (s)",
    "area_dff_s": "area under the event above baseline (ΔF/F·s)",
    "exceeds_max_fwhm": "event wider than events.max_fwhm_s",
    "baseline_dff": "baseline of the trace (ΔF/F)",
    "noise_sd_dff": "robust noise SD of the trace (ΔF/F)",
    "threshold_dff": "event detection threshold (ΔF/F)",
    "n_events": "number of events",
    "g1": "first autoregressive coefficient of the OASIS model",
    "g2": "second autoregressive coefficient (0 for AR(1))",
    "tau_decay_s": "decay time constant (s)",
    "tau_rise_s": "rise time constant (s; 0 for AR(1))",
    "lambda": "sparsity penalty of OASIS",
    "spike_sum_dff": "sum of the inferred spike amplitudes (ΔF/F)",
    "bin": "index of the coactivity bin",
    "start_s": "start of the bin (s)",
    "n_active": "neurons with an event in the bin",
    "fraction_active": "fraction of neurons with an event in the bin",
    "event": "ensemble event index",
    "ensemble": "ensemble index (-1: none)",
    "n_members": "number of member neurons",
    "first_active_s": "time of the ensemble's first event (s)",
    "last_active_s": "time of the ensemble's last event (s)",
    "participation": "fraction of the ensemble's events the neuron takes part in",
    "member": "neuron is a member of the ensemble",
    "r2": "coefficient of determination of the stimulus regression",
    "intercept_dff": "regression intercept (ΔF/F)",
    "selected": "R² above stimulus.min_r2 (stimulus-locked)",
    "response_type": "stimulus with the largest coefficient, or not stimulus-locked",
    "stimulus": "stimulus label",
    "n_presentations": "number of presentations",
    "mean_response_dff": "mean baseline-subtracted response over the response window (ΔF/F)",
    "sem_response_dff": "standard error of the mean response (ΔF/F)",
}

_SUFFIX_UNITS = (("_per_min", "per minute"), ("_dff_s", "ΔF/F·s"), ("_dff", "ΔF/F"), ("_s", "seconds"))


def describe_column(name: str) -> str:
    """A column's description: from COLUMN_DESCRIPTIONS, else its name and the unit its suffix gives."""
    if name in COLUMN_DESCRIPTIONS:
        return COLUMN_DESCRIPTIONS[name]
    if name.startswith("coef_"):
        return f"regression coefficient of stimulus {name[5:]!r} (ΔF/F per unit regressor)"
    for suffix, unit in _SUFFIX_UNITS:
        if name.endswith(suffix):
            return f"{name.replace('_', ' ')} ({unit})"
    return name.replace("_", " ")


# Table columns with at least this many values are stored gzip-compressed.
COMPRESS_FROM = 1 << 16


def compressed(values, gzip_level: int):
    """Wrap a large numeric array for gzip compression at `gzip_level` (0: none), byte-shuffled."""
    from hdmf.backends.hdf5 import H5DataIO

    if gzip_level and isinstance(values, np.ndarray) and values.size >= COMPRESS_FROM:
        return H5DataIO(values, compression="gzip", compression_opts=gzip_level, shuffle=True)
    return values


def column_data(values: pd.Series, gzip_level: int):
    """A pandas column as NWB column data: booleans, int64 and float64 arrays (large ones
    compressed), anything else as strings, a missing cell as "" (not "nan"). A `*_reason` column
    is text however pandas read it (with no reason given anywhere it reads as all-NaN floats)."""
    if str(values.name).endswith("_reason") or not (
        pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values)
    ):
        return ["" if _missing(v) else str(v) for v in values]
    if pd.api.types.is_bool_dtype(values):
        return compressed(values.to_numpy(dtype=bool), gzip_level)
    if pd.api.types.is_integer_dtype(values):
        return compressed(values.to_numpy(dtype=np.int64), gzip_level)
    if pd.api.types.is_float_dtype(values):
        return compressed(values.to_numpy(dtype=np.float64), gzip_level)
    return [str(v) for v in values]


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA


def roi_region(name: str, rows, description: str, rois):
    """A link (DynamicTableRegion) from `rows` (indices, int64) to the ROI table `rois`."""
    from hdmf.common import DynamicTableRegion

    return DynamicTableRegion(
        name=name, data=np.asarray(rows, dtype=np.int64), description=description, table=rois
    )


def table_columns(
    table: pd.DataFrame,
    gzip_level: int,
    rois,
    neuron_columns=("neuron",),
    descriptions: dict[str, str] | None = None,
) -> list:
    """The columns of `table` as NWB columns, in order: `neuron_columns` as links to the ROI
    table `rois`, the others as VectorData described by `descriptions` or `describe_column`."""
    from hdmf.common import VectorData

    columns = []
    for column in table.columns:
        if column in neuron_columns:
            columns.append(roi_region(column, table[column].to_numpy(), COLUMN_DESCRIPTIONS["neuron"], rois))
        else:
            columns.append(
                VectorData(
                    name=column,
                    data=column_data(table[column], gzip_level),
                    description=(descriptions or {}).get(column) or describe_column(column),
                )
            )
    return columns
