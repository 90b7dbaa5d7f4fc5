"""The study level: every session's results summarised in one tidy table per output kind,
with the columns that group sessions (subject, condition, ...), and variants (settings
compared side by side) set against the default run.

Pure functions: tables in, tables out (pandas); no file access, no Snakemake.
Units are in the column names (rates per minute or per second, ΔF/F, s).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from calcium.errors import ConfigError, InputError
from calcium.population.steps import effective_thresholds

# Grouping columns used when `study.group_by` is null: those the sheet fills.
DEFAULT_GROUPS = ("subject", "condition")
# Columns of the study tables that a grouping column may not replace.
RESERVED_COLUMNS = ("session", "variant", "neuron", "ensemble", "band", "response_type")


# Folders of results/ that are not sessions.
RESERVED_SESSIONS = ("study", "variants", "logs", "benchmarks", "dandi")


def check_session_ids(sessions, sheet_path: str) -> None:
    """Refuse session ids that are folders of results/ holding other things (results/study/...)."""
    clash = [s for s in sessions if str(s) in RESERVED_SESSIONS]
    if clash:
        raise InputError(
            f"{sheet_path}: session id {clash[0]!r} is the name of a results/ folder of the workflow "
            f"({', '.join(RESERVED_SESSIONS)}); rename the session."
        )


def grouping_columns(sheet: pd.DataFrame, group_by: list[str] | None, sheet_path: str) -> list[str]:
    """The sheet columns that group sessions, checked: present and filled for every session.

    sheet: the session sheet (one row per session, missing optional cells "");
    group_by: `study.group_by` (None = DEFAULT_GROUPS, those with any value in the sheet).
    Raises ConfigError / InputError with one line naming the sheet, the column and the fix.
    """
    if group_by is None:
        columns = [c for c in DEFAULT_GROUPS if c in sheet and (sheet[c].astype(str).str.strip() != "").any()]
        for column in columns:
            _check_filled(sheet, column, sheet_path, "")
        return columns
    for column in group_by:
        if column in RESERVED_COLUMNS:
            raise ConfigError(
                f"config study.group_by: {column!r} names a column of the study tables, not a group; "
                "remove it (every table has a session column already)."
            )
        if column not in sheet:
            raise InputError(
                f"{sheet_path}: no column {column!r}, which config study.group_by names; add the "
                f"column to the session sheet (one value per session) or remove it from study.group_by."
            )
        _check_filled(sheet, column, sheet_path, " named in config study.group_by")
    return list(group_by)


def _check_filled(sheet: pd.DataFrame, column: str, sheet_path: str, named: str) -> None:
    values = sheet[column].astype(str).str.strip()
    empty = [i for i, value in enumerate(values, start=2) if value in ("", "nan")]
    if empty:
        raise InputError(
            f"{sheet_path}: line {empty[0]}, column {column}{named}: empty; give every session a "
            f"{column} (grouping sessions in results/study/) or leave the column out."
        )


def session_groups(sheet: pd.DataFrame, columns: list[str]) -> dict[str, dict[str, str]]:
    """{session: {column: value}} for the grouping columns, values as text."""
    return {
        str(session): {column: str(sheet.loc[session, column]).strip() for column in columns}
        for session in sheet.index
    }


# Summaries of one session's outputs (one row each, or one row per group such as a band).


def spike_summary(spike_times: pd.DataFrame, n_neurons: int, duration_s: float) -> dict:
    """Spikes of a session: count, mean rate per neuron (Hz) and the median neuron's rate."""
    counts = np.bincount(spike_times["neuron"].to_numpy(dtype=int), minlength=n_neurons)[:n_neurons]
    rates = counts / duration_s if duration_s > 0 else np.full(n_neurons, np.nan)
    return {
        "n_neurons": int(n_neurons),
        "n_spikes": int(counts.sum()),
        "mean_spike_rate_hz": float(rates.mean()) if n_neurons else np.nan,
        "median_spike_rate_hz": float(np.median(rates)) if n_neurons else np.nan,
        "n_neurons_with_spikes": int((counts > 0).sum()),
    }


def coactivity_summary(
    bins: pd.DataFrame, thresholds: np.ndarray, null: dict, ensemble_events: pd.DataFrame, duration_s: float
) -> dict:
    """Coactivity of a session: the fraction of bins above their circular-shift null threshold
    (`thresholds`, per bin, calcium.population.steps.effective_thresholds) with at least min_active
    neurons (the bins that make ensemble events), ensemble events and their rate per minute."""
    n_active = bins["n_active_window"].to_numpy(dtype=float)
    significant = (n_active > np.asarray(thresholds, dtype=float)) & (n_active >= null["min_active"])
    return {
        "bin_s": float(null["bin_s"]),
        "n_bins": int(len(bins)),
        "n_significant_bins": int(significant.sum()),
        "significant_bin_fraction": float(significant.mean()) if len(bins) else np.nan,
        "null_percentile": float(null["percentile"]),
        "mean_fraction_active": float(bins["fraction_active"].mean()) if len(bins) else np.nan,
        "n_ensemble_events": int(len(ensemble_events)),
        "ensemble_event_rate_per_min": float(len(ensemble_events) / duration_s * 60)
        if duration_s > 0
        else np.nan,
        "mean_ensemble_event_size": float(ensemble_events["n_active"].mean())
        if len(ensemble_events)
        else np.nan,
    }


def ensemble_summary(ensembles: pd.DataFrame, n_neurons: int) -> dict:
    """Ensembles of a session: how many, their sizes (members) and the fraction of neurons in any."""
    sizes = ensembles["n_members"].to_numpy(dtype=float)
    members = {int(n) for text in ensembles["members"].dropna().astype(str) for n in text.split()}
    return {
        "n_ensembles": int(len(ensembles)),
        "mean_ensemble_size": float(sizes.mean()) if len(sizes) else np.nan,
        "median_ensemble_size": float(np.median(sizes)) if len(sizes) else np.nan,
        "max_ensemble_size": float(sizes.max()) if len(sizes) else np.nan,
        "fraction_neurons_in_ensembles": len(members) / n_neurons if n_neurons else np.nan,
    }


def response_type_counts(regression: pd.DataFrame) -> pd.DataFrame:
    """Neurons per response type (rows: response_type, n_neurons, fraction_of_neurons)."""
    counts = regression["response_type"].astype(str).value_counts().sort_index()
    return pd.DataFrame(
        {
            "response_type": counts.index,
            "n_neurons": counts.to_numpy(),
            "fraction_of_neurons": counts.to_numpy() / max(len(regression), 1),
        }
    )


def expected_accuracy_summary(neurons: pd.DataFrame) -> dict:
    """Expected spike-inference accuracy of a session from its per-neuron table: the median
    neuron's expected correlation and the fraction of neurons flagged."""
    expected = neurons["expected_correlation"].to_numpy(dtype=float)
    flags = neurons["quality_flag"].astype(str).str.lower() == "true"
    return {
        "median_expected_correlation": float(np.nanmedian(expected))
        if np.isfinite(expected).any()
        else np.nan,
        "fraction_neurons_flagged": float(flags.mean()) if len(flags) else np.nan,
    }


def with_session(table: pd.DataFrame | dict, session: str, groups: dict[str, str]) -> pd.DataFrame:
    """`table` (or one row, a dict) with the session and its grouping columns first."""
    frame = pd.DataFrame([table]) if isinstance(table, dict) else table.copy()
    frame = frame.drop(columns=[c for c in ("session", *groups) if c in frame.columns])
    front = pd.DataFrame({"session": session, **groups}, index=frame.index)
    return pd.concat([front, frame], axis=1)


def stack(tables: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """Rows of every session, one table (with `columns` first; empty with them if none)."""
    tables = [t for t in tables if len(t)]
    if not tables:
        return pd.DataFrame(columns=columns)
    return pd.concat(tables, ignore_index=True)


def study_tables(sessions: dict[str, dict], groups: dict[str, dict[str, str]]) -> dict[str, pd.DataFrame]:
    """One table per output kind, every session's rows with its grouping columns.

    sessions: {session: its tables}: recording (dict: n_neurons, duration_s, frame_rate_hz,
    indicator), features_summary, features (per neuron), spike_times, coactivity (bins),
    null (null_threshold.json), ensemble_events,
    ensembles, expected_accuracy (bands), expected_accuracy_neurons; optional
    regression (stimulus sessions) and evaluation (ground-truth sessions' summary).
    Returns {name: table} for results/study/<name>.csv; `sessions` has one row per session.
    """
    front = ["session", *next(iter(groups.values()), {})]
    kinds: dict[str, list[pd.DataFrame]] = {
        k: []
        for k in (
            "sessions",
            "events",
            "neurons",
            "spikes",
            "coactivity",
            "ensembles",
            "ensemble_sizes",
            "response_types",
            "expected_accuracy",
            "evaluation",
        )
    }
    for session, t in sessions.items():
        group = groups[session]
        facts = t["recording"]
        n_neurons, duration_s = int(facts["n_neurons"]), float(facts["duration_s"])
        spikes = spike_summary(t["spike_times"], n_neurons, duration_s)
        coactivity = coactivity_summary(
            t["coactivity"],
            effective_thresholds(t["coactivity"], t["null"]),
            t["null"],
            t["ensemble_events"],
            duration_s,
        )
        ensembles = ensemble_summary(t["ensembles"], n_neurons)
        accuracy = expected_accuracy_summary(t["expected_accuracy_neurons"])
        events = t["features_summary"].iloc[0].to_dict()
        overview = {
            "indicator": facts.get("indicator", ""),
            "frame_rate_hz": float(facts["frame_rate_hz"]),
            "duration_s": duration_s,
            "n_neurons": n_neurons,
            "n_neurons_with_events": int(events["n_neurons_with_events"]),
            "mean_event_rate_per_min": float(events["mean_event_rate_per_min"]),
            "median_event_rate_per_min": float(np.median(t["features"]["event_rate_per_min"]))
            if len(t["features"])
            else np.nan,
            "mean_amplitude_dff": float(events["mean_mean_amplitude_dff"]),
            "mean_spike_rate_hz": spikes["mean_spike_rate_hz"],
            "significant_bin_fraction": coactivity["significant_bin_fraction"],
            "ensemble_event_rate_per_min": coactivity["ensemble_event_rate_per_min"],
            "n_ensembles": ensembles["n_ensembles"],
            "mean_ensemble_size": ensembles["mean_ensemble_size"],
            "fraction_neurons_in_ensembles": ensembles["fraction_neurons_in_ensembles"],
            "has_stimuli": "regression" in t,
            "fraction_stimulus_locked": float(
                t["regression"]["selected"].astype(str).str.lower().eq("true").mean()
            )
            if "regression" in t and len(t["regression"])
            else np.nan,
            **accuracy,
            "has_ground_truth": "evaluation" in t,
            "median_correlation_40ms": float(t["evaluation"]["median_correlation_40ms"].iloc[0])
            if "evaluation" in t
            else np.nan,
        }
        kinds["sessions"].append(with_session(overview, session, group))
        kinds["events"].append(with_session(t["features_summary"], session, group))
        kinds["neurons"].append(with_session(t["features"], session, group))
        kinds["spikes"].append(with_session(spikes, session, group))
        kinds["coactivity"].append(with_session(coactivity, session, group))
        kinds["ensembles"].append(with_session(ensembles, session, group))
        sizes = t["ensembles"][["ensemble", "n_members", "n_events", "p_value"]]
        kinds["ensemble_sizes"].append(with_session(sizes, session, group))
        kinds["expected_accuracy"].append(with_session(t["expected_accuracy"], session, group))
        if "regression" in t:
            kinds["response_types"].append(
                with_session(response_type_counts(t["regression"]), session, group)
            )
        if "evaluation" in t:
            kinds["evaluation"].append(with_session(t["evaluation"], session, group))
    empty_columns = {
        "response_types": ["response_type", "n_neurons", "fraction_of_neurons"],
        "evaluation": ["n_neurons_scored", "median_correlation_40ms", "median_f1"],
        "ensemble_sizes": ["ensemble", "n_members", "n_events", "p_value"],
    }
    return {name: stack(tables, front + empty_columns.get(name, [])) for name, tables in kinds.items()}


# Variants: settings compared side by side.


def row_correlations(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of `a` with the same row of `b` (neurons × frames),
    (rows,) float64; NaN where either row is constant (no activity to compare)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"arrays of different shapes {a.shape} and {b.shape}")
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    norm = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, (a * b).sum(axis=1) / np.where(norm > 0, norm, 1.0), np.nan)


def variant_neurons(
    default_spikes: pd.DataFrame, variant_spikes: pd.DataFrame, correlation: np.ndarray, n_neurons: int
) -> pd.DataFrame:
    """Per neuron of one session: spikes in the default run and in the variant, and the
    correlation of the two runs' deconvolved activity (activity.npy)."""
    count = lambda table: np.bincount(table["neuron"].to_numpy(dtype=int), minlength=n_neurons)[:n_neurons]  # noqa: E731
    return pd.DataFrame(
        {
            "neuron": np.arange(n_neurons),
            "n_spikes_default": count(default_spikes),
            "n_spikes_variant": count(variant_spikes),
            "activity_correlation": np.asarray(correlation, dtype=float),
        }
    )


def _first(table: pd.DataFrame | None, column: str) -> float:
    return float(table[column].iloc[0]) if table is not None and len(table) else np.nan


def variant_summary(
    runs: dict[str, dict], correlations: dict[str, np.ndarray], n_neurons: int, duration_s: float
) -> pd.DataFrame:
    """One row per run of a session ("default" and each variant): spike, event and ensemble
    counts, and (variants) the median and 10th percentile over neurons of the correlation of
    their activity with the default run's.

    With ground truth ("evaluation": the run's evaluation/summary.csv), the run's median
    correlation with the true spikes (40 ms bins) and median F1 of spike times.

    runs: {run: {"spike_times", "features_summary", "ensemble_events", "ensembles"[, "evaluation"]}};
    correlations: {variant: per-neuron correlation with the default run}.
    """
    rows = []
    for run, t in runs.items():
        spikes = spike_summary(t["spike_times"], n_neurons, duration_s)
        correlation = np.asarray(correlations.get(run, []), dtype=float)
        finite = correlation[np.isfinite(correlation)]
        rows.append(
            {
                "variant": run,
                "n_spikes": spikes["n_spikes"],
                "mean_spike_rate_hz": spikes["mean_spike_rate_hz"],
                "n_events": int(t["features_summary"]["n_events"].iloc[0]),
                "mean_event_rate_per_min": float(t["features_summary"]["mean_event_rate_per_min"].iloc[0]),
                "n_ensemble_events": int(len(t["ensemble_events"])),
                "n_ensembles": int(len(t["ensembles"])),
                "median_activity_correlation": float(np.median(finite)) if len(finite) else np.nan,
                "p10_activity_correlation": float(np.percentile(finite, 10)) if len(finite) else np.nan,
                "n_neurons_compared": int(len(finite)),
                "median_correlation_40ms": _first(t.get("evaluation"), "median_correlation_40ms"),
                "median_f1": _first(t.get("evaluation"), "median_f1"),
            }
        )
    return pd.DataFrame(rows)


def block_correlations(a: np.ndarray, b: np.ndarray, block_rows: int = 256) -> np.ndarray:
    """`row_correlations` over blocks of rows (memory: two blocks in float64; `a`, `b` may be
    memory-mapped .npy arrays). Arrays of different shapes (a variant that keeps other
    neurons, e.g. input.suite2p_cells_only) have no neuron-by-neuron comparison: all NaN."""
    if a.shape != b.shape:
        return np.full(a.shape[0], np.nan)
    out = np.empty(a.shape[0])
    for start in range(0, a.shape[0], block_rows):
        out[start : start + block_rows] = row_correlations(
            a[start : start + block_rows], b[start : start + block_rows]
        )
    return out


def variant_tables(
    runs: dict[str, dict], correlations: dict[str, dict], groups: dict[str, dict[str, str]]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The variants' comparison with the default run: (variants, variant_neurons).

    runs: {session: {"default": the session's tables (with "recording"), and each variant:
    {"spike_times", "features_summary", "ensemble_events", "ensembles"[, "evaluation"]}}};
    correlations: {session: {variant: per-neuron correlation of its activity with the default's}}.
    variants: one row per session and run; variant_neurons: one row per session, variant and neuron.
    """
    summaries, neurons = [], []
    for session, session_runs in runs.items():
        group, facts = groups[session], session_runs["default"]["recording"]
        n_neurons, duration_s = int(facts["n_neurons"]), float(facts["duration_s"])
        table = variant_summary(session_runs, correlations[session], n_neurons, duration_s)
        summaries.append(with_session(table, session, group))
        for variant, correlation in correlations[session].items():
            spikes = (session_runs["default"]["spike_times"], session_runs[variant]["spike_times"])
            rows = variant_neurons(*spikes, correlation, n_neurons)
            rows.insert(0, "variant", variant)
            neurons.append(with_session(rows, session, group))
    front = ["session", *next(iter(groups.values()), {}), "variant"]
    return stack(summaries, front), stack(neurons, front)
