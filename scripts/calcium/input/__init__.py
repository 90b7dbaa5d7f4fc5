"""Input: the session sheet and the readers of users' files, checked before any job runs.

- `sheet`: the session sheet and the files each session points to
- `ingest`: from a CSV, .npy, Suite2p folder or NWB series to checked float32 traces
- `store`: those traces, the neuron table and the recording's facts written as the workflow's files
- `csv_text`, `csv_layout`, `csv_probe`, `csv_files`: CSV cells, layout detection, shape and
  reading; `arrays`: .npy and Suite2p; `nwb_series`, `nwb`, `nwb_tables`: NWB series discovery,
  traces and ROI masks, stimulus intervals and metadata; `tables`: small user tables
  (stimulus tables, ground truth); `footprints`: ROI masks and the mean image; `csv_columns`:
  column names that are not neurons, Inscopix's cell statuses, titles above a table; `clock`:
  frame times against one constant rate (CSV time columns, NWB timestamps)
- `trial_structure`: sessions made of trials: the trial table, each trial's frames, per-trial
  processing (docs/trials.md)
"""

from calcium import lazy_api

API = {
    "read_session_sheet": "sheet",
    "check_session": "sheet",
    "SessionInputs": "sheet",
    "InputSettings": "ingest",
    "NwbSelection": "ingest",
    "probe_input": "ingest",
    "open_input": "ingest",
    "checked_block": "ingest",
    "store_traces": "store",
    "detect_layout": "csv_layout",
    "read_fluorescence_csv": "csv_files",
    "read_user_table": "tables",
    "parse_stimulus_table": "tables",
    "parse_ground_truth": "tables",
    "read_stimulus_intervals": "nwb_tables",
    "input_footprints": "footprints",
    "load_footprints": "footprints",
    "parse_trial_table": "trial_structure",
    "session_trials": "trial_structure",
    "per_trial": "trial_structure",
    "per_trial_block": "trial_structure",
}
__getattr__, __dir__ = lazy_api(__name__, API)
