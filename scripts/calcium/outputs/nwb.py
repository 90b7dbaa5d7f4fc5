"""NWB output: one file per session holding the workflow's results.

:class:`SessionNwbWriter` builds the file: traces streamed from the .npy files in compressed
chunks (`nwb_traces`), the inferred spikes, events, coactivity, ensembles and stimulus results
as tables (`nwb_tables`, `nwb_columns`), the file's frame and ROI table (`nwb_file`), and the
run's parameters and version in the file's metadata (`nwb_session`); the file appears under its
final name only when complete. Which results go in, with their descriptions, is
`nwb_results`. Reading NWB input is in `calcium.input.nwb`.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from calcium.outputs.nwb_file import new_nwbfile, roi_table, summary_images
from calcium.outputs.nwb_session import SessionMetadata
from calcium.outputs.nwb_tables import (
    dynamic_table,
    events_table,
    regressor_series,
    spikes_table,
    stimulus_intervals,
    trial_intervals,
)
from calcium.outputs.nwb_traces import TraceSeries


class SessionNwbWriter:
    """Build a session's NWB file piece by piece, then write it atomically.

    Layout: processing/ophys holds the ROI table (ImageSegmentation/PlaneSegmentation),
    the traces (DfOverF, Deconvolved, ...: RoiResponseSeries, frames × ROIs), the
    inferred spikes and the per-ROI tables; /events the calcium events (EventsTable);
    analysis holds population, stimulus and evaluation tables; intervals/stimuli the
    stimulus presentations and intervals/trials the trials (sessions cut into trials). Trace
    arrays are added as paths to (neurons, frames) float32
    .npy files and streamed at write time.
    frame_rate_hz (Hz) and start_time_s (s since session_start_time) time every series;
    labels: one per ROI; masks: the input's ROI masks (open_roi_masks, or
    footprint_masks of ingest's footprints), if any, else each ROI gets a mask of one
    pixel of weight 0 (no pixel); mean_image: (height, width) mean image, if any, as
    processing/ophys/SummaryImages/mean; roi_columns: further per-ROI columns of the ROI
    table (e.g. quality flags; booleans stored as booleans); gzip_level: 0-9 for traces and large table
    columns (0: none; default 4; measured on one core: 23-33 MB/s at 4, 27-36 MB/s at 1,
    files 0.80-0.87 of the raw float32 size); workers: threads that compress trace chunks
    (gzip_level > 0) at write time, each ~25-35 MB/s.
    """

    def __init__(
        self,
        metadata: SessionMetadata,
        frame_rate_hz: float,
        start_time_s: float,
        labels,
        gzip_level: int = 4,
        masks: dict | None = None,
        workers: int = 1,
        mean_image: np.ndarray | None = None,
        roi_columns: pd.DataFrame | None = None,
    ):
        from pynwb.ophys import ImageSegmentation

        self.frame_rate_hz = float(frame_rate_hz)
        self.start_time_s = float(start_time_s)
        self.gzip_level = int(gzip_level)
        self.workers = int(workers)
        self.n_neurons = len(labels)
        self.nwbfile, self.imaging_plane = new_nwbfile(metadata, self.frame_rate_hz)
        self.ophys = self.nwbfile.create_processing_module(
            name="ophys", description="calcium-imaging traces, inferred spikes and events per ROI"
        )
        segmentation = ImageSegmentation(name="ImageSegmentation")
        self.ophys.add(segmentation)
        self.rois = roi_table(labels, masks or {}, roi_columns, self.imaging_plane, self.gzip_level)
        segmentation.add_plane_segmentation(self.rois)
        if mean_image is not None and np.asarray(mean_image).size:
            self.ophys.add(summary_images(mean_image))
        self.traces = TraceSeries(
            self.ophys, self.rois, self.frame_rate_hz, self.start_time_s, self.gzip_level, self.workers
        )

    def add_traces(
        self,
        container: str,
        container_type: str,
        name: str,
        npy_path: str | os.PathLike,
        description: str,
        unit: str = "dF/F",
        buffer_bytes: int = 64 << 20,
    ) -> None:
        """Add a (neurons, frames) float32 .npy as RoiResponseSeries `name` in processing/ophys/<container>.

        container_type: "DfOverF" or "Fluorescence" (the NWB type of the container).
        unit: the traces' unit (default "dF/F").
        buffer_bytes: most bytes read from the .npy at a time (default 64 MiB; at least one
            chunk column). The array is streamed at write time in chunks (see chunk_shapes),
            gzip-compressed at the writer's gzip_level, with byte shuffling.
        """
        self.traces.add(container, container_type, name, npy_path, description, unit, buffer_bytes)

    def add_spikes(self, spikes: pd.DataFrame, description: str, lag_s: float | np.ndarray = 0.0) -> bool:
        """Inferred spikes (spike_times.csv: neuron, frame, amplitude_dff) as a Units-like table
        InferredSpikes in processing/ophys (`calcium.outputs.nwb_tables.spikes_table`); lag_s:
        the timing correction (s), one number or one per ROI. No spike at all: nothing is
        written (returns False; NWB tools fail on empty ragged columns)."""
        if spikes.empty:
            return False
        self.ophys.add(
            spikes_table(
                spikes, description, self.rois, self.frame_rate_hz, self.start_time_s, lag_s, self.gzip_level
            )
        )
        return True

    def add_events(
        self,
        name: str,
        table: pd.DataFrame,
        description: str,
        time_column: str,
        end_column: str | None = None,
    ) -> bool:
        """A table of events as a core EventsTable in /events (pynwb >= 3): `timestamp` is
        `time_column` (s), `duration` end_column - time_column (s) when given, and every
        column of `table` is kept as it is (a `neuron` column links to the ROI table).
        An empty table is not written (returns False)."""
        if table.empty:
            return False
        self.nwbfile.add_events_table(
            events_table(name, table, description, time_column, end_column, self.rois, self.gzip_level)
        )
        return True

    def add_table(
        self, name: str, table: pd.DataFrame, description: str, where: str = "ophys", **columns
    ) -> bool:
        """Add a tidy table as a DynamicTable in processing/ophys (where="ophys") or analysis;
        columns: neuron_columns, ragged_neurons, descriptions, matrices as in
        `calcium.outputs.nwb_tables.dynamic_table`. An empty table is not written (returns
        False): NWB discourages empty tables."""
        if table.empty:
            return False
        dynamic = dynamic_table(name, table, description, self.rois, self.gzip_level, **columns)
        if where == "ophys":
            self.ophys.add(dynamic)
        else:
            self.nwbfile.add_analysis(dynamic)
        return True

    def add_stimuli(self, stimuli: pd.DataFrame, description: str) -> None:
        """Stimulus presentations as intervals/stimuli (TimeIntervals: start_time, stop_time,
        stimulus). stimuli: columns stimulus, onset_s, offset_s on the file's clock."""
        self.nwbfile.add_time_intervals(stimulus_intervals(stimuli, description))

    def add_trials(self, trials: pd.DataFrame) -> None:
        """The session's trials (ingest/trials.csv) as the file's trials table (intervals/trials)."""
        self.nwbfile.trials = trial_intervals(trials)

    def add_regressors(
        self, labels: list[str], regressors: np.ndarray, boxcars: np.ndarray, description: str
    ):
        """Stimulus regressors and boxcars (stimuli, frames) as TimeSeries (frames × stimuli) in analysis."""
        for series in regressor_series(
            labels, regressors, boxcars, description, self.frame_rate_hz, self.start_time_s
        ):
            self.nwbfile.add_analysis(series)

    def write(self, path: str | os.PathLike) -> None:
        """Write the file under a temporary name in its folder, then rename it to `path`
        (`calcium.io.atomic_path`); on any error `path` is left as it was. Logs its progress
        (neuron traces written, percent, time left; `calcium.progress`)."""
        from pynwb import NWBHDF5IO

        from calcium.io import atomic_path
        from calcium.progress import Progress

        with (
            atomic_path(path, suffix=".nwb") as tmp,
            Progress(self.traces.rows, "NWB", "neuron traces") as progress,
        ):
            self.traces.progress = progress
            try:
                with NWBHDF5IO(tmp, mode="w") as io:
                    io.write(self.nwbfile)
                self.traces.fill(tmp, progress)
            finally:
                self.traces.progress = None
