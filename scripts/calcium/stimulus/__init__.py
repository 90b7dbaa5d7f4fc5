"""Stimulus: regressors convolved with the indicator's kernel, per-neuron regression and
response types, and trial-aligned responses.

- `regressors`: stimulus regressors, regression, response kinds, clustered orders
- `trial_responses`: each presentation's ΔF/F window and per-trial response amplitudes
"""

from calcium import lazy_api

API = {
    "stimulus_regressors": "regressors",
    "regression_tables": "regressors",
    "response_kinds": "regressors",
    "cluster_order": "regressors",
    "peri_stimulus": "trial_responses",
    "presentations": "trial_responses",
}
__getattr__, __dir__ = lazy_api(__name__, API)
