"""The ROI map: which ROI a pixel shows, colours by ensemble / response / feature, the figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from conftest import SHARED  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

from calcium.input.footprints import Footprints, suite2p_footprints  # noqa: E402
from calcium.outputs.palette import NO_ENSEMBLE, ensemble_colour, stimulus_colours  # noqa: E402
from calcium.outputs.population_plots import roi_map_figure  # noqa: E402
from calcium.outputs.roimap import centres, field_shape, grey_image, label_image, roi_colours  # noqa: E402

SUITE2P = SHARED / "data" / "population" / "suite2p-fissa-example-plane0"


def two_overlapping_rois():
    # ROI 0: pixels (1,1), (1,2) weights 1, 0.2; ROI 1: (1,2), (2,2) weights 0.9, 1
    return Footprints(
        np.array([0, 0, 1, 1], np.int32),
        np.array([1, 1, 1, 2], np.int32),
        np.array([1, 2, 2, 2], np.int32),
        np.array([1.0, 0.2, 0.9, 1.0], np.float32),
        (4, 5),
        np.arange(20, dtype=np.float32).reshape(4, 5),
        "nwb",
    )


def test_a_pixel_shows_the_roi_with_the_largest_weight_there():
    fp = two_overlapping_rois()
    labels = label_image(fp, 2)
    assert labels.shape == field_shape(fp) == (4, 5)
    assert labels[1, 1] == 0 and labels[1, 2] == 1 and labels[2, 2] == 1
    assert (labels == -1).sum() == 20 - 3
    np.testing.assert_allclose(centres(fp, 3)[:2], [[1.0, 1 + 0.2 / 1.2], [1 + 1 / 1.9, 2.0]])
    assert np.isnan(centres(fp, 3)[2]).all()  # an ROI without pixels
    grey = grey_image(fp)
    assert grey.dtype == np.uint8 and grey[0, 0] == 0 and grey[-1, -1] == 255


def test_colours_by_ensemble_response_and_feature():
    members = pd.DataFrame({"ensemble": [1, 0, 0], "neuron": [2, 2, 0], "member": [True, True, False]})
    colours, legend = roi_colours(3, "ensemble", members=members)
    assert colours == [NO_ENSEMBLE, NO_ENSEMBLE, ensemble_colour(0)]  # lowest ensemble of a member
    regression = pd.DataFrame(
        {"neuron": [0, 1, 2], "response_type": ["puff", "suppressed:tone", "not stimulus-locked"]}
    )
    colours, legend = roi_colours(3, "response", regression=regression)
    palette = stimulus_colours(["puff", "tone"])
    assert colours == [palette["puff"], palette["tone"], NO_ENSEMBLE]
    features = pd.DataFrame({"neuron": [0, 1, 2], "event_rate_per_min": [1.0, np.nan, 9.0]})
    colours, legend = roi_colours(3, "feature", features=features, column="event_rate_per_min")
    assert colours[1] == NO_ENSEMBLE and colours[0] != colours[2]


def test_roi_map_figure_draws_the_rois_in_their_colours_over_the_mean_image():
    fp = two_overlapping_rois()
    colours = [ensemble_colour(0), ensemble_colour(1)]
    figure = roi_map_figure(fp, 2, colours, {"ensemble 0": colours[0]}, "a title")
    ax = figure.axes[0]
    image = ax.images[0].get_array()
    np.testing.assert_allclose(image[1, 1], to_rgb(colours[0]))  # an edge: the ROI's colour
    np.testing.assert_allclose(image[0, 0], [0, 0, 0])  # no ROI: the mean image (its darkest pixel)
    assert ax.get_xlabel() == "x (pixels)" and ax.get_ylabel() == "y (pixels)"
    assert [t.get_text() for t in ax.texts] == ["0", "1"]
    plt.close(figure)
    empty = roi_map_figure(Footprints(), 3, [NO_ENSEMBLE] * 3, {})
    assert "no ROI footprints" in empty.axes[0].texts[0].get_text()
    plt.close(empty)


@pytest.mark.skipif(not (SUITE2P / "stat.npy").exists(), reason="shared Suite2p example not present")
def test_real_suite2p_footprints_give_one_region_per_cell():
    iscell = np.load(SUITE2P / "iscell.npy")
    rois = np.flatnonzero(iscell[:, 0] > 0) if iscell.ndim == 2 else np.arange(iscell.size)
    fp = suite2p_footprints(SUITE2P, rois)
    labels = label_image(fp, rois.size)
    assert labels.shape == fp.mean_image.shape
    shown = np.unique(labels[labels >= 0])
    assert shown.size >= 0.9 * rois.size  # overlaps hide at most a few ROIs entirely
    figure = roi_map_figure(fp, rois.size, [ensemble_colour(k % 3) for k in range(rois.size)], {})
    assert figure.axes[0].images[0].get_array().shape[:2] == labels.shape
    plt.close(figure)


def test_the_map_reads_the_ingest_archive_as_written(tmp_path):
    from calcium.input.footprints import save_footprints
    from calcium.outputs.roimap import read_footprints

    fp = two_overlapping_rois()
    save_footprints(tmp_path / "footprints.npz", fp)
    back = read_footprints(tmp_path / "footprints.npz")
    for name in ("roi", "y", "x", "weight", "mean_image"):
        np.testing.assert_array_equal(getattr(back, name), getattr(fp, name))
    assert back.image_shape == (4, 5) and back.source == "nwb" and not back.empty
    np.testing.assert_array_equal(label_image(back, 2), label_image(fp, 2))


def test_roi_interiors_blend_their_colour_with_the_mean_image_and_grey_rois_get_white_edges():
    yy, xx = np.mgrid[1:4, 1:4]
    fp = Footprints(
        np.zeros(9, np.int32),
        yy.ravel().astype(np.int32),
        xx.ravel().astype(np.int32),
        np.ones(9, np.float32),
        (6, 6),
        np.arange(36, dtype=np.float32).reshape(6, 6),
        "suite2p",
    )
    for colour, edge in ((ensemble_colour(2), to_rgb(ensemble_colour(2))), (NO_ENSEMBLE, (1.0, 1.0, 1.0))):
        figure = roi_map_figure(fp, 1, [colour], {})
        image = figure.axes[0].images[0].get_array()
        grey = grey_image(fp)[2, 2] / 255
        np.testing.assert_allclose(image[2, 2], 0.45 * grey + 0.55 * np.array(to_rgb(colour)), atol=1e-6)
        np.testing.assert_allclose(image[1, 1], edge)
        plt.close(figure)
