"""Population: calcium events, per-neuron features, coactivity against its circular-shift null,
and ensembles.

- `events` (k-SD events with FWHM), `features` (per neuron and per session)
- `coactivity` (binned coactivity and its null), `ensembles` (the seed's Jaccard clustering),
  `assemblies` (ICA assemblies and the refined default), `ordering` (raster row orders)
- `steps`: the two population rules (coactivity, ensembles) as library calls
"""

from calcium import lazy_api

API = {
    "detect_events": "events",
    "event_features": "features",
    "session_summary": "features",
    "null_exceedance": "coactivity",
    "Recording": "steps",
    "Binning": "steps",
    "NullSettings": "steps",
    "EnsembleSettings": "steps",
    "coactivity_analysis": "steps",
    "ensemble_analysis": "steps",
    "neuron_features": "steps",
    "raster_orders": "ordering",
    "trial_layout": "trial_coactivity",
    "trial_shift_null": "trial_coactivity",
}
__getattr__, __dir__ = lazy_api(__name__, API)
