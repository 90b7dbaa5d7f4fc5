"""ROI footprints (pixel masks) and the mean image of a session's input, read once at ingest.

The ingest stage writes them to ``results/<session>/ingest/footprints.npz`` (the NWB
output's ROI masks and mean image come from it; an ROI map can be drawn from it). The
file is a plain ``np.savez_compressed`` archive (no pickled objects; read it with
``np.load(path)`` or :func:`load_footprints`) holding:

- ``roi``: int32 (n_pixels,) — the ROI of each pixel, as its row in the workflow's ROI
  table (``neuron`` in ``ingest/neurons.tsv``: 0 … n_neurons−1); pixels are grouped by
  ROI in ascending order.
- ``y``, ``x``: int32 (n_pixels,) — the pixel's row and column in the imaging field
  (pixels; y down, x right, as Suite2p's ``ypix``/``xpix`` and NWB's pixel_mask y/x).
- ``weight``: float32 (n_pixels,) — the pixel's weight in the ROI (Suite2p's ``lam``,
  NWB's pixel_mask weight or image_mask value; unitless, > 0).
- ``image_shape``: int64 (2,) — (height, width) of the field in pixels; (0, 0) unknown.
- ``mean_image``: float32 (height, width) — the mean image of the movie (Suite2p
  ``ops.npy`` ``meanImg``, or an NWB input's mean image), in the movie's units;
  shape (0, 0) when the input has none.
- ``source``: str scalar — where they came from ("suite2p", "nwb", or "none").

An input without footprints (a CSV or a bare .npy of traces) gives ``n_pixels`` = 0 and
an empty mean image: the file always exists, possibly empty.

Suite2p's ``stat.npy`` and ``ops.npy`` are pickled NumPy object arrays; they are read
with an unpickler that admits nothing but NumPy arrays, dtypes, scalars and date-times
inside plain dicts and lists (:func:`load_suite2p_pickle`), never with a general unpickler.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from calcium.errors import InputError

# The only globals a Suite2p pickle may name: NumPy's array and scalar reconstructors, and
# the date-times ops.npy records (plain data, no code runs on loading them).
_ALLOWED_GLOBALS = {
    ("datetime", "datetime"),
    ("datetime", "date"),
    ("datetime", "timedelta"),
    ("datetime", "timezone"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
}
# Names of a mean image in an NWB input's Images containers, in order of preference.
MEAN_IMAGE_NAMES = ("meanImg", "mean", "mean_image", "MeanImage", "average", "average_image")


@dataclass
class Footprints:
    """Per-pixel ROI membership (see the module docstring for units and shapes)."""

    roi: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    y: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    x: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    weight: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    image_shape: tuple[int, int] = (0, 0)
    mean_image: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    source: str = "none"

    @property
    def empty(self) -> bool:
        return self.roi.size == 0

    def ends(self, n_rois: int) -> np.ndarray:
        """Cumulative pixel counts per ROI (the end of each ROI's pixels), int64 (n_rois,)."""
        return np.searchsorted(self.roi, np.arange(n_rois), side="right").astype(np.int64)

    def describe(self) -> str:
        """One line for the log: pixels, ROIs, the mean image's shape and where they come from."""
        image = "x".join(map(str, self.mean_image.shape)) if self.mean_image.size else "none"
        n_rois = len(set(self.roi.tolist()))
        return f"{self.roi.size} pixels of {n_rois} ROIs, mean image {image} ({self.source})"


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a Suite2p file")


def load_suite2p_pickle(path: str | os.PathLike):
    """The object array of a Suite2p stat.npy / ops.npy, unpickled admitting only NumPy
    arrays, dtypes, scalars and date-times (within dicts, lists, numbers, strings). Raises InputError
    naming the file if it is not such an array."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, _, dtype = read_header(handle)
            if dtype != np.dtype(object):
                raise InputError(f"{path}: expected a pickled object array (Suite2p), found dtype {dtype}.")
            array = _NumpyOnlyUnpickler(handle).load()
    except InputError:
        raise
    except (OSError, ValueError, EOFError, pickle.UnpicklingError, AttributeError, TypeError) as error:
        raise InputError(f"{path}: cannot be read as a Suite2p file ({error}).") from None
    array = np.asarray(array, dtype=object)
    if array.shape != tuple(shape):
        raise InputError(f"{path}: holds shape {array.shape}, its header says {tuple(shape)}.")
    return array


def _from_lists(pixel_lists, image_shape=(0, 0), mean_image=None, source="none") -> Footprints:
    """Footprints from one (y, x, weight) triple of arrays per ROI, in ROI order."""
    counts = [len(y) for y, _, _ in pixel_lists]
    if not pixel_lists or sum(counts) == 0:
        roi = y = x = np.zeros(0, np.int32)
        weight = np.zeros(0, np.float32)
    else:
        roi = np.repeat(np.arange(len(pixel_lists), dtype=np.int32), counts)
        y = np.concatenate([np.asarray(p[0], np.int32) for p in pixel_lists])
        x = np.concatenate([np.asarray(p[1], np.int32) for p in pixel_lists])
        weight = np.concatenate([np.asarray(p[2], np.float32) for p in pixel_lists])
    mean = np.zeros((0, 0), np.float32) if mean_image is None else np.asarray(mean_image, np.float32)
    if mean.size and image_shape == (0, 0):
        image_shape = tuple(int(n) for n in mean.shape[:2])
    return Footprints(roi, y, x, weight, tuple(int(n) for n in image_shape), mean, source)


def suite2p_footprints(folder: str | os.PathLike, rois: np.ndarray) -> Footprints:
    """Footprints of the ROIs `rois` (indices into stat.npy, in the workflow's ROI order) and
    ops.npy's meanImg from a Suite2p plane folder. A folder without stat.npy gives no pixels;
    without ops.npy, no mean image."""
    folder = Path(folder)
    pixel_lists, image_shape, mean = [], (0, 0), None
    if (folder / "ops.npy").is_file():
        ops = load_suite2p_pickle(folder / "ops.npy")
        ops = ops.item() if ops.shape == () else ops[0]
        if not isinstance(ops, dict):
            raise InputError(f"{folder / 'ops.npy'}: expected Suite2p's dict of settings.")
        if "meanImg" in ops:
            mean = np.asarray(ops["meanImg"], np.float32)
        if "Ly" in ops and "Lx" in ops:
            image_shape = (int(ops["Ly"]), int(ops["Lx"]))
    if (folder / "stat.npy").is_file():
        stat = load_suite2p_pickle(folder / "stat.npy")
        if stat.ndim != 1 or (len(rois) and int(np.max(rois)) >= len(stat)):
            raise InputError(f"{folder / 'stat.npy'}: {stat.shape} entries do not match F.npy's ROIs.")
        for i in rois:
            entry = stat[int(i)]
            try:
                ypix, xpix = np.asarray(entry["ypix"]), np.asarray(entry["xpix"])
                lam = np.asarray(entry["lam"]) if "lam" in entry else np.ones(len(ypix), np.float32)
            except (KeyError, TypeError, IndexError):
                raise InputError(
                    f"{folder / 'stat.npy'}: ROI {i} has no ypix/xpix pixel lists (Suite2p's stat format)."
                ) from None
            if not (len(ypix) == len(xpix) == len(lam)):
                raise InputError(f"{folder / 'stat.npy'}: ROI {i}: ypix, xpix and lam differ in length.")
            pixel_lists.append((ypix, xpix, lam))
    return _from_lists(
        pixel_lists, image_shape, mean, "suite2p" if pixel_lists or mean is not None else "none"
    )


def masks_footprints(masks: dict, mean_image: np.ndarray | None = None) -> Footprints:
    """Footprints from an NWB input's ROI masks (`calcium.input.nwb.open_roi_masks`):
    pixel_mask (x, y, weight) lists, or image masks (their non-zero pixels). Voxel (3-D)
    masks give no pixels."""
    pixel_lists, image_shape = [], (0, 0)
    if "pixel_mask" in masks:
        flat, ends = masks["pixel_mask"]
        starts = np.concatenate([[0], ends[:-1]])
        for a, b in zip(starts, ends, strict=True):
            part = flat[int(a) : int(b)]
            pixel_lists.append((part["y"], part["x"], part["weight"]))
    elif "image_mask" in masks:
        for image in _mask_images(masks["image_mask"]):
            if image.ndim != 2:
                return _from_lists([], mean_image=mean_image, source="nwb")
            y, x = np.nonzero(image)
            pixel_lists.append((y, x, image[y, x]))
            image_shape = image.shape
    source = "nwb" if pixel_lists or mean_image is not None else "none"
    return _from_lists(pixel_lists, image_shape, mean_image, source)


def _mask_images(source):
    """One 2-D (or 3-D) mask per ROI from an array or an hdmf DataChunkIterator of them."""
    for item in source:
        data = getattr(item, "data", item)  # a DataChunk holds a block of ROIs
        block = np.asarray(data)
        if hasattr(item, "data"):
            yield from block
        else:
            yield block


def nwb_mean_image(nwbfile) -> np.ndarray | None:
    """The mean image in an NWB file's processing/ophys Images containers, if any (2-D)."""
    from pynwb.base import Images

    ophys = nwbfile.processing.get("ophys") if nwbfile.processing else None
    if ophys is None:
        return None
    for container in ophys.data_interfaces.values():
        if isinstance(container, Images):
            for name in MEAN_IMAGE_NAMES:
                if name in container.images and np.asarray(container.images[name].data).ndim == 2:
                    return np.asarray(container.images[name].data, np.float32)
    return None


def save_footprints(path: str | os.PathLike, footprints: Footprints) -> None:
    """Write `footprints` as the .npz the module docstring describes."""
    from calcium.io import atomic_path

    with atomic_path(path, suffix=".npz") as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(
            handle,
            roi=footprints.roi.astype(np.int32),
            y=footprints.y.astype(np.int32),
            x=footprints.x.astype(np.int32),
            weight=footprints.weight.astype(np.float32),
            image_shape=np.asarray(footprints.image_shape, np.int64),
            mean_image=footprints.mean_image.astype(np.float32),
            source=np.array(footprints.source),
        )


def load_footprints(path: str | os.PathLike) -> Footprints:
    """Read a footprints .npz written by :func:`save_footprints`."""
    with np.load(path, allow_pickle=False) as data:
        return Footprints(
            data["roi"],
            data["y"],
            data["x"],
            data["weight"],
            tuple(int(n) for n in data["image_shape"]),
            data["mean_image"],
            str(data["source"]),
        )


def input_footprints(path: str | os.PathLike, settings=None, nwb=None) -> Footprints:
    """The footprints of a session input, for the ROIs (and in the order) ingest keeps.

    path: the sheet's `path`; settings: `calcium.input.ingest.InputSettings`; nwb:
    `calcium.input.ingest.NwbSelection`. Suite2p folders: stat.npy pixels and ops.npy meanImg;
    NWB files: the series' ROI masks and a mean image; CSV and .npy: none (empty).
    """
    from calcium.input.ingest import InputSettings, NwbSelection, input_format

    settings = settings or InputSettings()
    kind = input_format(path)
    if kind == "suite2p":
        from calcium.input.arrays import read_suite2p

        traces, _ = read_suite2p(path, settings.neuropil_coefficient, settings.suite2p_cells_only)
        return suite2p_footprints(path, traces.rois)
    if kind == "nwb":
        from calcium.input.nwb import open_roi_masks
        from calcium.input.nwb_series import open_nwb

        nwb = nwb or NwbSelection()
        with open_nwb(Path(path), "the mean image") as nwbfile:
            mean = nwb_mean_image(nwbfile)
        with open_roi_masks(path, nwb.series or None, nwb.input_kind, settings.suite2p_cells_only) as masks:
            return masks_footprints(masks, mean)
    return Footprints()
