"""Evaluation: inferred spikes scored against ground truth, and the expected accuracy of a
session from reference ground truth made to look like it.

- `scoring`: spikefinder correlation and spike-time precision/recall per neuron
- `accuracy`: expected accuracy per noise band and per neuron; `resampling`: the noise level ν,
  resampling and noise matching; `references`: reference recordings and sets;
  `session_accuracy`: a workflow session's pipeline and tables; `groundtruth`: reference sets
  in the CASCADE layout
"""

from calcium import lazy_api

API = {
    "score_neurons": "scoring",
    "expected_accuracy": "accuracy",
    "load_references": "references",
    "session_expected_accuracy": "session_accuracy",
    "groundtruth_folders": "groundtruth",
    "read_groundtruth_recordings": "groundtruth",
}
__getattr__, __dir__ = lazy_api(__name__, API)
