"""Deconvolution settings from the indicator's kinetics and the frame rate: the default rule.

The model's time constants (the indicator's, at least MIN_DECAY_FRAMES frames at the rate each
neuron is deconvolved at), the timing correction (LAG_FRACTION of the lag that the kinetics
predict, `kinetic_lag_s`) and the smoothing of the activity (RISE_SMOOTHING_FRACTION of the
indicator's time to peak); docs/accuracy.md says how each constant was chosen."""

from __future__ import annotations

import numpy as np

from calcium.signal.precision import REPRODUCIBILITY_TARGET


def ar_to_time_constants(g1: float, g2: float, frame_rate_hz: float) -> tuple[float, float]:
    """(tau_decay_s, tau_rise_s) of an AR(1) (g2 = 0) or AR(2) kernel; tau_rise_s = 0 for AR(1).

    The roots of z² − g1·z − g2 are the kernel's per-frame decay factors, each turned into a
    time constant by OASIS's `ar1_to_tau` (what its `ar2_to_tau` does for both at once). A
    root that is complex or outside (0, 1) is no decaying exponential: its constant is NaN.
    """
    from oasis.functions import ar1_to_tau

    def tau(root: float) -> float:
        return float(ar1_to_tau(root, frame_rate_hz)) if 0 < root < 1 else float("nan")

    if g2 == 0:
        return tau(g1), 0.0
    disc = g1 * g1 + 4 * g2
    if disc < 0:
        return float("nan"), float("nan")
    return tau((g1 + np.sqrt(disc)) / 2), tau((g1 - np.sqrt(disc)) / 2)


def _kernel_integral(t_s: np.ndarray, tau_decay_s: float, tau_rise_s: float) -> np.ndarray:
    """∫_0^t (exp(-u/τd) − exp(-u/τr)) du for t >= 0 (0 before the spike), in seconds."""
    t_s = np.maximum(t_s, 0.0)
    decay = tau_decay_s * -np.expm1(-t_s / tau_decay_s)
    rise = tau_rise_s * -np.expm1(-t_s / tau_rise_s) if tau_rise_s > 0 else 0.0
    return decay - rise


def ar_coefficients(
    tau_decay_s: float, tau_rise_s: float | None, frame_rate_hz: float, ar_order: int = 1
) -> tuple[float, float]:
    """(g1, g2) of the AR(p) model with these time constants: per-frame decay factors d, r.

    AR(1): (d, 0); AR(2): (d + r, −d·r), d = exp(−1/(τd·fs)), r = exp(−1/(τr·fs)).
    """
    d = float(np.exp(-1.0 / (tau_decay_s * frame_rate_hz)))
    if ar_order == 1 or not tau_rise_s:
        return d, 0.0
    r = float(np.exp(-1.0 / (tau_rise_s * frame_rate_hz)))
    return d + r, -d * r


def kinetic_lag_s(
    tau_decay_s: float,
    tau_rise_s: float,
    frame_rate_hz: float,
    ar_order: int = 1,
    model_tau_decay_s: float | None = None,
    model_tau_rise_s: float | None = None,
    n_phases: int = 64,
) -> float:
    """How late deconvolved spikes come after the true spike, from kinetics and frame rate (s).

    Model: one spike at a uniformly random time within a frame's exposure; the
    indicator responds with exp(−t/τd) − exp(−t/τr); each frame averages that
    response over its exposure (frame k centred at k / fs); the AR(p) model of the
    deconvolution (time constants model_tau_*, default the indicator's) is inverted
    exactly (s_k = c_k − g1·c_{k−1} − g2·c_{k−2}, negative values dropped, as OASIS
    allows none), and each frame's s is spread over its exposure. The lag is the
    median time of that s minus the spike time, averaged over the spike's position
    in the frame. It grows with the frame length (a spike is found in the frame that
    first shows it, or the next) and, for AR(1), with the rise (the unmodelled rise
    is deconvolved into s that trails the spike). E.g. GCaMP6s (1.25 s, 50 ms)
    AR(1): 111 ms at 7.5 Hz, 44 ms at 60 Hz; jGCaMP8m (0.2 s, 5 ms): 63 ms at 7.5 Hz,
    8 ms at 122 Hz.
    Returns the lag in seconds (>= 0).
    """
    fs = float(frame_rate_hz)
    model_decay = float(model_tau_decay_s or tau_decay_s)
    model_rise = float(model_tau_rise_s if model_tau_rise_s is not None else tau_rise_s)
    half = 0.5 / fs
    n_frames = int(np.ceil(3 * max(tau_decay_s, model_decay) * fs)) + 3
    phase = (np.arange(n_phases) + 0.5) / n_phases
    spike_s = -half + phase / fs  # spike times within frame 0's exposure
    centres = np.arange(n_frames) / fs
    start = centres[None, :] - half - spike_s[:, None]
    calcium = (
        _kernel_integral(start + 1 / fs, tau_decay_s, tau_rise_s)
        - _kernel_integral(start, tau_decay_s, tau_rise_s)
    ) * fs
    g1, g2 = ar_coefficients(model_decay, model_rise, fs, ar_order)
    padded = np.pad(calcium, ((0, 0), (2, 0)))
    s = np.maximum(padded[:, 2:] - g1 * padded[:, 1:-1] - g2 * padded[:, :-2], 0.0)
    cumulative = np.cumsum(s, axis=1) / s.sum(axis=1, keepdims=True)
    frame = np.argmax(cumulative >= 0.5, axis=1)
    before = np.where(frame > 0, cumulative[np.arange(n_phases), frame - 1], 0.0)
    within = (0.5 - before) / (cumulative[np.arange(n_phases), frame] - before)
    median_s = centres[frame] - half + within / fs
    return float(max(0.0, np.mean(median_s - spike_s)))


AUTO = "auto"


# The linear-inverse model of `kinetic_lag_s` places more of a spike's deconvolved mass
# in the following frame than OASIS's sparse (L1) solution does; on the ground truth the
# lag that maximises the correlation is 0.7 of the model's (chosen leaving each paper's
# sets out, in all 13 folds: see docs/accuracy.md). Used by `default_settings`.
LAG_FRACTION = 0.7


# The model's decay is at least this many frames (chosen leaving each paper out: 8 in 11
# of 13 folds, 5 in the other 2; see `default_settings`).
MIN_DECAY_FRAMES = 8.0


# Per neuron, the model's decay may be lengthened to OASIS's estimate from the neuron's own
# trace, up to this many times the indicator's decay (`calcium.signal.decay_estimate.longer_decay_s`;
# chosen leaving each paper out from 2, 3, 4 and 5: 3 in all 13 folds, docs/accuracy.md).
MAX_DECAY_FACTOR = 3.0


# Timing precision of a deconvolved spike: besides the frame (SD 1/(sqrt(12) fs)), the
# indicator's rise blurs where in time a spike is placed; activity is smoothed by a
# Gaussian of SD hypot(1/(sqrt(12) fs), RISE_SMOOTHING_FRACTION x time to peak). 0.1 was
# chosen on the 32 ground-truth sets leaving each paper's sets out, in 12 of 13 folds
# (docs/accuracy.md, "Spike inference on real ground truth"): e.g. 17 ms for GCaMP6s (time to peak
# 0.17 s), 2 ms for jGCaMP8f, on top of the frame's own SD.
RISE_SMOOTHING_FRACTION = 0.1


def time_to_peak_s(tau_decay_s: float, tau_rise_s: float) -> float:
    """Time to peak (s) of exp(-t/τd) − exp(-t/τr): τd·τr/(τd − τr)·ln(τd/τr); 0 without a rise."""
    if not tau_rise_s or tau_rise_s <= 0 or tau_rise_s >= tau_decay_s:
        return 0.0
    return float(tau_decay_s * tau_rise_s / (tau_decay_s - tau_rise_s) * np.log(tau_decay_s / tau_rise_s))


def default_settings(indicator: str | None, frame_rate_hz: float, overrides: dict | None = None) -> dict:
    """Deconvolution settings for one session, derived from its indicator and frame rate.

    The rule (each value applies where `overrides` leaves it "auto" or None):
    - ar_order: 1. OASIS's AR(1) model with the timing correction below places
      spikes as well as AR(2) does on the ground truth and needs no rise time.
    - tau_decay_s: the indicator's in vivo decay (calcium.signal.indicators), but at least
      min_decay_frames (8) frames: when a transient decays within a few frames, the
      frame-to-frame decay is not that of the fast component (the spike's own frame
      is partly exposed; slower components of the decay dominate), and a slower
      model keeps each transient as one event instead of splitting it.
    - tau_rise_s: the indicator's rise (used by AR(2) only).
    - lag_s: LAG_FRACTION (0.7) × `kinetic_lag_s` for the indicator's kinetics, this
      frame rate and the model's decay: how late the deconvolved spikes come;
      activity and spike times are moved this much earlier.
    - smoothing_s: hypot(1 / (sqrt(12) · fs), RISE_SMOOTHING_FRACTION · time to peak):
      the SD of a spike's unknown position within its frame and the blur of the
      indicator's rise.
    - Per neuron (`calcium.signal.precision`): where a neuron's spikes cannot be placed to
      within the smoothing above (its fitted calcium with fresh noise of its own noise
      level, deconvolved again, gives activity correlating below REPRODUCIBILITY_TARGET,
      0.85), the smallest extra smoothing (10-80 ms) that reaches it is added in quadrature.
    - Per neuron (`calcium.signal.decay_estimate.longer_decay_s`): where the decay spans at
      least min_decay_frames frames, OASIS's estimate from the neuron's own trace replaces
      it where longer, up to MAX_DECAY_FACTOR (3) times the indicator's decay
      (timing's max_decay_s; None where the config gives tau_decay_s).
    - Per neuron (`neuron_timing`): a neuron whose trace is band-limited
      (`effective_frame_rate`) is deconvolved at its effective rate, its smoothing and lag
      (where auto) follow that rate, and its activity reads each amplitude over that rate's
      frame (`calcium.signal.scan_rate.spread_over_exposure`).
    - estimate_time_constants: true (in overrides) estimates the decay per neuron
      instead (OASIS's autocovariance estimate; tau_decay_s and tau_rise_s None).
    indicator: session indicator (see calcium.signal.indicators), or None when overrides
        give tau_decay_s (and tau_rise_s for AR(2)).
    frame_rate_hz: imaging rate in Hz.
    overrides: the config's `deconvolution` section (keys ar_order, tau_decay_s,
        tau_rise_s, min_decay_frames, estimate_time_constants, smoothing_s, lag_s,
        penalty, s_min, optimize_g, seed; others are ignored; lag_fraction for
        studies of the rule).
    Returns a dict with ar_order (int), tau_decay_s, tau_rise_s (float or None),
    smoothing_s, lag_s (s), penalty, s_min, optimize_g, seed: the keyword arguments of
    `deconvolve_traces` plus smoothing_s and lag_s for `smooth_activity`, and `timing`
    (what `neuron_timing` needs: the indicator's kinetics, the model's decay, the
    lag fraction and which of smoothing/lag the config fixed).
    """
    from calcium.signal.indicators import indicator_kinetics

    given = dict(overrides or {})

    def pick(key, default):
        value = given.get(key, AUTO)
        return default if value is None or value == AUTO else value

    fs = float(frame_rate_hz)
    if fs <= 0:
        raise ValueError("frame_rate_hz must be > 0")
    try:
        kinetics = indicator_kinetics(indicator) if indicator else None
    except KeyError:
        if given.get("tau_decay_s") in (None, AUTO):
            raise
        kinetics = None  # an indicator the table does not know, with its decay given
    tau_decay = pick("tau_decay_s", kinetics.tau_decay_s if kinetics else None)
    tau_rise = pick("tau_rise_s", kinetics.tau_rise_s if kinetics else None)
    if tau_decay is None:
        raise ValueError(f"no decay time constant for indicator {indicator!r}: set deconvolution.tau_decay_s")
    ar_order = int(pick("ar_order", 1))
    if ar_order == 2 and not tau_rise:
        raise ValueError("ar_order 2 needs a rise time: set deconvolution.tau_rise_s")
    tau_decay, tau_rise = float(tau_decay), float(tau_rise or 0.0)
    min_frames = float(pick("min_decay_frames", MIN_DECAY_FRAMES))
    decay_given = given.get("tau_decay_s") not in (None, AUTO)
    timing = {
        "tau_decay_s": tau_decay,
        "tau_rise_s": tau_rise,
        "ar_order": ar_order,
        "min_decay_frames": None if decay_given else min_frames,
        "lag_fraction": float(given.get("lag_fraction", LAG_FRACTION)),
        "rise_smoothing_s": RISE_SMOOTHING_FRACTION * time_to_peak_s(tau_decay, tau_rise),
        "smoothing_given": given.get("smoothing_s", AUTO) not in (None, AUTO),
        "lag_given": given.get("lag_s", AUTO) not in (None, AUTO),
    }
    # per neuron, more smoothing where its spikes cannot be placed (calcium.signal.precision)
    timing["reproducibility_target"] = None if timing["smoothing_given"] else REPRODUCIBILITY_TARGET
    # per neuron, a longer decay where its trace shows one (calcium.signal.decay_estimate.longer_decay_s)
    longer = not decay_given and ar_order == 1 and not given.get("estimate_time_constants")
    timing["max_decay_s"] = MAX_DECAY_FACTOR * tau_decay if longer else None
    model_decay = tau_decay if decay_given else max(tau_decay, min_frames / fs)
    smoothing, lag = neuron_timing(timing, np.array([fs]))
    settings = {
        "ar_order": ar_order,
        "tau_decay_s": model_decay,
        "tau_rise_s": tau_rise if ar_order == 2 else None,
        "smoothing_s": float(pick("smoothing_s", smoothing[0])),
        "lag_s": float(pick("lag_s", lag[0])),
        "penalty": given.get("penalty", "l1"),
        "s_min": float(given.get("s_min", 0.0)),
        "optimize_g": int(given.get("optimize_g", 0)),
        "seed": int(given.get("seed", 0)),
        "timing": timing,
    }
    if given.get("estimate_time_constants"):
        settings["tau_decay_s"] = None
        settings["tau_rise_s"] = None
    return settings


def neuron_timing(
    timing: dict,
    rates_hz: np.ndarray,
    smoothing_s: float = 0.0,
    lag_s: float = 0.0,
    model_decay_s: np.ndarray | None = None,
):
    """(smoothing_s, lag_s) per neuron, each deconvolved at rates_hz (Hz, one per neuron).

    timing: `default_settings(...)["timing"]`. Where the config fixed smoothing_s or lag_s
    (timing's smoothing_given / lag_given) the given values are used for every neuron;
    else smoothing = hypot(1/(sqrt(12)·rate), rise_smoothing_s) and lag = lag_fraction ×
    `kinetic_lag_s` at the neuron's rate with the model's decay there (the indicator's,
    at least min_decay_frames frames; or model_decay_s, one per neuron, where a neuron's
    decay was taken from its trace, `calcium.signal.decay_estimate.longer_decay_s`).
    Returns two float64 arrays of the rates' shape.
    """
    rates = np.atleast_1d(np.asarray(rates_hz, dtype=float))
    frames = timing["min_decay_frames"]
    default = timing["tau_decay_s"] if frames is None else np.maximum(timing["tau_decay_s"], frames / rates)
    models = default if model_decay_s is None else np.asarray(model_decay_s, dtype=float)
    models = np.broadcast_to(np.where(np.isfinite(models), models, default), rates.shape)
    unique, index = np.unique(np.stack([rates.ravel(), models.ravel()], axis=1), axis=0, return_inverse=True)
    index = index.ravel()
    smooth = np.hypot(1.0 / (np.sqrt(12.0) * unique[:, 0]), float(timing["rise_smoothing_s"]))
    lags = np.empty(len(unique))
    for i, (rate, model) in enumerate(unique):
        lags[i] = timing["lag_fraction"] * kinetic_lag_s(
            timing["tau_decay_s"], timing["tau_rise_s"], rate, timing["ar_order"], model_tau_decay_s=model
        )
    smooth, lags = smooth[index].reshape(rates.shape), lags[index].reshape(rates.shape)
    if timing["smoothing_given"]:
        smooth = np.full(rates.shape, float(smoothing_s))
    if timing["lag_given"]:
        lags = np.full(rates.shape, float(lag_s))
    return smooth, lags
