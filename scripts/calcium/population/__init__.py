"""Population: calcium events, per-neuron features, coactivity against its circular-shift null,
and ensembles.

- `events` (k-SD events with FWHM), `features` (per neuron and per session)
- `coactivity` (binned coactivity), `null` (its circular-shift null and thresholds)
- `ensembles` (the seed's Jaccard clustering), `membership` (members tested against chance)
- `components` (the correlation structure: binned and windowed activity, eigenvalue chance
  levels, ICA patterns), `assemblies` (ICA assemblies and the refined default; its seeds from
  `coincidence_seeds`, its member sets in `member_sets` with event sizes from `event_sizes`,
  overlapping ones split in `overlap_split`), `activations`
  (a member set's activations, its members tested against chance), `state` (the population's
  state around each bin, which their chance follows), `ordering` (raster rows)
- `steps`: the coactivity and features rules as library calls; `ensemble_step`: the ensembles
  rule (its tables in `ensemble_tables`)
"""

from calcium import lazy_api

API = {
    "detect_events": "events",
    "event_features": "features",
    "session_summary": "features",
    "null_exceedance": "null",
    "Recording": "steps",
    "Binning": "steps",
    "NullSettings": "steps",
    "EnsembleSettings": "ensemble_step",
    "coactivity_analysis": "steps",
    "ensemble_analysis": "ensemble_step",
    "neuron_features": "steps",
    "raster_orders": "ordering",
    "trial_layout": "trial_coactivity",
    "trial_shift_null": "trial_coactivity",
}
__getattr__, __dir__ = lazy_api(__name__, API)
