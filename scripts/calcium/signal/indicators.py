"""Kinetics of common calcium indicators in vivo, used to derive the deconvolution defaults.

tau_decay_s and tau_rise_s are the time constants in seconds of the somatic
fluorescence response to one action potential, kernel
exp(-t/tau_decay) - exp(-t/tau_rise), in mouse cortex in vivo. A half-decay time
t½ converts as tau = t½ / ln 2; a time to peak t_peak fixes tau_rise through
t_peak = tau_d·tau_r / (tau_d − tau_r) · ln(tau_d / tau_r). config.yaml can
override both, and OASIS can estimate the decay from the data instead
(deconvolution.estimate_time_constants).

Sources, and what the ground-truth recordings in ../shared/data/groundtruth say
(CASCADE tuning sets, Rupprecht et al. 2021: a least-squares fit of the kernel to
each recording's ΔF/F given its true spikes, median and interquartile range of
tau_decay over recordings; spike-triggered averages of isolated spikes for the
time to peak):
- GCaMP6s: decay 1.25 s, the Suite2p documentation's recommendation
  (1.25-1.5 s); tuning data 0.75 s (DS13, Allen, 0.55-0.94), 1.2 s (DS14, Chen et
  al. 2013, 1.0-1.4), 1.4 s (spikefinder 5). Rise 50 ms: time to peak ~180 ms in
  vivo (Chen et al. 2013, Nature 499:295; DS14 spike-triggered average: 185 ms).
- GCaMP6m: decay 1.0 s (Suite2p docs); rise 20 ms (time to peak ~80 ms, Chen et
  al. 2013). No tuning data.
- GCaMP6f: decay 0.4 s, CaImAn's default and the Allen Institute's in vivo event
  lookup (0.32-0.50 s for GCaMP6f lines); tuning data 0.28 s (DS10, 0.28-0.48).
  (Suite2p's 0.7 s is for slower preparations.) Rise 12 ms: time to peak ~45 ms
  (Chen et al. 2013; DS10 spike-triggered average: 45 ms).
- jGCaMP7f: decay 0.4 s: tuning data 0.40 s (DS29, 0.28-0.55); in cultured
  neurons t½ = 182 ms (Janelia jGCaMP8 comparison table, tau 0.26 s) — in vivo
  responses decay more slowly. Rise 20 ms (DS29 time to peak ~65 ms).
- jGCaMP7s: no sourced single-spike value; taken as GCaMP6s-like (1.0 s, 50 ms).
- jGCaMP8f: decay 0.25 s: tuning data 0.28 s (DS30, 0.20-0.40); in culture
  t½ = 67 ms (Zhang et al. 2023, Nature 615:884, and Janelia's table), i.e. 0.1 s —
  in vivo, jGCaMP8f slows with use (Broussard et al. 2025). Rise 5 ms (half-rise
  ~2-7 ms, time to peak ~25 ms in culture; < 1 frame at 122 Hz in DS30).
- jGCaMP8m: decay 0.2 s: tuning data 0.20 s (DS31, 0.20-0.28); culture t½ = 118 ms
  (tau 0.17 s, Zhang et al. 2023). The 0.4 s used before (Allen Institute lookup)
  was twice too slow for these recordings. Rise 5 ms.
- jGCaMP8s: decay 0.5 s: tuning data 0.55 s (DS32, 0.34-0.88); culture
  t½ = 307 ms (tau 0.44 s, Zhang et al. 2023). The 0.7 s used before was too slow.
  Rise 10 ms.
- GCaMP3: Akerboom et al. 2012, t½ 0.52 s after a visual stimulus; rise 0.1 s.
- OGB-1: decay 0.75 s: Grewe et al. 2010 (slow component 0.8 s); tuning data 0.75 s
  (DS02, 0.55-1.0). Rise 5 ms (a synthetic dye binds calcium within ms).

- GCaMP5k: Akerboom et al. 2012 (J Neurosci 32:13819), Fig. 8I: t½ 0.57 s after a
  visual stimulus in mouse V1; fits of the kernel to the in vivo ground truth of that
  paper (spikefinder set 6; Tubiana et al., "Blind sparse deconvolution", bioRxiv
  156364, ground_truth_time_constants): τd 0.65 s, rise 49 ms.
- jRCaMP1a, jRGECO1a: Dana et al. 2016 (eLife 5:e12727) mouse V1 in vivo data, kernel
  fits by Tubiana et al. (spikefinder sets 9 and 10): τd 1.32 s / 0.68 s, rise 88 ms /
  <= 15 ms (at the 100 Hz limit).
- XCaMP-Gf: Inoue et al. 2019 (Cell 177:1346); the jGCaMP8 paper's spike-to-
  fluorescence model (Zhang et al. 2023, parameter fits) gives two decays, 99 ms
  (weight 0.2) and 313 ms (weight 1): 0.28 s as one exponential; rise 14 ms.
- Cal-520 (Tada et al. 2014) and R-CaMP1.07 (Ohkura et al. 2012; Bethge et al.
  2017): no published single-spike decay found; Cal-520 is taken as the other
  high-affinity dye (OGB-1), R-CaMP1.07 as the red GECIs (jRGECO1a). Their ground
  truth (CASCADE DS03/DS05, DS18/DS19) fits 0.6-1.6 s and 0.6-0.95 s, so these are
  within the spread of preparations, and were not fitted to it.

Families (used to pick reference recordings when a session's own indicator has
none, see `indicator_family`): slow GCaMP (GCaMP6s, GCaMP6m, jGCaMP7s, GCaMP3),
fast GCaMP (GCaMP6f, jGCaMP7f, XCaMP-Gf), jGCaMP8 (8f, 8m, 8s), synthetic dye
(OGB-1, Cal-520), red GECI (R-CaMP1.07, jRCaMP1a, jRGECO1a); GCaMP5k is a slow GCaMP.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kinetics:
    tau_decay_s: float
    tau_rise_s: float
    source: str
    family: str = ""


INDICATOR_KINETICS: dict[str, Kinetics] = {
    "GCaMP6s": Kinetics(
        1.25, 0.05, "Suite2p docs: tau 1.25-1.5 s; rise: t_peak ~180 ms (Chen 2013)", "slow GCaMP"
    ),
    "GCaMP6m": Kinetics(1.0, 0.02, "Suite2p docs: tau 1.0 s; rise: t_peak ~80 ms (Chen 2013)", "slow GCaMP"),
    "GCaMP6f": Kinetics(0.4, 0.012, "CaImAn default / Allen lookup 0.32-0.5 s; t_peak ~45 ms", "fast GCaMP"),
    "GCaMP7f": Kinetics(0.4, 0.02, "in vivo (CASCADE DS29) 0.40 s; culture t1/2 182 ms", "fast GCaMP"),
    "GCaMP7s": Kinetics(1.0, 0.05, "approximate (GCaMP6s-like); no sourced value", "slow GCaMP"),
    "GCaMP8f": Kinetics(0.25, 0.005, "in vivo (CASCADE DS30) 0.28 s; culture t1/2 67 ms", "jGCaMP8"),
    "GCaMP8m": Kinetics(0.2, 0.005, "in vivo (CASCADE DS31) 0.20 s; culture t1/2 118 ms", "jGCaMP8"),
    "GCaMP8s": Kinetics(0.5, 0.01, "in vivo (CASCADE DS32) 0.55 s; culture t1/2 307 ms", "jGCaMP8"),
    "GCaMP3": Kinetics(0.75, 0.1, "Akerboom et al. 2012: t1/2 0.52 s", "slow GCaMP"),
    "OGB-1": Kinetics(0.75, 0.005, "Grewe et al. 2010: slow component 0.8 s; DS02 0.75 s", "synthetic dye"),
    "Cal-520": Kinetics(
        0.75, 0.005, "no published 1-AP decay found: taken as OGB-1 (high-affinity dye)", "synthetic dye"
    ),
    "GCaMP5k": Kinetics(
        0.65, 0.05, "Akerboom 2012 t1/2 0.57 s; fits to its in vivo data 0.65 s", "slow GCaMP"
    ),
    "R-CaMP1.07": Kinetics(
        0.7, 0.05, "no published 1-AP decay found: taken as the red GECIs' (jRGECO1a)", "red GECI"
    ),
    "jRCaMP1a": Kinetics(1.3, 0.09, "fits to Dana 2016 in vivo data: tau 1.32 s, rise 88 ms", "red GECI"),
    "jRGECO1a": Kinetics(0.7, 0.015, "fits to Dana 2016 in vivo data: tau 0.68 s, rise <= 15 ms", "red GECI"),
    "XCaMP-Gf": Kinetics(
        0.28, 0.014, "Zhang 2023 model fit: 99 ms (0.2) + 313 ms (1); rise 14 ms", "fast GCaMP"
    ),
}


def _key(name: str) -> str:
    """Case-, 'j'-prefix- and punctuation-insensitive form ('jRGECO1a', 'r-camp1.07', 'OGB1')."""
    return "".join(ch for ch in name.strip().lower().removeprefix("j") if ch.isalnum())


def canonical_indicator(indicator: str) -> str:
    """The table's name of an indicator ('jGCaMP7f', 'gcamp7f' -> 'GCaMP7f'); KeyError if unknown."""
    wanted = _key(indicator)
    for name in INDICATOR_KINETICS:
        if _key(name) == wanted:
            return name
    known = ", ".join(INDICATOR_KINETICS)
    raise KeyError(
        f"unknown indicator {indicator!r}; known: {known}. Set deconvolution.tau_decay_s "
        "(and tau_rise_s) in config.yaml for another indicator."
    )


def indicator_kinetics(indicator: str) -> Kinetics:
    """Look up an indicator's kinetics; accepts 'jGCaMP7f' as 'GCaMP7f' and any case."""
    return INDICATOR_KINETICS[canonical_indicator(indicator)]


def indicator_family(indicator: str) -> str:
    """Family of an indicator with similar kinetics (see the module docstring); '' if unknown."""
    try:
        return indicator_kinetics(indicator).family
    except KeyError:
        return ""
