"""NWB: trace arrays written in compressed chunks.

A (neurons, frames) float32 .npy becomes a (frames, neurons) dataset: `trace_data` wraps it for
the writer (streamed at write time, `chunk_shapes` sets the chunks and the write buffer);
with gzip, `write_chunks_in_parallel` fills the chunks afterwards, compressed on several
threads (`encode_chunk` is one chunk as HDF5's shuffle + deflate filters store it).
"""

from __future__ import annotations

import math
import os

import numpy as np


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


def trace_data(npy_path: str | os.PathLike, n_neurons: int, gzip_level: int, buffer_bytes: int, progress):
    """The data of a RoiResponseSeries for a (neurons, frames) float32 .npy of `n_neurons` rows.

    gzip_level > 0: an empty (frames, neurons) dataset with the chunks and filters, which
    `write_chunks_in_parallel` fills once the file is written; 0: the array streamed through
    an iterator at write time. buffer_bytes: most bytes read from the .npy at a time (at least
    one chunk column); progress: () -> calcium.progress.Progress or None (neuron rows read).
    Returns the data and the array's shape (neurons, frames).
    """
    from hdmf.backends.hdf5 import H5DataIO

    from calcium.io import load_npy

    shape = tuple(load_npy(npy_path).shape)
    if shape[0] != n_neurons:
        raise ValueError(f"{npy_path}: {shape[0]} neurons but the ROI table has {n_neurons}")
    chunk, buffer = chunk_shapes(*shape, buffer_bytes=buffer_bytes)
    if gzip_level:
        # An empty dataset with the filters: `write` fills its chunks, compressed in parallel.
        from hdmf.data_utils import DataChunkIterator

        empty = DataChunkIterator(data=None, maxshape=(shape[1], shape[0]), dtype=np.dtype(np.float32))
        data = H5DataIO(empty, chunks=chunk, compression="gzip", compression_opts=gzip_level, shuffle=True)
    else:
        iterator = _npy_iterator_class()(
            npy_path, shape, progress=progress, chunk_shape=chunk, buffer_shape=buffer
        )
        data = H5DataIO(iterator)
    return data, shape


class TraceSeries:
    """The traces of one NWB file: RoiResponseSeries in containers of processing/ophys, their
    data streamed at write time (gzip_level 0) or filled afterwards by `fill`, chunks
    compressed on `workers` threads. rows: neuron rows of every array added (the progress
    total); progress: the `calcium.progress.Progress` of the write under way, or None."""

    def __init__(self, ophys, rois, frame_rate_hz: float, start_time_s: float, gzip_level: int, workers: int):
        self.ophys, self.rois = ophys, rois
        self.frame_rate_hz, self.start_time_s = frame_rate_hz, start_time_s
        self.gzip_level, self.workers = gzip_level, workers
        self.parallel: list[tuple[str, str, int]] = []  # (dataset, .npy, buffer) filled at write
        self.rows = 0
        self.progress = None
        self.containers: dict = {}

    def add(
        self,
        container: str,
        container_type: str,
        name: str,
        npy_path,
        description: str,
        unit: str,
        buffer_bytes: int,
    ):
        """`calcium.outputs.nwb.SessionNwbWriter.add_traces`."""
        from pynwb.ophys import DfOverF, Fluorescence, RoiResponseSeries

        from calcium.outputs.nwb_columns import roi_region

        n_neurons = len(self.rois)
        data, shape = trace_data(npy_path, n_neurons, self.gzip_level, buffer_bytes, lambda: self.progress)
        if self.gzip_level:
            self.parallel.append((f"processing/ophys/{container}/{name}/data", str(npy_path), buffer_bytes))
        self.rows += shape[0]
        series = RoiResponseSeries(
            name=name,
            data=data,
            rois=roi_region("rois", np.arange(n_neurons), "every ROI, in the ROI table's order", self.rois),
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

    def fill(self, path: str | os.PathLike, progress) -> None:
        """Fill the gzip-compressed traces' chunks in the file just written at `path`."""
        if not self.parallel:
            return
        import h5py

        with h5py.File(path, "r+") as file:
            for dataset, npy_path, buffer_bytes in self.parallel:
                write_chunks_in_parallel(
                    file[dataset], npy_path, self.gzip_level, self.workers, buffer_bytes, progress
                )
