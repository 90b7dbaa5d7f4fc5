"""NWB output: one file per session holding the workflow's results.

:class:`SessionNwbWriter` builds the file: traces streamed from the .npy files in
compressed chunks, the inferred spikes, events, coactivity, ensembles and stimulus
results as tables, and the run's parameters and version in the file's metadata; the
file appears under its final name only when complete. Reading NWB input is in
`calcium.input.nwb` (and `nwb_series`, `nwb_tables`).
"""

from __future__ import annotations

import json
import math
import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from calcium.input.nwb_tables import UNKNOWN_START, parse_start_time

# Descriptions of the workflow's table columns (units are in the names: _s seconds, _dff ΔF/F).
COLUMN_DESCRIPTIONS = {
    "neuron": "row of the ROI table (PlaneSegmentation) this row belongs to",
    "label": "the ROI's label in the input (ROI id, index column or header)",
    "onset_frame": "frame where the event rises above the rest level",
    "onset_s": "time of the event onset (s)",
    "peak_frame": "frame of the event peak",
    "peak_s": "time of the event peak (s)",
    "end_frame": "frame where the event returns to the rest level",
    "end_s": "time of the event end (s)",
    "amplitude_dff": "event peak above baseline (ΔF/F)",
    "prominence_dff": "peak prominence (ΔF/F)",
    "fwhm_s": "full width at half maximum (s)",
    "area_dff_s": "area under the event above baseline (ΔF/F·s)",
    "exceeds_max_fwhm": "event wider than events.max_fwhm_s",
    "baseline_dff": "baseline of the trace (ΔF/F)",
    "noise_sd_dff": "robust noise SD of the trace (ΔF/F)",
    "threshold_dff": "event detection threshold (ΔF/F)",
    "n_events": "number of events",
    "g1": "first autoregressive coefficient of the OASIS model",
    "g2": "second autoregressive coefficient (0 for AR(1))",
    "tau_decay_s": "decay time constant (s)",
    "tau_rise_s": "rise time constant (s; 0 for AR(1))",
    "lambda": "sparsity penalty of OASIS",
    "spike_sum_dff": "sum of the inferred spike amplitudes (ΔF/F)",
    "bin": "index of the coactivity bin",
    "start_s": "start of the bin (s)",
    "n_active": "neurons with an event in the bin",
    "fraction_active": "fraction of neurons with an event in the bin",
    "event": "ensemble event index",
    "ensemble": "ensemble index (-1: none)",
    "n_members": "number of member neurons",
    "first_active_s": "time of the ensemble's first event (s)",
    "last_active_s": "time of the ensemble's last event (s)",
    "participation": "fraction of the ensemble's events the neuron takes part in",
    "member": "neuron is a member of the ensemble",
    "r2": "coefficient of determination of the stimulus regression",
    "intercept_dff": "regression intercept (ΔF/F)",
    "selected": "R² above stimulus.min_r2 (stimulus-locked)",
    "response_type": "stimulus with the largest coefficient, or not stimulus-locked",
    "stimulus": "stimulus label",
    "n_presentations": "number of presentations",
    "mean_response_dff": "mean baseline-subtracted response over the response window (ΔF/F)",
    "sem_response_dff": "standard error of the mean response (ΔF/F)",
}

_SUFFIX_UNITS = (("_per_min", "per minute"), ("_dff_s", "ΔF/F·s"), ("_dff", "ΔF/F"), ("_s", "seconds"))


def describe_column(name: str) -> str:
    """A column's description: from COLUMN_DESCRIPTIONS, else its name and the unit its suffix gives."""
    if name in COLUMN_DESCRIPTIONS:
        return COLUMN_DESCRIPTIONS[name]
    if name.startswith("coef_"):
        return f"regression coefficient of stimulus {name[5:]!r} (ΔF/F per unit regressor)"
    for suffix, unit in _SUFFIX_UNITS:
        if name.endswith(suffix):
            return f"{name.replace('_', ' ')} ({unit})"
    return name.replace("_", " ")


# Table columns with at least this many values are stored gzip-compressed.
COMPRESS_FROM = 1 << 16


def _compressed(values, gzip_level: int):
    """Wrap a large numeric array for gzip compression at `gzip_level` (0: none), byte-shuffled."""
    from hdmf.backends.hdf5 import H5DataIO

    if gzip_level and isinstance(values, np.ndarray) and values.size >= COMPRESS_FROM:
        return H5DataIO(values, compression="gzip", compression_opts=gzip_level, shuffle=True)
    return values


def _column_data(values: pd.Series, gzip_level: int):
    if pd.api.types.is_bool_dtype(values):
        return _compressed(values.to_numpy(dtype=bool), gzip_level)
    if pd.api.types.is_integer_dtype(values):
        return _compressed(values.to_numpy(dtype=np.int64), gzip_level)
    if pd.api.types.is_float_dtype(values):
        return _compressed(values.to_numpy(dtype=np.float64), gzip_level)
    return [str(v) for v in values]


def _npy_iterator_class():
    from hdmf.data_utils import GenericDataChunkIterator

    from calcium.io import load_npy

    class _NpyRowsAsColumns(GenericDataChunkIterator):
        """A (neurons, frames) .npy served as (frames, neurons), a block of neurons at a time."""

        def __init__(self, path, shape, progress=None, **kwargs):
            self.path = str(path)
            self.progress = progress  # () -> calcium.progress.Progress or None: counts neuron rows read
            self.npy_shape = tuple(int(x) for x in shape)  # (neurons, frames) as stored in the .npy
            super().__init__(**kwargs)

        def _get_data(self, selection):
            frames, neurons = selection
            block = load_npy(self.path, neurons)
            progress = self.progress() if self.progress else None
            if progress is not None and frames.start in (None, 0):  # a buffer holds every frame
                progress.advance(block.shape[0])
            return np.ascontiguousarray(block[:, frames].T)

        def _get_maxshape(self):
            return (self.npy_shape[1], self.npy_shape[0])

        def _get_dtype(self):
            return np.dtype(np.float32)

    return _NpyRowsAsColumns


def chunk_shapes(n_neurons: int, n_frames: int, chunk_bytes: int = 1 << 20, buffer_bytes: int = 64 << 20):
    """HDF5 chunk and write-buffer shapes (frames, neurons) for a float32 trace array.

    Chunks hold up to 16384 frames of as many neurons as fit `chunk_bytes` (default
    1 MiB, within HDF5's recommended range; a neuron's trace is read in few chunks),
    both axes split evenly (HDF5 stores edge chunks whole: no padding wasted);
    a buffer holds every frame of a whole number of chunk columns, up to
    `buffer_bytes` (default 64 MiB), so memory stays bounded however long the recording.
    """
    frames_per_chunk = math.ceil(n_frames / math.ceil(n_frames / 16384))
    most_neurons = max(1, min(n_neurons, chunk_bytes // (4 * frames_per_chunk)))
    neurons_per_chunk = math.ceil(n_neurons / math.ceil(n_neurons / most_neurons))
    columns = max(1, buffer_bytes // (4 * n_frames * neurons_per_chunk))
    neurons_per_buffer = min(n_neurons, neurons_per_chunk * columns)
    return (frames_per_chunk, neurons_per_chunk), (n_frames, neurons_per_buffer)


def encode_chunk(block: np.ndarray, chunk: tuple[int, int], gzip_level: int) -> bytes:
    """One float32 HDF5 chunk as its shuffle + deflate filters store it on disk.

    block: (frames, neurons) values of the chunk, at most `chunk` in shape (edge chunks
    are padded with zeros, HDF5's fill value, to the full chunk shape). The shuffle
    filter groups byte k of every element together; deflate is zlib's format.
    """
    import zlib

    full = np.zeros(chunk, dtype="<f4")
    full[: block.shape[0], : block.shape[1]] = block
    return zlib.compress(full.view(np.uint8).reshape(-1, 4).T.tobytes(), gzip_level)


def write_chunks_in_parallel(
    dataset, npy_path, gzip_level: int, workers: int, buffer_bytes: int = 64 << 20, progress=None
) -> None:
    """Fill a (frames, neurons) gzip + shuffle chunked HDF5 dataset from a (neurons, frames)
    float32 .npy, compressing chunks on `workers` threads (zlib runs without the GIL) and
    writing them as they are (h5py's write_direct_chunk): HDF5 itself compresses on one
    thread. Reads a block of whole chunk columns (at most ~buffer_bytes) at a time.
    progress: a `calcium.progress.Progress` advanced by the neurons written (or None)."""
    from concurrent.futures import ThreadPoolExecutor

    from calcium.io import load_npy

    n_frames, n_neurons = dataset.shape
    found = tuple(load_npy(npy_path).shape)
    if found != (n_neurons, n_frames):
        expected = (n_neurons, n_frames)
        raise ValueError(f"{npy_path}: shape {found} changed since it was added; expected {expected}")
    chunk = dataset.chunks
    columns = max(1, buffer_bytes // (4 * n_frames * chunk[1]))
    with ThreadPoolExecutor(max(1, workers)) as pool:
        for first in range(0, n_neurons, chunk[1] * columns):
            rows = load_npy(npy_path, slice(first, min(n_neurons, first + chunk[1] * columns)))
            offsets, blocks = [], []
            for n0 in range(0, rows.shape[0], chunk[1]):
                traces = rows[n0 : n0 + chunk[1]].T  # (frames, neurons of this chunk column)
                for f0 in range(0, n_frames, chunk[0]):
                    offsets.append((f0, first + n0))
                    blocks.append(traces[f0 : f0 + chunk[0]])
            encoded = pool.map(lambda block: encode_chunk(block, chunk, gzip_level), blocks)
            for offset, data in zip(offsets, encoded, strict=True):
                dataset.id.write_direct_chunk(offset, data)
            if progress is not None:
                progress.advance(rows.shape[0])


@dataclass
class SessionMetadata:
    """What the NWB file says about its session (fields as in NWBFile / Subject).

    session_start_time: datetime with a time zone (UNKNOWN_START when nobody gave it:
    NWB requires a value, and start_known is then False); subject: the Subject fields
    given (subject_id, species, sex, age, date_of_birth, genotype, strain, ...), None
    when none is; imaging_plane: indicator, location, excitation_lambda and
    emission_lambda (nm), description, device, device_description, manufacturer, only
    those given. Nothing is invented: what is unknown is absent.
    """

    session_id: str
    session_description: str
    session_start_time: datetime
    subject: dict | None
    imaging_plane: dict
    experimenter: list[str] = field(default_factory=list)
    institution: str | None = None
    lab: str | None = None
    experiment_description: str | None = None
    source_script: str = ""
    data_collection: str = ""
    keywords: list[str] = field(default_factory=list)
    identifier: str = field(default_factory=lambda: str(uuid.uuid4()))
    start_known: bool = True


# Subject fields a session sheet may give (columns), overriding the metadata file and an NWB input.
SUBJECT_FIELDS = ("subject_id", "species", "sex", "age")
# Subject fields of pynwb's Subject that the output carries over.
SUBJECT_KEYS = (
    "subject_id",
    "species",
    "sex",
    "age",
    "age__reference",
    "date_of_birth",
    "genotype",
    "strain",
    "weight",
    "description",
)
# Metadata-file imaging_plane keys -> the names SessionMetadata.imaging_plane uses.
PLANE_KEYS = {
    "indicator": "indicator",
    "excitation_lambda_nm": "excitation_lambda",
    "emission_lambda_nm": "emission_lambda",
    "location": "location",
    "description": "description",
    "device": "device",
    "device_description": "device_description",
    "manufacturer": "manufacturer",
}


def _known(value) -> bool:
    """A value someone gave: not None, "", NaN or the placeholder start."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "unknown")):
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    return not (isinstance(value, datetime) and value == UNKNOWN_START)


def session_metadata(
    session: dict,
    settings: dict,
    source: dict | None,
    version: str,
    parameters: dict,
    n_neurons: int,
    frame_rate_hz: float,
    user: dict | None = None,
) -> tuple[SessionMetadata, list[str]]:
    """Metadata of a session's NWB output, and what DANDI will ask for that nobody gave.

    session: the sheet row (session, path, indicator, input_kind and the optional
        session_start_time, subject_id, species, sex, age, nwb_series).
    settings: config section `nwb` (institution, lab, experimenter, experiment_description).
    source: :func:`read_nwb_metadata` of an NWB input (None otherwise).
    user: the session's metadata file (`calcium.outputs.nwb_metadata.read_metadata_file`), if any.
    Precedence: sheet columns, then the metadata file, then the config, then the NWB input.
    version: the workflow's version; parameters: the config keys the file records (stored
    as JSON in /general/data_collection with the version and the input).
    Nothing unknown is invented: missing fields are left out; only session_start_time,
    which NWB requires, is then written as 1970-01-01T00:00:00Z with start_known False
    (and said so in the session description). The second value lists the fields of
    `calcium.outputs.nwb_metadata.DANDI_FIELDS` still missing.
    """
    from calcium.outputs.nwb_metadata import dandi_missing

    source = source or {}
    user = user or {}
    session_id = str(session["session"])
    start, start_known = UNKNOWN_START, False
    for text, where in (
        (session.get("session_start_time"), "the sheet's session_start_time"),
        (user.get("session_start_time"), "the metadata file's session_start_time"),
    ):
        if _known(text):
            start, start_known = parse_start_time(str(text), f"session {session_id}: {where}"), True
            break
    else:
        if _known(source.get("session_start_time")):
            start, start_known = source["session_start_time"], True
    subject = {k: v for k, v in source.get("subject", {}).items() if k in SUBJECT_KEYS and _known(v)}
    subject.update({k: v for k, v in user.get("subject", {}).items() if _known(v)})
    for key in SUBJECT_FIELDS:
        if _known(session.get(key)):
            subject[key] = str(session[key])
    if "date_of_birth" in subject and isinstance(subject["date_of_birth"], str):
        subject["date_of_birth"] = parse_start_time(subject["date_of_birth"], "subject.date_of_birth")
    plane = {k: v for k, v in source.get("imaging_plane", {}).items() if _known(v)}
    plane.update({PLANE_KEYS[k]: v for k, v in user.get("imaging_plane", {}).items() if _known(v)})
    if _known(session.get("indicator")) and "indicator" not in user.get("imaging_plane", {}):
        plane["indicator"] = str(session["indicator"])
    description = user.get("session_description") or source.get("session_description") or ""
    description = (description + " " if description else "") + (
        f"Analysed by the calcium-imaging workflow {version}: {n_neurons} ROIs at {frame_rate_hz:g} Hz "
        "(ΔF/F, detrending, wavelet denoising, OASIS deconvolution, spike times, calcium events, "
        "coactivity, ensembles, stimulus regression)."
    )
    if not start_known:
        description += (
            " The session start time is unknown: session_start_time holds the placeholder "
            "1970-01-01T00:00:00Z, which NWB requires."
        )
    provenance = {
        "workflow": "calcium-imaging-workflow",
        "version": version,
        "input": {
            "path": str(session.get("path", "")),
            "input_kind": session.get("input_kind"),
            "nwb_series": session.get("nwb_series") or None,
        },
        "parameters": parameters,
    }

    def first(key):
        return next((v for v in (user.get(key), settings.get(key), source.get(key)) if v), None)

    metadata = SessionMetadata(
        session_id=session_id,
        session_description=description,
        session_start_time=start,
        subject=subject or None,
        imaging_plane=plane,
        experimenter=list(first("experimenter") or []),
        institution=first("institution"),
        lab=first("lab"),
        experiment_description=first("experiment_description"),
        source_script=f"calcium-imaging-workflow {version}",
        data_collection=json_text(provenance),
        keywords=[
            "calcium imaging",
            "ΔF/F",
            "spike inference",
            "calcium events",
            "neuronal ensembles",
            *user.get("keywords", []),
        ],
        start_known=start_known,
    )
    return metadata, dandi_missing(start_known, subject)


class SessionNwbWriter:
    """Build a session's NWB file piece by piece, then write it atomically.

    Layout: processing/ophys holds the ROI table (ImageSegmentation/PlaneSegmentation),
    the traces (DfOverF, Deconvolved, ...: RoiResponseSeries, frames × ROIs), the
    inferred spikes and the per-ROI tables; /events the calcium events (EventsTable);
    analysis holds population, stimulus and evaluation tables; intervals/stimuli the
    stimulus presentations. Trace arrays are added as paths to (neurons, frames) float32
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
        from pynwb import NWBFile
        from pynwb.file import Subject
        from pynwb.ophys import ImageSegmentation, OpticalChannel

        self.frame_rate_hz = float(frame_rate_hz)
        self.start_time_s = float(start_time_s)
        self.gzip_level = int(gzip_level)
        self.workers = int(workers)
        self._parallel_traces: list[tuple[str, str, int]] = []  # (dataset, .npy, buffer) filled at write
        self._trace_rows = 0  # neuron rows of every trace array added (the progress total)
        self._progress = None  # the calcium.progress.Progress of `write`
        self.n_neurons = len(labels)
        self.nwbfile = NWBFile(
            session_description=metadata.session_description,
            identifier=metadata.identifier,
            session_start_time=metadata.session_start_time,
            session_id=metadata.session_id,
            experimenter=metadata.experimenter or None,
            institution=metadata.institution,
            lab=metadata.lab,
            experiment_description=metadata.experiment_description,
            source_script=metadata.source_script or None,
            source_script_file_name="Snakefile" if metadata.source_script else None,
            data_collection=metadata.data_collection or None,
            keywords=metadata.keywords or None,
        )
        if metadata.subject:
            self.nwbfile.subject = Subject(**metadata.subject)
        plane = metadata.imaging_plane
        model = None
        if plane.get("manufacturer"):  # pynwb >= 3: the manufacturer belongs to the device's model
            model = self.nwbfile.create_device_model(
                name=f"{plane.get('device') or 'Microscope'} model", manufacturer=plane["manufacturer"]
            )
        device = self.nwbfile.create_device(
            name=plane.get("device") or "Microscope",
            description=plane.get("device_description") or "the microscope (not described by the user)",
            model=model,
        )
        # NWB requires an emission and an excitation wavelength, an indicator and a location:
        # unknown wavelengths are NaN and an unknown location "unknown", as NWB's docs advise.
        channel = OpticalChannel(
            name="OpticalChannel",
            description="emission channel of the indicator",
            emission_lambda=float(plane.get("emission_lambda", math.nan)),
        )
        self.imaging_plane = self.nwbfile.create_imaging_plane(
            name="ImagingPlane",
            optical_channel=channel,
            description=plane.get("description") or "imaging plane of the analysed ROIs",
            device=device,
            excitation_lambda=float(plane.get("excitation_lambda", math.nan)),
            imaging_rate=self.frame_rate_hz,
            indicator=plane.get("indicator") or "unknown",
            location=plane.get("location") or "unknown",
        )
        self.ophys = self.nwbfile.create_processing_module(
            name="ophys", description="calcium-imaging traces, inferred spikes and events per ROI"
        )
        segmentation = ImageSegmentation(name="ImageSegmentation")
        self.ophys.add(segmentation)
        self.rois = self._roi_table(labels, masks or {}, roi_columns)
        segmentation.add_plane_segmentation(self.rois)
        if mean_image is not None and np.asarray(mean_image).size:
            from pynwb.base import Images
            from pynwb.image import GrayscaleImage

            self.ophys.add(
                Images(
                    name="SummaryImages",
                    images=[
                        GrayscaleImage(
                            name="mean",
                            data=np.asarray(mean_image, np.float32),
                            description="mean image of the movie (the input's, e.g. Suite2p meanImg), "
                            "in the movie's units; rows y, columns x as the ROI masks",
                        )
                    ],
                    description="summary images of the imaging field",
                )
            )
        self.containers: dict = {}

    def _roi_table(self, labels, masks: dict, roi_columns: pd.DataFrame | None = None):
        from hdmf.backends.hdf5 import H5DataIO
        from hdmf.common import VectorData, VectorIndex
        from pynwb.ophys import PlaneSegmentation

        label = VectorData(
            name="label", data=[str(v) for v in labels], description=COLUMN_DESCRIPTIONS["label"]
        )
        copied = "the input's ROI mask, copied"
        if "image_mask" in masks:
            data = H5DataIO(masks["image_mask"], compression="gzip", compression_opts=max(1, self.gzip_level))
            columns = [label, VectorData(name="image_mask", data=data, description=copied)]
        elif masks:
            ((kind, (flat, ends)),) = masks.items()
            mask = VectorData(name=kind, data=flat, description=copied)
            columns = [
                label,
                mask,
                VectorIndex(name=f"{kind}_index", data=ends.astype(np.int64), target=mask),
            ]
        else:
            columns = [label, *self._no_masks(len(labels))]
        for column in roi_columns.columns if roi_columns is not None else ():
            columns.append(
                VectorData(
                    name=column,
                    data=_column_data(roi_columns[column], self.gzip_level),
                    description=describe_column(column),
                )
            )
        return PlaneSegmentation(
            name="PlaneSegmentation",
            description="ROIs analysed by the workflow; id = the workflow's neuron index",
            imaging_plane=self.imaging_plane,
            id=np.arange(len(labels)),
            columns=columns,
        )

    @staticmethod
    def _no_masks(n_rois: int):
        from hdmf.common import VectorData, VectorIndex

        # The workflow reads traces, not images: no ROI masks are known. pynwb cannot read a
        # PlaneSegmentation without a mask column, and empty masks break nwbinspector, so every
        # ROI gets one pixel of weight 0: no pixel belongs to it, rather than an invented shape.
        mask_type = np.dtype([("x", np.uint32), ("y", np.uint32), ("weight", np.float32)])
        mask = VectorData(
            name="pixel_mask",
            data=np.zeros(n_rois, dtype=mask_type),
            description=(
                "pixel masks are unknown (the input held traces, not images): each ROI has a single "
                "entry (x 0, y 0) of weight 0, i.e. no pixel"
            ),
        )
        mask_index = VectorIndex(
            name="pixel_mask_index", data=np.arange(1, n_rois + 1, dtype=np.int64), target=mask
        )
        return [mask, mask_index]

    def _region(self, name: str, rows, description: str):
        from hdmf.common import DynamicTableRegion

        return DynamicTableRegion(
            name=name, data=np.asarray(rows, dtype=np.int64), description=description, table=self.rois
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
        from hdmf.backends.hdf5 import H5DataIO
        from pynwb.ophys import DfOverF, Fluorescence, RoiResponseSeries

        from calcium.io import load_npy

        shape = tuple(load_npy(npy_path).shape)
        if shape[0] != self.n_neurons:
            raise ValueError(f"{npy_path}: {shape[0]} neurons but the ROI table has {self.n_neurons}")
        chunk, buffer = chunk_shapes(*shape, buffer_bytes=buffer_bytes)
        if self.gzip_level:
            # An empty dataset with the filters: `write` fills its chunks, compressed in parallel.
            from hdmf.data_utils import DataChunkIterator

            empty = DataChunkIterator(data=None, maxshape=(shape[1], shape[0]), dtype=np.dtype(np.float32))
            data = H5DataIO(
                empty, chunks=chunk, compression="gzip", compression_opts=self.gzip_level, shuffle=True
            )
            self._parallel_traces.append(
                (f"processing/ophys/{container}/{name}/data", str(npy_path), buffer_bytes)
            )
        else:
            iterator = _npy_iterator_class()(
                npy_path, shape, progress=lambda: self._progress, chunk_shape=chunk, buffer_shape=buffer
            )
            data = H5DataIO(iterator)
        self._trace_rows += shape[0]
        series = RoiResponseSeries(
            name=name,
            data=data,
            rois=self._region("rois", np.arange(self.n_neurons), "every ROI, in the ROI table's order"),
            unit=unit,
            conversion=1.0,
            resolution=-1.0,
            starting_time=self.start_time_s,
            rate=self.frame_rate_hz,
            description=description,
        )
        if container not in self.containers:
            kind = {"DfOverF": DfOverF, "Fluorescence": Fluorescence}[container_type]
            self.containers[container] = kind(name=container)
            self.ophys.add(self.containers[container])
        self.containers[container].add_roi_response_series(series)

    def add_spikes(self, spikes: pd.DataFrame, description: str, lag_s: float | np.ndarray = 0.0) -> bool:
        """Inferred spikes as a Units-like table in processing/ophys: one row per ROI with
        ragged columns spike_times (s), spike_frames and spike_amplitudes_dff.

        spikes: columns neuron, frame, amplitude_dff (spike_times.csv). Times are
        start_time_s + frame / frame_rate_hz - lag_s, computed from the frames exactly as
        `calcium.signal.spikes.spike_times_by_neuron` computes spike_times.npz (lag_s: the timing
        correction, s: one number, or one per ROI as in deconvolution.tsv), so they equal
        spike_times.npz and spike_times.csv's time_s.
        No spike at all: nothing is written (returns False; NWB tools fail on empty ragged
        columns, and NWB advises against empty tables)."""
        from hdmf.common import DynamicTable, VectorData, VectorIndex

        if spikes.empty:
            return False

        from calcium.signal.spikes import spike_times_by_neuron

        spikes = spikes.sort_values(["neuron", "frame"], kind="stable")
        neurons = spikes["neuron"].to_numpy(dtype=np.int64)
        frames = spikes["frame"].to_numpy(dtype=np.int64)
        by_neuron = spike_times_by_neuron(
            spikes, self.n_neurons, self.frame_rate_hz, self.start_time_s, lag_s
        )
        times = np.concatenate([by_neuron[k] for k in sorted(by_neuron)]) if by_neuron else np.zeros(0)
        ends = np.searchsorted(neurons, np.arange(self.n_neurons), side="right")
        columns = [self._region("roi", np.arange(self.n_neurons), "the ROI whose spikes these are")]
        for column, values, text in (
            (
                "spike_times",
                times,
                "spike times (s since session_start_time): frame time minus the ROI's timing correction "
                "lag_s (deconvolution.tsv), as in spike_times.csv",
            ),
            ("spike_frames", frames, "frames of the spikes"),
            ("spike_amplitudes_dff", spikes["amplitude_dff"].to_numpy(np.float64), "spike amplitudes (ΔF/F)"),
        ):
            data = VectorData(name=column, data=_compressed(values, self.gzip_level), description=text)
            columns += [data, VectorIndex(name=f"{column}_index", data=ends, target=data)]
        self.ophys.add(
            DynamicTable(
                name="InferredSpikes",
                description=description,
                id=np.arange(self.n_neurons),
                columns=columns,
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
        from hdmf.common import VectorData
        from pynwb.event import DurationVectorData, EventsTable, TimestampVectorData

        if table.empty:
            return False
        columns = [
            TimestampVectorData(
                name="timestamp",
                data=table[time_column].to_numpy(np.float64),
                description=f"time of the event (s since session_start_time): {time_column}",
            )
        ]
        if end_column is not None:
            columns.append(
                DurationVectorData(
                    name="duration",
                    data=(table[end_column] - table[time_column]).to_numpy(np.float64),
                    description=f"{end_column} - {time_column} (s)",
                )
            )
        for column in table.columns:
            if column == "neuron":
                columns.append(self._region(column, table[column].to_numpy(), COLUMN_DESCRIPTIONS["neuron"]))
            else:
                columns.append(
                    VectorData(
                        name=column,
                        data=_column_data(table[column], self.gzip_level),
                        description=describe_column(column),
                    )
                )
        self.nwbfile.add_events_table(
            EventsTable(name=name, description=description, id=np.arange(len(table)), columns=columns)
        )
        return True

    def add_table(
        self,
        name: str,
        table: pd.DataFrame,
        description: str,
        where: str = "ophys",
        neuron_columns: tuple[str, ...] = ("neuron",),
        ragged_neurons: dict[str, list] | None = None,
        descriptions: dict[str, str] | None = None,
        matrices: dict[str, np.ndarray] | None = None,
    ) -> bool:
        """Add a tidy table as a DynamicTable in processing/ophys (where="ophys") or analysis.

        neuron_columns become links (DynamicTableRegion) to the ROI table.
        ragged_neurons: extra columns holding, per row, a list of neuron indices
        (e.g. an ensemble's members), also linked to the ROI table.
        descriptions: column descriptions overriding describe_column's.
        matrices: extra 2-D columns (one row of the array per table row, e.g. a similarity matrix).
        An empty table is not written (returns False): NWB discourages empty tables.
        """
        from hdmf.common import DynamicTable, VectorData, VectorIndex

        if table.empty:
            return False
        columns = []
        for column in table.columns:
            if column in neuron_columns:
                columns.append(self._region(column, table[column].to_numpy(), COLUMN_DESCRIPTIONS["neuron"]))
            else:
                columns.append(
                    VectorData(
                        name=column,
                        data=_column_data(table[column], self.gzip_level),
                        description=(descriptions or {}).get(column) or describe_column(column),
                    )
                )
        for column, lists in (ragged_neurons or {}).items():
            flat = np.concatenate([np.asarray(v, dtype=np.int64) for v in lists]) if lists else []
            if len(flat) == 0:  # every row's list is empty: NWB tools fail on an empty ragged column
                description += f" ({column}: none in any row)"
                continue
            region = self._region(column, flat, f"{column}: rows of the ROI table")
            ends = np.cumsum([len(v) for v in lists]).astype(np.int64)
            columns += [region, VectorIndex(name=f"{column}_index", data=ends, target=region)]
        for column, values in (matrices or {}).items():
            columns.append(
                VectorData(
                    name=column,
                    data=_compressed(np.asarray(values), self.gzip_level),
                    description=(descriptions or {}).get(column) or describe_column(column),
                )
            )
        dynamic = DynamicTable(name=name, description=description, id=np.arange(len(table)), columns=columns)
        if where == "ophys":
            self.ophys.add(dynamic)
        else:
            self.nwbfile.add_analysis(dynamic)
        return True

    def add_stimuli(self, stimuli: pd.DataFrame, description: str) -> None:
        """Stimulus presentations as intervals/stimuli (TimeIntervals: start_time, stop_time,
        stimulus). stimuli: columns stimulus, onset_s, offset_s on the file's clock."""
        from pynwb.epoch import TimeIntervals

        intervals = TimeIntervals(name="stimuli", description=description)
        intervals.add_column(name="stimulus", description=COLUMN_DESCRIPTIONS["stimulus"])
        for row in stimuli.itertuples():
            intervals.add_interval(
                start_time=float(row.onset_s), stop_time=float(row.offset_s), stimulus=row.stimulus
            )
        self.nwbfile.add_time_intervals(intervals)

    def add_regressors(
        self, labels: list[str], regressors: np.ndarray, boxcars: np.ndarray, description: str
    ):
        """Stimulus regressors and boxcars (stimuli, frames) as TimeSeries (frames × stimuli) in analysis."""
        from pynwb import TimeSeries

        for name, values, text in (
            ("stimulus_boxcars", boxcars, "1 while the stimulus is on, else 0"),
            ("stimulus_regressors", regressors, "boxcar convolved with the indicator's response kernel"),
        ):
            self.nwbfile.add_analysis(
                TimeSeries(
                    name=name,
                    data=np.ascontiguousarray(np.asarray(values, dtype=np.float32).T),
                    unit="a.u.",
                    resolution=-1.0,
                    starting_time=self.start_time_s,
                    rate=self.frame_rate_hz,
                    description=f"{text}; {description}; columns: {', '.join(labels)}",
                )
            )

    def write(self, path: str | os.PathLike) -> None:
        """Write the file under a temporary name in its folder, then rename it to `path`
        (`calcium.io.atomic_path`); on any error `path` is left as it was. Logs its progress
        (neuron traces written, percent, time left; `calcium.progress`)."""
        from pynwb import NWBHDF5IO

        from calcium.io import atomic_path
        from calcium.progress import Progress

        with (
            atomic_path(path, suffix=".nwb") as tmp,
            Progress(self._trace_rows, "NWB", "neuron traces") as progress,
        ):
            self._progress = progress
            try:
                with NWBHDF5IO(tmp, mode="w") as io:
                    io.write(self.nwbfile)
                if self._parallel_traces:
                    import h5py

                    with h5py.File(tmp, "r+") as file:
                        for dataset, npy_path, buffer_bytes in self._parallel_traces:
                            write_chunks_in_parallel(
                                file[dataset], npy_path, self.gzip_level, self.workers, buffer_bytes, progress
                            )
            finally:
                self._progress = None


def footprint_masks(footprints, n_rois: int) -> dict:
    """`calcium.input.footprints.Footprints` as the writer's masks: {"pixel_mask": (flat (x, y,
    weight) records, cumulative ends per ROI)}, or {} when there are none (or an ROI has no
    pixel: NWB tools refuse empty masks)."""
    if footprints is None or footprints.empty:
        return {}
    ends = footprints.ends(n_rois)
    if np.any(np.diff(np.concatenate([[0], ends])) == 0):
        return {}
    flat = np.zeros(footprints.roi.size, dtype=[("x", np.uint32), ("y", np.uint32), ("weight", np.float32)])
    flat["x"], flat["y"], flat["weight"] = footprints.x, footprints.y, footprints.weight
    return {"pixel_mask": (flat, ends)}


def json_text(data) -> str:
    """Compact, key-sorted JSON (for parameters stored in the file's metadata)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
