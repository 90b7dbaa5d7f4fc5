"""Fluorescence stored as arrays: a 2-D .npy, or a Suite2p output folder.

Arrays are opened memory-mapped and never unpickled; callers copy them in blocks
of neurons, so memory stays bounded for recordings larger than RAM. Errors are
:class:`calcium.errors.InputError` naming the file and the fix.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from calcium.errors import InputError

SUITE2P_FILES = ("F.npy", "Fneu.npy", "iscell.npy")


def _open_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as error:
        raise InputError(f"{path}: not a plain numeric .npy ({error}); pickled arrays are refused.") from None
    except OSError as error:
        raise InputError(f"{path}: cannot be read as a .npy file ({error.strerror or error}).") from None


def _check_real_2d(path: Path, array: np.ndarray, what: str) -> None:
    if np.issubdtype(array.dtype, np.complexfloating):
        raise InputError(
            f"{path}: complex values (dtype {array.dtype}); fluorescence must be real. Save the "
            "magnitude or the real part explicitly (e.g. np.abs(a) or a.real)."
        )
    if not np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_ or array.ndim != 2:
        raise InputError(
            f"{path}: expected a 2-D numeric array ({what}), got dtype {array.dtype} and shape {array.shape}."
        )


def read_fluorescence_npy(path: str | os.PathLike, orientation: str = "neurons_x_frames") -> np.ndarray:
    """Open a 2-D real numeric .npy memory-mapped, never unpickling.

    Returns a (neurons, frames) view (transposed for frames_x_neurons).
    Raises InputError for object/pickled arrays, complex or non-numeric dtypes,
    wrong dimensionality or too few frames (non-finite values are checked while
    copying).
    """
    path = Path(path)
    array = _open_npy(path)
    _check_real_2d(path, array, "neurons x frames")
    if orientation == "frames_x_neurons":
        array = array.T
    if array.shape[0] == 0:
        raise InputError(f"{path}: the array holds no neurons.")
    if array.shape[1] < 2:
        raise InputError(f"{path}: only {array.shape[1]} frame per neuron; a recording needs at least 2.")
    return array


class NeuropilCorrected:
    """Lazy (cells, frames) view of Suite2p traces: F − r·Fneu for the chosen ROIs.

    Indexing with a slice of rows reads only those ROIs from the memory-mapped
    F.npy and Fneu.npy and returns float32.
    """

    def __init__(self, fluorescence: np.ndarray, neuropil: np.ndarray, rois: np.ndarray, coefficient: float):
        self.fluorescence = fluorescence
        self.neuropil = neuropil
        self.rois = rois
        self.coefficient = coefficient
        self.shape = (len(rois), fluorescence.shape[1])

    def neuropil_rows(self, rows: slice) -> np.ndarray:
        """The neuropil Fneu of the chosen ROIs `rows`, float32 (rows, frames)."""
        return np.asarray(self.neuropil[self.rois[rows]], dtype=np.float32)

    def __getitem__(self, rows: slice) -> np.ndarray:
        chosen = self.rois[rows]
        f = np.asarray(self.fluorescence[chosen], dtype=np.float32)
        return f - np.float32(self.coefficient) * np.asarray(self.neuropil[chosen], dtype=np.float32)


def read_suite2p(
    folder: str | os.PathLike, neuropil_coefficient: float = 0.7, cells_only: bool = True
) -> tuple[NeuropilCorrected, list[str]]:
    """Neuropil-corrected fluorescence from a Suite2p output folder (plane folder).

    Reads F.npy, Fneu.npy and (if cells_only) iscell.npy memory-mapped, never
    unpickling; ops.npy is not read (it is a pickle): the frame rate comes from the
    session sheet. Returns (lazy traces F − r·Fneu of the kept ROIs, ROI labels
    "roi_<index in F.npy>"). Raises InputError naming the folder and file.
    """
    folder = Path(folder)
    arrays = {}
    for name in SUITE2P_FILES[: 3 if cells_only else 2]:
        path = folder / name
        if not path.is_file():
            raise InputError(f"{folder}: no {name}; a Suite2p folder holds F.npy, Fneu.npy and iscell.npy.")
        arrays[name] = _open_npy(path)
    fluorescence, neuropil = arrays["F.npy"], arrays["Fneu.npy"]
    _check_real_2d(folder / "F.npy", fluorescence, "ROIs x frames")
    _check_real_2d(folder / "Fneu.npy", neuropil, "ROIs x frames")
    if fluorescence.shape != neuropil.shape:
        raise InputError(
            f"{folder}: F.npy {fluorescence.shape} and Fneu.npy {neuropil.shape} must be 2-D arrays "
            "of one shape."
        )
    rois = np.arange(fluorescence.shape[0])
    if cells_only:
        iscell = arrays["iscell.npy"]
        if (
            not (np.issubdtype(iscell.dtype, np.number) or iscell.dtype == np.bool_)
            or np.issubdtype(iscell.dtype, np.complexfloating)
            or iscell.ndim not in (1, 2)
            or (iscell.ndim == 2 and iscell.shape[1] == 0)
        ):
            raise InputError(
                f"{folder / 'iscell.npy'}: expected Suite2p's classification, numbers of shape (ROIs,) or "
                f"(ROIs, 2), got dtype {iscell.dtype} and shape {iscell.shape}; replace it with Suite2p's "
                "iscell.npy, or set input.suite2p_cells_only: false to keep every ROI."
            )
        flags = np.asarray(iscell[:, 0] if iscell.ndim == 2 else iscell, dtype=np.float64)
        if flags.shape[0] != fluorescence.shape[0]:
            raise InputError(
                f"{folder}: iscell.npy has {flags.shape[0]} rows but F.npy {fluorescence.shape[0]} ROIs."
            )
        rois = rois[flags > 0.5]
    if rois.size == 0:
        raise InputError(
            f"{folder}: no ROI is classified as a cell in iscell.npy (set input.suite2p_cells_only: false)."
        )
    if fluorescence.shape[1] < 2:
        raise InputError(
            f"{folder}: F.npy holds {fluorescence.shape[1]} frame(s); a recording needs at least 2."
        )
    return NeuropilCorrected(fluorescence, neuropil, rois, neuropil_coefficient), [f"roi_{i}" for i in rois]
