"""Stimulus: regressors convolved with the indicator's kernel, per-neuron regression and
response types, and trial-aligned responses.

- `regressors`: stimulus boxcars and regressors, and their table
- `regression`: per-neuron regression, response types, mean stimulus-locked responses
- `clustering`: clustered orders, z-scoring and downsampling for heat maps
- `voltage`: stimulus tables from a recorded stimulus channel
- `trial_responses`: each presentation's ΔF/F window and per-trial response amplitudes
"""

from calcium import lazy_api

API = {
    "stimulus_regressors": "regressors",
    "regression_tables": "regression",
    "session_regression": "regression",
    "response_kinds": "regression",
    "cluster_order": "clustering",
    "stimulus_table_from_channel": "voltage",
    "peri_stimulus": "trial_responses",
    "presentations": "trial_responses",
}
__getattr__, __dir__ = lazy_api(__name__, API)
