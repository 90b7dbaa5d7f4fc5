"""Kinetics of common calcium indicators, used as default time constants.

tau_decay_s and tau_rise_s are single-exponential time constants in seconds of
the fluorescence response to one action potential (kernel
exp(-t/tau_decay) - exp(-t/tau_rise)), for somatic imaging in mouse cortex
around room/body temperature. Where a paper reports the half-decay time t½,
tau = t½ / ln 2. These are starting points; config.yaml can override them, and
OASIS can estimate them from the data (deconvolution.estimate_time_constants).

Sources (t½ converted with tau = t½ / ln 2 where that is what a source gives):
- GCaMP6s/m/f decay: the Suite2p documentation's `tau` recommendation
  (1.25-1.5 s GCaMP6s, 1.0 s GCaMP6m, 0.7 s GCaMP6f); CaImAn's default decay
  time is 0.4 s (GCaMP6f). Rise: rough values from Chen et al. 2013 (Nature
  499:295), which resolved spikes about one rise time (50-75 ms, GCaMP6f) apart.
- jGCaMP7f: Janelia's jGCaMP8 comparison table, t½ 181.9 ms, half-rise 24.8 ms.
- jGCaMP7s: no sourced single-AP constant found; taken as GCaMP6s-like (≈1 s).
- jGCaMP8f: Janelia table, t½ 67.4 ms, half-rise 7.1 ms.
- jGCaMP8m/8s: Allen Institute ophys event-detection lookup (mouse cortex in
  vivo: 0.4 s / 0.7 s); Janelia's table gives faster values (0.17 s / 0.44 s).
- GCaMP3: Akerboom et al. 2012, t½ 0.52 s after a visual stimulus.
- OGB-1: Grewe et al. 2010 (double exponential, 0.06 s and 0.8 s components);
  the slow component is used.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kinetics:
    tau_decay_s: float
    tau_rise_s: float
    source: str


INDICATOR_KINETICS: dict[str, Kinetics] = {
    "GCaMP6s": Kinetics(1.25, 0.10, "Suite2p docs: tau 1.25-1.5 s; rise ~Chen et al. 2013"),
    "GCaMP6m": Kinetics(1.0, 0.08, "Suite2p docs: tau 1.0 s; rise ~Chen et al. 2013"),
    "GCaMP6f": Kinetics(0.7, 0.05, "Suite2p docs: tau 0.7 s; rise ~Chen et al. 2013"),
    "GCaMP7f": Kinetics(0.26, 0.036, "Janelia jGCaMP8 table: t1/2 181.9 ms"),
    "GCaMP7s": Kinetics(1.0, 0.10, "approximate (GCaMP6s-like); no sourced value"),
    "GCaMP8f": Kinetics(0.1, 0.01, "Janelia jGCaMP8 table: t1/2 67.4 ms"),
    "GCaMP8m": Kinetics(0.4, 0.01, "Allen Institute ophys lookup; Janelia t1/2 118 ms"),
    "GCaMP8s": Kinetics(0.7, 0.015, "Allen Institute ophys lookup; Janelia t1/2 307 ms"),
    "GCaMP3": Kinetics(0.75, 0.1, "Akerboom et al. 2012: t1/2 0.52 s"),
    "OGB-1": Kinetics(0.8, 0.01, "Grewe et al. 2010: slow component 0.8 s"),
}


def indicator_kinetics(indicator: str) -> Kinetics:
    """Look up an indicator's kinetics; accepts 'jGCaMP7f' as 'GCaMP7f' and any case."""
    wanted = indicator.strip().lower().removeprefix("j")
    for name, kinetics in INDICATOR_KINETICS.items():
        if name.lower() == wanted:
            return kinetics
    known = ", ".join(INDICATOR_KINETICS)
    raise KeyError(
        f"unknown indicator {indicator!r}; known: {known}. Set deconvolution.tau_decay_s "
        "(and tau_rise_s) in config.yaml for another indicator."
    )
