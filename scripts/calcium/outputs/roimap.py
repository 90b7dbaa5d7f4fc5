"""The ROI map: footprints over the mean image, coloured by ensemble, response type or a feature.

Pixels: (y, x) in the imaging field, y down (see `calcium.input.footprints`). Where ROIs overlap, a
pixel shows the ROI with the largest weight there (ties: the higher ROI id).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from calcium.outputs.palette import NO_ENSEMBLE, ensemble_colour, stimulus_colours

NO_DATA_NOTE = (
    "no ROI footprints in this session's input (CSV or .npy traces carry none); Suite2p folders "
    "(stat.npy + ops.npy) and NWB files with image or pixel masks have them"
)


@dataclass
class MapFootprints:
    """The footprints.npz arrays (`calcium.input.footprints` documents them), read without the
    NWB/Suite2p readers of that module (the map's jobs need NumPy only)."""

    roi: np.ndarray
    y: np.ndarray
    x: np.ndarray
    weight: np.ndarray
    image_shape: tuple[int, int]
    mean_image: np.ndarray
    source: str

    @property
    def empty(self) -> bool:
        return self.roi.size == 0


def read_footprints(path) -> MapFootprints:
    """Read results/<session>/ingest/footprints.npz (a plain NumPy archive, no pickles)."""
    with np.load(path, allow_pickle=False) as data:
        return MapFootprints(
            data["roi"],
            data["y"],
            data["x"],
            data["weight"],
            tuple(int(n) for n in data["image_shape"]),
            data["mean_image"],
            str(data["source"]),
        )


def field_shape(footprints) -> tuple[int, int]:
    """(height, width) of the field: the footprints' image_shape, or what the pixels span."""
    height, width = (int(n) for n in footprints.image_shape)
    if footprints.mean_image.size:
        height, width = (
            max(height, footprints.mean_image.shape[0]),
            max(width, footprints.mean_image.shape[1]),
        )
    if footprints.roi.size:
        height = max(height, int(footprints.y.max()) + 1)
        width = max(width, int(footprints.x.max()) + 1)
    return height, width


def label_image(footprints, n_rois: int) -> np.ndarray:
    """(height, width) int32: the ROI shown at each pixel (-1: none)."""
    height, width = field_shape(footprints)
    labels = np.full(height * width, -1, dtype=np.int32)
    keep = (footprints.roi >= 0) & (footprints.roi < n_rois)
    roi, y, x, weight = (a[keep] for a in (footprints.roi, footprints.y, footprints.x, footprints.weight))
    order = np.lexsort((roi, weight))  # ascending weight, then id: the last write wins
    labels[(y[order].astype(np.int64) * width + x[order])] = roi[order]
    return labels.reshape(height, width)


def grey_image(footprints) -> np.ndarray:
    """The mean image as uint8 (1st to 99.5th percentile stretched to 0-255), or zeros of the
    field's shape when there is none."""
    height, width = field_shape(footprints)
    image = np.asarray(footprints.mean_image, dtype=np.float64)
    out = np.zeros((height, width), dtype=np.uint8)
    if image.size == 0 or not np.isfinite(image).any():
        return out
    low, high = np.nanpercentile(image, [1.0, 99.5])
    scaled = np.clip((image - low) / (high - low if high > low else 1.0), 0, 1)
    out[: image.shape[0], : image.shape[1]] = np.nan_to_num(scaled * 255).astype(np.uint8)
    return out


def centres(footprints, n_rois: int) -> np.ndarray:
    """(n_rois, 2) weighted centroid (y, x) of each ROI in pixels; NaN for an ROI without pixels."""
    total = np.bincount(footprints.roi, weights=footprints.weight, minlength=n_rois)[:n_rois]
    with np.errstate(invalid="ignore", divide="ignore"):
        y = (
            np.bincount(footprints.roi, weights=footprints.weight * footprints.y, minlength=n_rois)[:n_rois]
            / total
        )
        x = (
            np.bincount(footprints.roi, weights=footprints.weight * footprints.x, minlength=n_rois)[:n_rois]
            / total
        )
    return np.column_stack([y, x])


def roi_colours(
    n_rois: int,
    by: str,
    members: pd.DataFrame | None = None,
    regression: pd.DataFrame | None = None,
    features: pd.DataFrame | None = None,
    column: str | None = None,
) -> tuple[list[str], dict[str, str]]:
    """Colour (hex) of each ROI and the legend ({label: colour}).

    by "ensemble": the lowest ensemble it is a member of (`calcium.outputs.palette`), grey if none;
    "response": the stimulus of its response type (suppressed: the same stimulus colour),
    grey if not stimulus-locked; "feature": `column` of `features` on viridis, 5th to 95th
    percentile, grey where missing.
    """
    colours = [NO_ENSEMBLE] * n_rois
    legend: dict[str, str] = {}
    if by == "ensemble":
        table = (
            members if members is not None and len(members) else pd.DataFrame(columns=["ensemble", "neuron"])
        )
        table = table[table.get("member", pd.Series(dtype=bool)).astype(bool)].sort_values(
            ["ensemble", "neuron"]
        )
        for ensemble, neuron in zip(table.ensemble, table.neuron, strict=True):
            if 0 <= neuron < n_rois and colours[neuron] == NO_ENSEMBLE:
                colours[neuron] = ensemble_colour(ensemble)
                legend[f"ensemble {ensemble}"] = ensemble_colour(ensemble)
        legend["no ensemble"] = NO_ENSEMBLE
    elif by == "response" and regression is not None and len(regression):
        kinds = regression.response_type.astype(str)
        stimuli = [k.removeprefix("suppressed:") for k in kinds if k != "not stimulus-locked"]
        palette = stimulus_colours(sorted(set(stimuli)))
        for neuron, kind in zip(regression.neuron, kinds, strict=True):
            if kind != "not stimulus-locked" and 0 <= neuron < n_rois:
                colours[neuron] = palette[kind.removeprefix("suppressed:")]
        legend = {name: colour for name, colour in palette.items()}
        legend["not stimulus-locked"] = NO_ENSEMBLE
    elif by == "feature" and features is not None and column in features:
        import matplotlib

        values = pd.Series(np.nan, index=range(n_rois))
        values[features.neuron.to_numpy()] = features[column].to_numpy(dtype=float)
        finite = values[np.isfinite(values)]
        if len(finite):
            low, high = np.percentile(finite, [5, 95])
            scaled = np.clip((values - low) / (high - low if high > low else 1.0), 0, 1)
            cmap = matplotlib.colormaps["viridis"]
            for neuron in np.flatnonzero(np.isfinite(values.to_numpy())):
                colours[neuron] = matplotlib.colors.to_hex(cmap(scaled[neuron]))
            legend = {f"{column} {low:.3g}": matplotlib.colors.to_hex(cmap(0.0))}
            legend[f"{column} {high:.3g}"] = matplotlib.colors.to_hex(cmap(1.0))
    return colours, legend
