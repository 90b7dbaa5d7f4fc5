"""NWB: the file's frame: NWBFile with its metadata, device and imaging plane, the ROI table
(PlaneSegmentation with the input's masks, or none known) and the mean image.

`footprint_masks` turns ingest's footprints into the masks the ROI table copies.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from calcium.outputs.nwb_columns import COLUMN_DESCRIPTIONS, column_data, describe_column


def new_nwbfile(metadata, frame_rate_hz: float):
    """An NWBFile holding `metadata` (`calcium.outputs.nwb_session.SessionMetadata`), its
    device and its imaging plane (imaged at `frame_rate_hz`, Hz); returns (file, plane)."""
    from pynwb import NWBFile
    from pynwb.file import Subject
    from pynwb.ophys import OpticalChannel

    nwbfile = NWBFile(
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
        nwbfile.subject = Subject(**metadata.subject)
    plane = metadata.imaging_plane
    model = None
    if plane.get("manufacturer"):  # pynwb >= 3: the manufacturer belongs to the device's model
        model = nwbfile.create_device_model(
            name=f"{plane.get('device') or 'Microscope'} model", manufacturer=plane["manufacturer"]
        )
    device = nwbfile.create_device(
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
    imaging_plane = nwbfile.create_imaging_plane(
        name="ImagingPlane",
        optical_channel=channel,
        description=plane.get("description") or "imaging plane of the analysed ROIs",
        device=device,
        excitation_lambda=float(plane.get("excitation_lambda", math.nan)),
        imaging_rate=float(frame_rate_hz),
        indicator=plane.get("indicator") or "unknown",
        location=plane.get("location") or "unknown",
    )
    return nwbfile, imaging_plane


def summary_images(mean_image: np.ndarray):
    """processing/ophys/SummaryImages holding the (height, width) mean image."""
    from pynwb.base import Images
    from pynwb.image import GrayscaleImage

    return Images(
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


def roi_table(labels, masks: dict, roi_columns: pd.DataFrame | None, imaging_plane, gzip_level: int):
    """The ROI table (PlaneSegmentation): one row per label, the input's `masks` copied
    (none known: `no_masks`), `roi_columns` as further columns."""
    from hdmf.backends.hdf5 import H5DataIO
    from hdmf.common import VectorData, VectorIndex
    from pynwb.ophys import PlaneSegmentation

    label = VectorData(name="label", data=[str(v) for v in labels], description=COLUMN_DESCRIPTIONS["label"])
    copied = "the input's ROI mask, copied"
    if "image_mask" in masks:
        data = H5DataIO(masks["image_mask"], compression="gzip", compression_opts=max(1, gzip_level))
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
        columns = [label, *no_masks(len(labels))]
    for column in roi_columns.columns if roi_columns is not None else ():
        columns.append(
            VectorData(
                name=column,
                data=column_data(roi_columns[column], gzip_level),
                description=describe_column(column),
            )
        )
    return PlaneSegmentation(
        name="PlaneSegmentation",
        description="ROIs analysed by the workflow; id = the workflow's neuron index",
        imaging_plane=imaging_plane,
        id=np.arange(len(labels)),
        columns=columns,
    )


def no_masks(n_rois: int):
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
