"""Config values that pass the schema but cannot work, and per-session settings resolved from it.

`check_config` refuses combinations that mean nothing whatever the data (a
window whose end is before its start); `check_session_settings` refuses values
that mean nothing for one session's frame rate and size. `deconvolution_settings`
and `stimulus_kernel` fill in what the config leaves to the session's indicator,
looking the indicator up only where a value is missing. Errors are
:class:`calcium.errors.ConfigError` naming the config key and the fix.
"""

from __future__ import annotations

import math

from calcium.errors import ConfigError
from calcium.signal.indicators import INDICATOR_KINETICS, Kinetics, indicator_kinetics

# Bins (seconds) of events or frames that must hold at least one frame: shorter ones mean nothing
# finer than the frames and only multiply the memory (coactivity.bin_s 1e-7 s asked for 8.9 GiB).
BIN_KEYS = (("coactivity", "bin_s"), ("stimulus", "heatmap_bin_s"))
# evaluation.bin_s spreads each frame over its exposure, so it may be finer than a frame, down to the
# spikefinder benchmark's 40 ms (Berens et al. 2018); finer than both is refused (1e-9 s: 894 GiB).
SPIKEFINDER_BIN_S = 0.04

# A window must hold at least this many frames for a percentile over it to differ from the trace.
MIN_WINDOW_FRAMES = 3


def _ordered(config: dict, section: str, key: str) -> None:
    window = config[section][key]
    if window is not None and not window[0] < window[1]:
        raise ConfigError(
            f"config {section}.{key}: {window} must be [start, end] with start < end (seconds)."
        )


def _non_finite(value, where: str):
    """Key paths of NaN or infinite numbers in a config value (YAML's .nan and .inf pass a JSON
    schema's minimum and maximum: every comparison with NaN is false)."""
    if isinstance(value, float) and not math.isfinite(value):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _non_finite(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _non_finite(item, f"{where}[{i}]")


def check_config(config: dict) -> None:
    """Refuse config values that are meaningless whatever the session (NaN or infinite numbers,
    windows out of order)."""
    for where, value in _non_finite(config, ""):
        raise ConfigError(f"config {where}: {value} is not a finite number; give a number (see the schema).")
    _ordered(config, "stimulus", "response_window_s")
    _ordered(config, "stimulus", "baseline_window_s")
    _ordered(config, "stimulus", "trial_window_s")
    _ordered(config, "figures", "time_window_s")


def kinetics_for(indicator: str, needed_by: list[str]) -> Kinetics:
    """The indicator's kinetics, or a ConfigError naming the config keys that would replace them."""
    try:
        return indicator_kinetics(indicator)
    except KeyError:
        raise ConfigError(
            f"unknown indicator {indicator!r} (known: {', '.join(INDICATOR_KINETICS)}); give its kinetics "
            f"in config.yaml: {', '.join(needed_by)}."
        ) from None


# The spike_times keys each thresholding method reads (calcium.signal.spikes.spike_thresholds).
SPIKE_TIME_KEYS = {
    "noise": ("k_noise", "false_positive_rate_hz"),
    "noise_pairs": ("k_noise", "false_positive_rate_hz"),
    "absolute": ("absolute",),
    "fraction_of_max": ("fraction_of_max",),
    "percentile": ("percentile",),
    "k_sigma": ("k_sigma",),
    "peaks": ("min_height", "min_distance_s"),
}


def spike_time_settings(section: dict) -> dict:
    """The config's spike_times section cut to the method and the keys it reads, so that
    changing another method's threshold re-runs nothing."""
    method = section["method"]
    return {key: section[key] for key in ("method", *SPIKE_TIME_KEYS[method])}


def deconvolution_settings(section: dict, indicator: str, frame_rate_hz: float) -> dict:
    """OASIS settings for one session: `calcium.signal.deconvolution_settings.default_settings` applied to the
    `deconvolution` config section, with problems reported as ConfigError naming the keys.

    The indicator is looked up only for what the config leaves to it (an indicator the
    table does not know works once deconvolution.tau_decay_s is given).
    Returns the keyword arguments of `calcium.signal.deconvolve.deconvolve_traces` plus
    smoothing_s and lag_s, keys sorted.
    """
    from calcium.signal.deconvolution_settings import default_settings

    overrides = {key: value for key, value in section.items() if key != "input"}
    try:
        settings = default_settings(indicator, frame_rate_hz, overrides)
    except KeyError:
        kinetics_for(indicator, ["deconvolution.tau_decay_s"])
        raise
    except ValueError as error:
        raise ConfigError(f"config deconvolution: {error}") from None
    if settings["ar_order"] == 2 and settings["s_min"] > 0:
        raise ConfigError(
            "config deconvolution.s_min is supported with AR(1) only (re-solving AR(2) with OASIS's "
            "lambda and s_min destroys s); set deconvolution.ar_order: 1 or deconvolution.s_min: 0."
        )
    return dict(sorted(settings.items()))


def event_settings(events: dict, deconvolution: dict, indicator: str, frame_rate_hz: float) -> dict:
    """Calcium-event settings for one session: the `events` config section (without the
    keys other rules read: input, burst_iei_s) with min_fwhm_s resolved.

    min_fwhm_s null becomes a third of the FWHM of one spike's transient at this frame
    rate (`calcium.signal.kernels.plausible_min_fwhm_s`), from deconvolution.tau_decay_s /
    tau_rise_s where set, else the indicator's (looked up only then).
    """
    settings = {key: value for key, value in events.items() if key not in ("input", "burst_iei_s")}
    if settings["min_fwhm_s"] is None:
        from calcium.signal.kernels import plausible_min_fwhm_s

        decay, rise = deconvolution["tau_decay_s"], deconvolution["tau_rise_s"]
        needed = [] if decay is not None and rise is not None else ["events.min_fwhm_s"]
        kinetics = kinetics_for(indicator, needed) if needed else None
        decay = decay if decay is not None else kinetics.tau_decay_s
        rise = rise if rise is not None else kinetics.tau_rise_s
        settings["min_fwhm_s"] = plausible_min_fwhm_s(frame_rate_hz, decay, rise)
    return dict(sorted(settings.items()))


def stimulus_kernel(section: dict, indicator: str) -> dict:
    """Response-kernel settings for the stimulus regressors: shape and time constants.

    Time constants left null come from the indicator (looked up only then).
    """
    needed = [f"stimulus.{key}" for key in ("tau_decay_s", "tau_rise_s") if section[key] is None]
    if section["kernel"] == "exponential":
        needed = [key for key in needed if key.endswith("decay_s")]
    kinetics = kinetics_for(indicator, needed) if needed else None
    return {
        "shape": section["kernel"],
        "tau_decay_s": section["tau_decay_s"] or kinetics.tau_decay_s,
        "tau_rise_s": section["tau_rise_s"] or (kinetics.tau_rise_s if kinetics else 0.0),
    }


def check_session_settings(
    config: dict,
    frame_rate_hz: float,
    n_neurons: int,
    n_frames: int,
    input_kind: str = "raw",
) -> None:
    """Refuse config values that mean nothing for a session of this frame rate and size."""
    duration_s = n_frames / frame_rate_hz
    window_s = config["dff"]["window_s"]
    if input_kind == "raw" and window_s is not None and window_s * frame_rate_hz < MIN_WINDOW_FRAMES:
        raise ConfigError(
            f"config dff.window_s: {window_s} s spans {window_s * frame_rate_hz:.3g} frame(s) at "
            f"{frame_rate_hz:g} Hz; a sliding F0 needs a window of at least {MIN_WINDOW_FRAMES} frames "
            "(tens of seconds is typical), or null for one F0 over the whole recording."
        )
    detrend = config["detrend"]
    if detrend["method"] != "none" and detrend["slow_drift_s"] * frame_rate_hz < MIN_WINDOW_FRAMES:
        raise ConfigError(
            f"config detrend.slow_drift_s: {detrend['slow_drift_s']} s spans fewer than {MIN_WINDOW_FRAMES} "
            f"frames at {frame_rate_hz:g} Hz; drifts are slower than transients (20 s is typical)."
        )
    if detrend["method"] == "highpass" and 1.0 / detrend["slow_drift_s"] >= frame_rate_hz / 2:
        raise ConfigError(
            f"config detrend.slow_drift_s: {detrend['slow_drift_s']} s puts the high-pass cut-off at or "
            f"above the Nyquist frequency of a {frame_rate_hz:g} Hz recording; use a longer value."
        )
    frame_s = 1.0 / frame_rate_hz
    for section, key in BIN_KEYS:
        value = config[section][key]
        if value < frame_s * (1 - 1e-9):
            raise ConfigError(
                f"config {section}.{key}: {value:g} s is shorter than one frame ({frame_s:.4g} s at "
                f"{frame_rate_hz:g} Hz); a bin holds at least one frame, so use {frame_s:.4g} s or more."
            )
    spans = [
        ("stimulus", "response_window_s", config["stimulus"]["response_window_s"], 1),
        ("stimulus", "baseline_window_s", config["stimulus"]["baseline_window_s"], 1),
        ("stimulus", "trial_window_s", config["stimulus"]["trial_window_s"], 2),
        ("figures", "time_window_s", config["figures"]["time_window_s"], 2),
        ("evaluation", "example_s", [0.0, config["evaluation"]["example_s"]], 2),
    ]
    for section, key, window, frames in spans:
        if window is not None and window[1] - window[0] < frames * frame_s * (1 - 1e-9):
            length = window[1] - window[0]
            raise ConfigError(
                f"config {section}.{key}: spans {length:.4g} s, less than {frames} frame(s) "
                f"({frames * frame_s:.4g} s at {frame_rate_hz:g} Hz), so it holds no data to average or "
                "draw; make it longer."
            )
    floor_s = min(frame_s, SPIKEFINDER_BIN_S)
    value = config["evaluation"]["bin_s"]
    if value < floor_s * (1 - 1e-9):
        raise ConfigError(
            f"config evaluation.bin_s: {value:g} s is shorter than one frame ({frame_s:.4g} s at "
            f"{frame_rate_hz:g} Hz) and than the spikefinder benchmark's {SPIKEFINDER_BIN_S:g} s; finer bins "
            f"resolve nothing more, so use {floor_s:.4g} s or more."
        )
    denoise = config["denoise"]
    if denoise["level"] is not None:
        from calcium.signal.denoise import max_denoise_level

        deepest = max_denoise_level(n_frames, denoise["wavelet"])
        if denoise["level"] > deepest:
            raise ConfigError(
                f"config denoise.level: {denoise['level']} is deeper than a recording of {n_frames} frames "
                f"allows with wavelet {denoise['wavelet']} (at most {deepest}); use {deepest} or less, or "
                "null for the maximum useful depth."
            )
    bin_s = config["coactivity"]["bin_s"]
    if bin_s > duration_s:
        raise ConfigError(
            f"config coactivity.bin_s: {bin_s} s is longer than the recording ({duration_s:.4g} s); "
            "coactivity needs many bins (0.5 s is typical)."
        )
    coactivity = config["coactivity"]
    window_s = (2 * coactivity["jitter_bins"] + 1) * coactivity["bin_s"]
    if coactivity["jitter_bins"] and window_s > duration_s:
        raise ConfigError(
            f"config coactivity.jitter_bins: {coactivity['jitter_bins']} makes a window of {window_s:.4g} s, "
            f"longer than the recording ({duration_s:.4g} s), in which every bin would count the same "
            "neurons; use 0 or 1."
        )
    figures = config["figures"]
    examples = figures["example_neurons"] or []
    outside = [n for n in examples if n >= n_neurons]
    if outside:
        raise ConfigError(
            f"config figures.example_neurons: {outside} are not neuron ids of this session, which has "
            f"{n_neurons} neuron(s) (ids 0..{n_neurons - 1}); use null for neurons chosen by a rule "
            "(most active, one per ensemble and response type)."
        )
    window = figures["time_window_s"]
    if window is not None and window[0] >= duration_s:
        raise ConfigError(
            f"config figures.time_window_s: {window} starts after the recording ends ({duration_s:.4g} s "
            "from its first frame)."
        )
