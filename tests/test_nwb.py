"""NWB input and output: layouts, rates, bad files, the writer, and the workflow's own NWB files."""

from __future__ import annotations

import io
import json
import shutil
import tomllib
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, copy_workflow, prestarted, snakemake

pynwb = pytest.importorskip("pynwb")
from nwbinspector import Importance, inspect_nwbfile  # noqa: E402
from pynwb import NWBHDF5IO, NWBFile  # noqa: E402
from pynwb.epoch import TimeIntervals  # noqa: E402
from pynwb.file import Subject  # noqa: E402
from pynwb.ophys import Fluorescence, ImageSegmentation, OpticalChannel, PlaneSegmentation  # noqa: E402

from calcium.errors import InputError  # noqa: E402
from calcium.input.ingest import InputSettings  # noqa: E402
from calcium.input.nwb import check_nwb_session, open_nwb_traces, open_roi_masks  # noqa: E402
from calcium.input.nwb_tables import parse_start_time, read_nwb_metadata, read_stimulus_intervals  # noqa: E402
from calcium.input.sheet import check_session, read_session_sheet  # noqa: E402
from calcium.io import save_npy  # noqa: E402
from calcium.outputs.nwb import SessionNwbWriter  # noqa: E402
from calcium.outputs.nwb_session import session_metadata  # noqa: E402
from calcium.outputs.nwb_traces import chunk_shapes  # noqa: E402

SHEET_SCHEMA = yaml.safe_load((REPO / "workflow" / "schemas" / "sessions.schema.yaml").read_text())

# What the tests treat as unacceptable: nwbinspector's critical and best-practice-violation
# messages, and ERROR (a check that crashed on the file, so could not vouch for it).
BAD = {Importance.CRITICAL, Importance.BEST_PRACTICE_VIOLATION, Importance.ERROR}


def ophys_file(
    path,
    traces,
    layout="frames_x_rois",
    rate=30.0,
    starting_time=0.0,
    timestamps=None,
    neuropil=None,
    iscell=None,
    intervals=None,
    conversion=1.0,
    offset=0.0,
    container="Fluorescence",
    name="plane0",
    masks="pixel",
    unit="lumens",
):
    """A small NWB file as Suite2p's export writes it: traces (rois, frames) stored as (frames, ROIs)
    in processing/ophys/<container>/<name> (or (ROIs, frames) with layout="rois_x_frames"), the
    neuropil in processing/ophys/Neuropil/<name>, an `iscell` column, and optional TimeIntervals."""
    nwbfile = NWBFile(
        session_description="synthetic test session",
        identifier=str(path),
        session_start_time=datetime(2024, 5, 1, 9, 30, tzinfo=UTC),
    )
    nwbfile.subject = Subject(subject_id="m1", species="Mus musculus", sex="F", age="P60D")
    device = nwbfile.create_device(name="Microscope", description="two-photon microscope")
    channel = OpticalChannel(name="OpticalChannel", description="green", emission_lambda=510.0)
    plane = nwbfile.create_imaging_plane(
        name="ImagingPlane",
        optical_channel=channel,
        description="layer 2/3",
        device=device,
        excitation_lambda=920.0,
        indicator="GCaMP6s",
        location="VISp",
    )
    n_rois = traces.shape[0]
    rois = PlaneSegmentation(description="suite2p output", imaging_plane=plane, name="PlaneSegmentation")
    for i in range(n_rois):
        if masks == "pixel":
            rois.add_roi(pixel_mask=[(i, i, 1.0), (i + 1, i, 0.5)], id=100 + i)
        else:
            image = np.zeros((8, 6), np.float32)
            image[i, : i + 1] = 1.0
            rois.add_roi(image_mask=image, id=100 + i)
    if iscell is not None:
        rois.add_column("iscell", "iscell and probability", np.column_stack([iscell, np.full(n_rois, 0.9)]))
    ophys = nwbfile.create_processing_module("ophys", "processed ophys")
    segmentation = ImageSegmentation()
    ophys.add(segmentation)
    segmentation.add_plane_segmentation(rois)
    region = rois.create_roi_table_region(region=list(range(n_rois)), description="all ROIs")
    timing = (
        {"timestamps": timestamps}
        if timestamps is not None
        else {"rate": rate, "starting_time": starting_time}
    )

    def stored(values):
        return values.T.copy() if layout == "frames_x_rois" else values.copy()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pynwb warns about the transposed layout
        for group, values in ((container, traces), ("Neuropil", neuropil)):
            if values is None:
                continue
            holder = Fluorescence(name=group)
            ophys.add(holder)
            holder.create_roi_response_series(
                name=name,
                data=stored(values),
                rois=region,
                unit=unit,
                conversion=conversion,
                offset=offset,
                **timing,
            )
    if intervals is not None:
        table = TimeIntervals(name="stimuli", description="stimulus presentations")
        table.add_column("stimulus_name", "label")
        for onset, offset_s, label in intervals:
            table.add_interval(start_time=onset, stop_time=offset_s, stimulus_name=label)
        nwbfile.add_time_intervals(table)
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    return path


def _recording():
    """(ROIs, frames) fluorescence, its neuropil and iscell flags (ROI 2 is not a cell)."""
    rng = np.random.default_rng(0)
    f = (100 + 20 * rng.random((5, 240))).astype(np.float32)
    fneu = (30 + 5 * rng.random((5, 240))).astype(np.float32)
    return f, fneu, np.array([1.0, 1.0, 0.0, 1.0, 1.0])


@pytest.fixture
def recording():
    return _recording()


def read_all(path, **kwargs):
    with open_nwb_traces(path, **kwargs) as (traces, info):
        blocks = [traces[i : i + 2] for i in range(0, traces.shape[0], 2)]
    return np.concatenate(blocks), info


def test_suite2p_layout_and_the_transposed_one_read_the_same(tmp_path, recording):
    f, fneu, iscell = recording
    suite2p = ophys_file(tmp_path / "suite2p.nwb", f, neuropil=fneu, iscell=iscell)
    transposed = ophys_file(
        tmp_path / "transposed.nwb", f, layout="rois_x_frames", neuropil=fneu, iscell=iscell
    )
    a, info_a = read_all(suite2p, neuropil_series="auto", neuropil_coefficient=0.7)
    b, info_b = read_all(
        transposed, neuropil_series="processing/ophys/Neuropil/plane0", neuropil_coefficient=0.7
    )
    cells = iscell > 0.5
    expected = f[cells] - np.float32(0.7) * fneu[cells]
    np.testing.assert_array_equal(a, expected)
    np.testing.assert_array_equal(b, expected)
    assert (info_a.time_axis, info_b.time_axis) == (0, 1)
    assert info_a.series == "processing/ophys/Fluorescence/plane0"  # found by the default search
    assert info_a.labels == info_b.labels == ["100", "101", "103", "104"]  # ROI ids of the cells
    assert info_a.frame_rate_hz == info_b.frame_rate_hz == 30.0
    assert info_a.neuropil == "processing/ophys/Neuropil/plane0"
    everything, info = read_all(suite2p, cells_only=False)
    np.testing.assert_array_equal(everything, f)  # no neuropil asked for: F as stored
    assert info.n_neurons == 5


def test_rate_and_start_come_from_timestamps(tmp_path, recording):
    f = recording[0]
    rng = np.random.default_rng(1)
    stamps = 12.5 + np.arange(f.shape[1]) / 20.0 + rng.uniform(-0.004, 0.004, f.shape[1])
    info = check_nwb_session(ophys_file(tmp_path / "stamps.nwb", f, timestamps=stamps))
    assert info.frame_rate_hz == pytest.approx(20.0, rel=1e-3)
    assert info.start_time_s == pytest.approx(stamps[0])
    gap = stamps.copy()
    gap[100:] += 0.2  # four frames missing
    with pytest.raises(
        InputError, match=r"gap\.nwb: series processing/ophys/Fluorescence/plane0: .*irregular"
    ):
        check_nwb_session(ophys_file(tmp_path / "gap.nwb", f, timestamps=gap))
    jittered = 12.5 + np.arange(f.shape[1]) / 20.0 + rng.uniform(-0.015, 0.015, f.shape[1])  # +-30 %
    assert (
        check_nwb_session(ophys_file(tmp_path / "jitter.nwb", f, timestamps=jittered)).n_frames == f.shape[1]
    )
    middle = f.shape[1] // 2  # one frame dropped mid-recording: the others stray by half a frame only
    dropped = np.delete(12.5 + np.arange(f.shape[1] + 1) / 20.0, middle)
    with pytest.raises(
        InputError, match=rf"timestamp {middle}, counted from 0, follows a step of 0.1 s, 1.99 frames"
    ):
        check_nwb_session(ophys_file(tmp_path / "dropped.nwb", f, timestamps=dropped))


def test_conversion_and_offset_give_the_series_unit(tmp_path, recording):
    f = recording[0]
    raw = np.round(f * 10).astype(np.int16)
    path = ophys_file(tmp_path / "scaled.nwb", raw, conversion=0.1, offset=5.0, starting_time=3.0)
    traces, info = read_all(path)
    np.testing.assert_allclose(traces, raw * 0.1 + 5.0, rtol=1e-6)
    assert traces.dtype == np.float32 and info.start_time_s == 3.0


def test_dff_in_percent_is_read_as_a_fraction(tmp_path, recording):
    """A ΔF/F series whose unit is '%' was read as a fraction: every ΔF/F-unit number 100x."""
    f = recording[0]
    percent = (100 * (f / f.mean(axis=1, keepdims=True) - 1)).astype(np.float32)
    path = ophys_file(tmp_path / "percent.nwb", percent, container="DfOverF", unit="%")
    traces, info = read_all(path, series="processing/ophys/DfOverF/plane0", input_kind="dff")
    np.testing.assert_allclose(traces, percent / 100, rtol=1e-6)
    assert any("divided by 100" in note for note in info.notes)
    for unit in (
        "dF/F (%)",
        "fractional change (%)",
        "% (not a fraction)",
        "percent, not fraction",
        "percentage",
        "% of baseline (baseline = 100%)",
    ):
        spelled = ophys_file(tmp_path / "spelled.nwb", percent, container="DfOverF", unit=unit)
        traces, _ = read_all(spelled, series="processing/ophys/DfOverF/plane0", input_kind="dff")
        np.testing.assert_allclose(traces, percent / 100, rtol=1e-6)
    for unit in ("dF/F", "dF/F (fraction, not %)", "dF/F (not a percentage)", "1 = 100 percent", "100% = 1"):
        fraction = ophys_file(tmp_path / "fraction.nwb", percent / 100, container="DfOverF", unit=unit)
        traces, _ = read_all(fraction, series="processing/ophys/DfOverF/plane0", input_kind="dff")
        np.testing.assert_allclose(traces, percent / 100, rtol=1e-6)


def test_stimulus_intervals_become_a_stimulus_table(tmp_path, recording):
    intervals = [(1.0, 2.0, "looming"), (4.0, 4.5, "prey"), (6.0, 7.0, "looming")]
    path = ophys_file(tmp_path / "stim.nwb", recording[0], intervals=intervals)
    table = read_stimulus_intervals(path, "intervals/stimuli")
    assert table.to_dict("list") == {
        "stimulus": ["looming", "prey", "looming"],
        "onset_s": [1.0, 4.0, 6.0],
        "offset_s": [2.0, 4.5, 7.0],
    }
    assert read_stimulus_intervals(path, "stimuli:stimulus_name").equals(table)
    with pytest.raises(InputError, match=r"stim\.nwb: intervals/stimuli has no column 'orientation'"):
        read_stimulus_intervals(path, "stimuli:orientation")
    with pytest.raises(InputError, match=r"stim\.nwb: stimulus intervals 'intervals/trials' not found"):
        check_nwb_session(path, stimulus_intervals="intervals/trials")


def test_sheet_check_takes_the_rate_from_the_file_and_refuses_misplaced_columns(tmp_path, recording):
    ophys_file(tmp_path / "a.nwb", recording[0], rate=12.5)
    np.savetxt(tmp_path / "x.csv", np.ones((3, 200)), delimiter=",")
    rows = [
        {"session": "csv", "path": str(tmp_path / "x.csv"), "frame_rate_hz": "5"},
        {"session": "nwb", "path": str(tmp_path / "a.nwb"), "frame_rate_hz": ""},
    ]
    sheet_path = tmp_path / "s.tsv"

    def write(table):
        table.assign(indicator="GCaMP6s", input_kind="raw").to_csv(sheet_path, sep="\t", index=False)
        return read_session_sheet(sheet_path, SHEET_SCHEMA)

    sheet = write(pd.DataFrame(rows))
    inputs = check_session(sheet.loc["nwb"].to_dict(), InputSettings(min_duration_s=1), sheet_path)
    assert inputs.frame_rate_hz == 12.5 and inputs.n_neurons == recording[0].shape[0]
    with pytest.raises(InputError, match="sampled at 12.5 Hz but the sheet's frame_rate_hz says 15"):
        row = sheet.loc["nwb"].to_dict() | {"frame_rate_hz": 15.0}
        check_session(row, InputSettings(min_duration_s=1), sheet_path)
    with pytest.raises(
        InputError, match=r"s\.tsv: line 2: session csv: nwb_series given but .*x\.csv' is not"
    ):
        write(pd.DataFrame(rows).assign(nwb_series=["processing/ophys/Fluorescence/plane0", ""]))
    with pytest.raises(InputError, match=r"s\.tsv: line 3: session nwb: give the stimulus table either"):
        write(
            pd.DataFrame(rows).assign(
                stimuli=["", "st.csv"], nwb_stimulus_intervals=["", "intervals/stimuli"]
            )
        )


def _no_rate(path):
    import h5py

    with h5py.File(path, "a") as handle:
        del handle["processing/ophys/Fluorescence/plane0/starting_time"]


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    ("kwargs", "damage", "expected"),
    [
        (
            {"series": "processing/ophys/DfOverF/plane0"},
            None,
            "series 'processing/ophys/DfOverF/plane0' not found",
        ),
        ({"series": "processing/ophys/Fluorescence"}, None, "is a Fluorescence, not a series"),
        ({"input_kind": "dff"}, None, "no series named in the sheet and no single default"),
        ({}, "shape", "series processing/ophys/Fluorescence/plane0: data of shape (240, 7) have no axis"),
        ({}, _no_rate, "(processing/ophys/Fluorescence/plane0): either 'timestamps' or 'rate'"),
        ({}, _truncate, "cannot be read as an NWB file"),
        ({"neuropil_series": "processing/ophys/Nope/plane0"}, None, "neuropil series 'processing/ophys/Nope"),
    ],
)
def test_bad_input_names_the_file_and_the_series(tmp_path, recording, kwargs, damage, expected):
    f = recording[0]
    path = tmp_path / "bad.nwb"
    if damage == "shape":
        ophys_file(path, f)
        import h5py

        with h5py.File(path, "a") as handle:  # 7 columns but 5 ROIs in the region
            del handle["processing/ophys/Fluorescence/plane0/data"]
            handle["processing/ophys/Fluorescence/plane0/data"] = np.zeros((240, 7), np.float32)
    else:
        ophys_file(path, f)
        if damage:
            damage(path)
    with pytest.raises(InputError) as error:
        check_nwb_session(path, **kwargs)
    message = error.value.args[0]
    assert message.startswith(f"{path}: ") and expected in message, message


def _write_small_session(tmp_path, n_neurons=6, n_frames=500, rate=7.5, start=2.0, spikes=True):
    rng = np.random.default_rng(3)
    arrays = {}
    for name in ("dff", "spikes"):
        arrays[name] = rng.normal(size=(n_neurons, n_frames)).astype(np.float32)
        save_npy(tmp_path / f"{name}.npy", arrays[name])
    metadata, notes = session_metadata(
        {
            "session": "t1",
            "path": "t1.csv",
            "indicator": "GCaMP6f",
            "input_kind": "raw",
            "species": "Danio rerio",
            "subject_id": "fish1",
            "sex": "F",
            "age": "P7D",
        },
        {
            "institution": "Somewhere",
            "lab": None,
            "experimenter": ["Doe, Jane"],
            "experiment_description": None,
        },
        None,
        "9.9.9",
        {"dff": {"percentile": 25}},
        n_neurons,
        rate,
    )
    flags = pd.DataFrame({"low_snr": np.arange(n_neurons) % 2 == 0, "snr": np.linspace(1, 9, n_neurons)})
    writer = SessionNwbWriter(
        metadata, rate, start, [f"cell{i}" for i in range(n_neurons)], roi_columns=flags
    )
    writer.add_traces("DfOverF", "DfOverF", "dff", tmp_path / "dff.npy", "ΔF/F of the test")
    writer.add_traces("Deconvolved", "Fluorescence", "spikes", tmp_path / "spikes.npy", "spike amplitudes")
    spike_table = pd.DataFrame(
        {"neuron": [0, 0, 3], "frame": [10, 250, 7], "amplitude_dff": [0.5, 0.7, 0.2], "trial": [0, 1, 0]}
        if spikes
        else {"neuron": [], "frame": [], "amplitude_dff": [], "trial": []}
    )
    writer.add_spikes(spike_table, "test spikes", lag_s=0.25)
    events = pd.DataFrame({"neuron": [0, 3], "onset_s": [1.3, 0.9], "exceeds_max_fwhm": [False, True]})
    assert writer.add_table("events", events, "test events")
    assert not writer.add_table("empty", events.iloc[:0], "nothing")
    assert writer.add_table(
        "ensembles",
        pd.DataFrame({"ensemble": [0, 1], "n_members": [2, 1]}),
        "test ensembles",
        where="analysis",
        neuron_columns=(),
        ragged_neurons={"members": [np.array([1, 4]), np.array([2])]},
    )
    assert writer.add_table(
        "no_members",
        pd.DataFrame({"ensemble": [0]}),
        "an ensemble without members",
        where="analysis",
        neuron_columns=(),
        ragged_neurons={"members": [np.array([], int)]},
    )
    writer.add_stimuli(
        pd.DataFrame({"stimulus": ["a", "b"], "onset_s": [3.0, 9.0], "offset_s": [4.0, 10.0]}), "s"
    )
    trials = "trial,start_s,stop_s,start_frame,stop_frame,n_frames,condition,file\n"
    trials += "1,30.0,68.0,210,495,285,dark,b.csv\n0,2.0,30.0,0,210,210,01,a.csv\n"  # any order
    writer.add_trials(pd.read_csv(io.StringIO(trials), dtype=str, keep_default_na=False))
    return writer, arrays, notes


def test_writer_streams_traces_and_tables_that_read_back(tmp_path):
    writer, arrays, notes = _write_small_session(tmp_path)
    out = tmp_path / "t1.nwb"
    writer.write(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dff.npy", "spikes.npy", "t1.nwb"]
    with NWBHDF5IO(str(out), "r") as io:
        nwbfile = io.read()
        series = nwbfile.processing["ophys"]["DfOverF"]["dff"]
        np.testing.assert_array_equal(series.data[:], arrays["dff"].T)  # frames x ROIs, lossless
        assert series.data.compression == "gzip" and series.data.chunks is not None
        assert (series.rate, series.starting_time, series.unit) == (7.5, 2.0, "dF/F")
        assert len(series.rois) == 6 and series.rois.table.name == "PlaneSegmentation"
        rois = series.rois.table  # per-neuron flags in the ROI table, booleans as booleans
        assert rois["low_snr"].data.dtype == bool and rois["low_snr"][:].tolist() == [True, False] * 3
        np.testing.assert_array_equal(rois["snr"][:], np.linspace(1, 9, 6))
        spikes = nwbfile.processing["ophys"]["InferredSpikes"].to_dataframe(index=True)
        # the same clock and timing correction as spike_times.csv: start + frame / rate - lag_s
        np.testing.assert_array_equal(spikes.spike_times[0], [2.0 + 10 / 7.5 - 0.25, 2.0 + 250 / 7.5 - 0.25])
        assert list(spikes.spike_frames[3]) == [7] and len(spikes.spike_times[1]) == 0
        assert list(spikes.spike_trials[0]) == [0, 1] and list(spikes.spike_trials[3]) == [0]
        trials = nwbfile.trials.to_dataframe()  # row k is trial k; labels as the user wrote them
        assert trials[["start_time", "stop_time"]].to_numpy().tolist() == [[2.0, 30.0], [30.0, 68.0]]
        assert trials.start_frame.tolist() == [0, 210] and trials.n_frames.tolist() == [210, 285]
        assert trials.condition.tolist() == ["01", "dark"] and trials.file.tolist() == ["a.csv", "b.csv"]
        events = nwbfile.processing["ophys"]["events"].to_dataframe(index=True)
        assert events.neuron.tolist() == [0, 3] and events.exceeds_max_fwhm.tolist() == [False, True]
        assert "empty" not in nwbfile.processing["ophys"].data_interfaces
        members = nwbfile.analysis["ensembles"].to_dataframe(index=True).members
        assert [list(m) for m in members] == [[1, 4], [2]]
        nobody = nwbfile.analysis["no_members"]
        assert "members" not in nobody.colnames and "(members: none in any row)" in nobody.description
        assert nwbfile.intervals["stimuli"].to_dataframe().stimulus.tolist() == ["a", "b"]
        assert nwbfile.subject.species == "Danio rerio" and nwbfile.subject.subject_id == "fish1"
        assert json.loads(nwbfile.data_collection)["parameters"] == {"dff": {"percentile": 25}}
        assert nwbfile.source_script == "calcium-imaging-workflow 9.9.9"
        assert nwbfile.institution == "Somewhere" and list(nwbfile.experimenter) == ["Doe, Jane"]
    # The workflow's output is valid NWB input: ΔF/F read back exactly, with its rate and start.
    traces, info = read_all(out, input_kind="dff")
    np.testing.assert_array_equal(traces, arrays["dff"])
    assert (info.frame_rate_hz, info.start_time_s, info.labels[0]) == (7.5, 2.0, "cell0")
    messages = [m for m in inspect_nwbfile(nwbfile_path=out) if m.importance in BAD]
    assert not messages, [(m.check_function_name, m.message) for m in messages]
    assert notes == ["session_start_time"]  # the only field DANDI asks for that was not given


def test_writer_without_spikes_and_with_bad_data_leaves_nothing_partial(tmp_path):
    writer, _, _ = _write_small_session(tmp_path, spikes=False)
    out = tmp_path / "t1.nwb"
    out.write_bytes(b"an older result")
    # The .npy shrinks after the series was added: streaming fails half way through the file.
    np.save(tmp_path / "spikes.npy", np.zeros((2, 500), np.float32))
    with pytest.raises(Exception):  # noqa: B017 - whatever h5py/hdmf raise
        writer.write(out)
    assert out.read_bytes() == b"an older result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dff.npy", "spikes.npy", "t1.nwb"]


def test_large_table_columns_are_compressed(tmp_path):
    rng = np.random.default_rng(2)
    n = 70_000
    table = pd.DataFrame(
        {"neuron": rng.integers(0, 4, n), "onset_s": rng.random(n), "exceeds_max_fwhm": rng.random(n) > 0.5}
    )
    spikes = pd.DataFrame({"neuron": np.sort(rng.integers(0, 4, n)), "frame": rng.integers(0, 9, n)})
    spikes["amplitude_dff"] = rng.random(n)
    metadata, _ = session_metadata({"session": "t"}, {}, None, "1", {}, 4, 5.0)
    writer = SessionNwbWriter(metadata, 5.0, 0.0, list("abcd"))
    writer.add_table("events", table, "many events")
    writer.add_spikes(spikes, "many spikes")
    writer.write(tmp_path / "t.nwb")
    import h5py

    with h5py.File(tmp_path / "t.nwb") as handle:
        events = handle["processing/ophys/events"]
        assert events["onset_s"].compression == "gzip" and events["exceeds_max_fwhm"].compression == "gzip"
        np.testing.assert_array_equal(events["onset_s"][:], table.onset_s)
        np.testing.assert_array_equal(events["neuron"][:], table.neuron)
        assert handle["processing/ophys/InferredSpikes/spike_times"].compression == "gzip"
        assert handle["processing/ophys/InferredSpikes/spike_times"].shape == (n,)
    plain = SessionNwbWriter(metadata, 5.0, 0.0, list("abcd"), gzip_level=0)
    plain.add_table("events", table, "many events")
    plain.write(tmp_path / "plain.nwb")
    with h5py.File(tmp_path / "plain.nwb") as handle:
        assert handle["processing/ophys/events/onset_s"].compression is None


def suite2p_folder(folder, f, fneu, iscell):
    """A Suite2p plane folder: F, Fneu, iscell, and pickled stat.npy (ROI i: pixels (i..i+2, 2i),
    weights 0.5, 1, 1.5) and ops.npy (meanImg, Ly, Lx and a date-time, as Suite2p writes)."""
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "F.npy", f)
    np.save(folder / "Fneu.npy", fneu)
    np.save(folder / "iscell.npy", np.column_stack([iscell, np.full(len(iscell), 0.9)]))
    stat = np.empty(len(f), dtype=object)
    for i in range(len(f)):
        stat[i] = {
            "ypix": np.arange(i, i + 3),
            "xpix": np.full(3, 2 * i),
            "lam": np.array([0.5, 1.0, 1.5], np.float32),
            "med": [i + 1, 2 * i],
            "npix": 3,
        }
    np.save(folder / "stat.npy", stat, allow_pickle=True)
    mean = np.arange(12 * 10, dtype=np.float64).reshape(12, 10)
    ops = {"meanImg": mean, "Ly": 12, "Lx": 10, "fs": 30.0, "date_proc": datetime(2024, 5, 1, tzinfo=UTC)}
    np.save(folder / "ops.npy", np.array(ops, dtype=object), allow_pickle=True)
    return folder, mean


class _Sneaky:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.makedirs, (str(self.marker),))


def test_suite2p_footprints_and_mean_image_are_read_without_running_code(tmp_path, recording):
    from calcium.input.footprints import input_footprints, load_footprints, save_footprints

    f, fneu, iscell = recording
    folder, mean = suite2p_folder(tmp_path / "plane0", f, fneu, iscell)
    found = input_footprints(folder)  # the cells only, in ingest's order (ROI 2 is not a cell)
    assert found.source == "suite2p" and found.image_shape == (12, 10)
    np.testing.assert_array_equal(found.mean_image, mean.astype(np.float32))
    np.testing.assert_array_equal(found.roi, np.repeat([0, 1, 2, 3], 3))
    for row, roi in enumerate([0, 1, 3, 4]):
        mine = found.roi == row
        assert found.y[mine].tolist() == [roi, roi + 1, roi + 2] and found.x[mine].tolist() == [2 * roi] * 3
        assert found.weight[mine].tolist() == [0.5, 1.0, 1.5]
    assert found.ends(4).tolist() == [3, 6, 9, 12]
    save_footprints(tmp_path / "fp.npz", found)
    again = load_footprints(tmp_path / "fp.npz")
    assert again.source == "suite2p" and again.image_shape == (12, 10)
    for name in ("roi", "y", "x", "weight", "mean_image"):
        np.testing.assert_array_equal(getattr(again, name), getattr(found, name))
    # A CSV's traces have no footprints: the file is written, empty.
    save_footprints(tmp_path / "none.npz", input_footprints(tmp_path / "traces.csv"))
    empty = load_footprints(tmp_path / "none.npz")
    assert empty.empty and empty.mean_image.shape == (0, 0) and empty.source == "none"
    # A pickle that would run code is refused, and the code does not run.
    marker = tmp_path / "ran"
    sneaky = np.empty(1, dtype=object)
    sneaky[0] = {"ypix": _Sneaky(marker)}
    np.save(folder / "stat.npy", sneaky, allow_pickle=True)
    with pytest.raises(
        InputError, match="stat.npy: cannot be read as a Suite2p file .*makedirs is not allowed"
    ):
        input_footprints(folder)
    assert not marker.exists()


def test_footprints_become_the_roi_masks_and_the_mean_image(tmp_path, recording):
    from calcium.input.footprints import input_footprints
    from calcium.outputs.nwb_file import footprint_masks

    f, fneu, iscell = recording
    folder, mean = suite2p_folder(tmp_path / "plane0", f, fneu, iscell)
    found = input_footprints(folder)
    metadata, _ = session_metadata({"session": "fp"}, {}, None, "1", {}, 4, 30.0)
    masks = footprint_masks(found, 4)
    writer = SessionNwbWriter(
        metadata, 30.0, 0.0, ["roi_0", "roi_1", "roi_3", "roi_4"], masks=masks, mean_image=found.mean_image
    )
    writer.write(tmp_path / "fp.nwb")
    with NWBHDF5IO(str(tmp_path / "fp.nwb"), "r") as io:
        nwbfile = io.read()
        rois = nwbfile.processing["ophys"]["ImageSegmentation"]["PlaneSegmentation"]
        for row, roi in enumerate([0, 1, 3, 4]):
            pixels = np.asarray(rois["pixel_mask"][row]).tolist()
            assert pixels == [(2 * roi, roi + k, w) for k, w in enumerate([0.5, 1.0, 1.5])]  # (x, y, weight)
        image = nwbfile.processing["ophys"]["SummaryImages"]["mean"]
        np.testing.assert_array_equal(image.data[:], mean.astype(np.float32))
    messages = [m for m in inspect_nwbfile(nwbfile_path=tmp_path / "fp.nwb") if m.importance in BAD]
    assert not [m for m in messages if not m.check_function_name.startswith("check_subject")]
    assert footprint_masks(input_footprints(tmp_path / "traces.csv"), 4) == {}


def test_nwb_input_footprints_hold_its_masks_and_mean_image(tmp_path, recording):
    from pynwb.base import Images
    from pynwb.image import GrayscaleImage

    from calcium.input.footprints import input_footprints

    f, _, iscell = recording
    path = ophys_file(tmp_path / "in.nwb", f, iscell=iscell, masks="image")
    mean = np.arange(48, dtype=np.float32).reshape(8, 6)
    with NWBHDF5IO(str(path), "a") as io:  # Suite2p's export keeps meanImg in an Images container
        nwbfile = io.read()
        images = Images(name="Backgrounds_0", description="summary images")
        images.add_image(GrayscaleImage(name="meanImg", data=mean, description="mean image"))
        nwbfile.processing["ophys"].add(images)
        io.write(nwbfile)
    found = input_footprints(path)  # image masks: row i of ROI i holds pixels 0..i, weight 1
    assert found.source == "nwb" and found.image_shape == (8, 6)
    np.testing.assert_array_equal(found.mean_image, mean)
    for row, roi in enumerate([0, 1, 3, 4]):  # ROI 2 is not a cell
        mine = found.roi == row
        assert found.y[mine].tolist() == [roi] * (roi + 1) and found.x[mine].tolist() == list(range(roi + 1))
        assert (found.weight[mine] == 1).all()


SUITE2P_EXAMPLE = REPO.parent / "shared" / "data" / "population" / "suite2p-fissa-example-plane0"


@pytest.mark.skipif(not SUITE2P_EXAMPLE.is_dir(), reason="../shared is absent")
def test_real_suite2p_folder_gives_its_cells_masks_and_mean_image():
    from calcium.input.footprints import input_footprints

    found = input_footprints(SUITE2P_EXAMPLE)
    iscell = np.load(SUITE2P_EXAMPLE / "iscell.npy")[:, 0] > 0.5
    assert found.image_shape == (176, 156) and found.mean_image.shape == (176, 156)
    assert np.unique(found.roi).tolist() == list(range(int(iscell.sum())))
    assert found.y.max() < 176 and found.x.max() < 156 and (found.weight > 0).all()


@pytest.mark.parametrize("masks", ["pixel", "image"])
def test_masks_of_an_nwb_input_are_carried_into_the_output(tmp_path, recording, masks):
    f, _, iscell = recording
    source = ophys_file(tmp_path / "in.nwb", f, iscell=iscell, masks=masks)
    metadata, notes = session_metadata(
        {"session": "m"}, {}, read_nwb_metadata(source, None), "1", {}, 4, 30.0
    )
    assert notes == [] and metadata.subject["species"] == "Mus musculus"  # from the input
    assert metadata.imaging_plane["location"] == "VISp"
    with open_roi_masks(source) as found:
        writer = SessionNwbWriter(metadata, 30.0, 0.0, ["100", "101", "103", "104"], masks=found)
        writer.write(tmp_path / "out.nwb")
    column = f"{masks}_mask"
    with NWBHDF5IO(str(source), "r") as io:
        expected = [
            io.read().processing["ophys"]["ImageSegmentation"]["PlaneSegmentation"][column][r]
            for r in (0, 1, 3, 4)
        ]
    with NWBHDF5IO(str(tmp_path / "out.nwb"), "r") as io:
        stored = io.read().processing["ophys"]["ImageSegmentation"]["PlaneSegmentation"]
        assert list(stored["label"][:]) == ["100", "101", "103", "104"]
        for row, mask in enumerate(expected):  # the cells' masks, ROI 102 (not a cell) left out
            np.testing.assert_array_equal(np.asarray(stored[column][row]).tolist(), np.asarray(mask).tolist())
    messages = [m for m in inspect_nwbfile(nwbfile_path=tmp_path / "out.nwb") if m.importance in BAD]
    assert not messages, [(m.check_function_name, m.message) for m in messages]


def test_chunks_and_buffers_stay_bounded():
    for n_neurons, n_frames in ((1, 2), (80, 3000), (10_000, 100_000), (3, 5_000_000)):
        chunk, buffer = chunk_shapes(n_neurons, n_frames)
        assert chunk[0] <= n_frames and chunk[1] <= n_neurons
        assert buffer[0] == n_frames and (buffer[1] % chunk[1] == 0 or buffer[1] == n_neurons)
        assert 4 * chunk[0] * chunk[1] <= 1 << 20
        # One chunk column at least; otherwise at most 64 MiB per buffer.
        assert 4 * buffer[0] * buffer[1] <= max(64 << 20, 4 * n_frames * chunk[1])


def test_metadata_from_the_sheet_wins_and_unknowns_are_flagged():
    session = {"session": "s9", "indicator": "GCaMP6s", "session_start_time": "2024-05-01T09:30:00+02:00"}
    source = {
        "session_start_time": datetime(2020, 1, 1, tzinfo=UTC),
        "subject": {"subject_id": "m7", "species": "Mus musculus", "sex": "F", "age": "P90D"},
        "imaging_plane": {"indicator": "GCaMP6f", "location": "VISp", "excitation_lambda": 920.0},
    }
    metadata, notes = session_metadata(session | {"age": "P100D"}, {}, source, "1", {}, 3, 5.0)
    assert metadata.session_start_time.isoformat() == "2024-05-01T09:30:00+02:00"
    assert metadata.subject["age"] == "P100D" and metadata.subject["subject_id"] == "m7"
    assert metadata.imaging_plane["indicator"] == "GCaMP6s" and metadata.imaging_plane["location"] == "VISp"
    assert notes == []
    # Nothing given: nothing invented, and every field DANDI asks for is listed.
    bare, notes = session_metadata({"session": "s9"}, {}, None, "1", {}, 3, 5.0)
    assert bare.subject is None and bare.imaging_plane == {} and not bare.start_known
    assert "placeholder" in bare.session_description
    assert notes == [
        "session_start_time",
        "subject.subject_id",
        "subject.species",
        "subject.sex",
        "subject.age or subject.date_of_birth",
    ]
    # The metadata file fills what the sheet leaves empty; the sheet wins; the config comes after the file.
    user = {
        "session_start_time": "2023-03-03T10:00:00Z",
        "institution": "File Institute",
        "subject": {
            "subject_id": "f1",
            "species": "Danio rerio",
            "sex": "U",
            "date_of_birth": "2023-01-01T00:00:00Z",
        },
        "imaging_plane": {"excitation_lambda_nm": 920, "location": "tectum"},
    }
    meta, notes = session_metadata(
        {"session": "s9", "indicator": "GCaMP6s", "sex": "M"},
        {"institution": "Config"},
        None,
        "1",
        {},
        3,
        5.0,
        user,
    )
    assert notes == [] and meta.start_known and meta.institution == "File Institute"
    assert meta.subject["sex"] == "M" and meta.subject["date_of_birth"] == datetime(2023, 1, 1, tzinfo=UTC)
    assert meta.imaging_plane == {"excitation_lambda": 920, "location": "tectum", "indicator": "GCaMP6s"}
    # An NWB input's placeholders (our own output read back) are not taken as known.
    placeholder = {
        "session_start_time": datetime(1970, 1, 1, tzinfo=UTC),
        "imaging_plane": {"location": "unknown"},
    }
    meta, notes = session_metadata({"session": "s9"}, {}, placeholder, "1", {}, 3, 5.0)
    assert not meta.start_known and "location" not in meta.imaging_plane
    with pytest.raises(InputError, match="has no time zone"):
        parse_start_time("2024-05-01T09:30:00", "sheet line 2")


def test_metadata_file_is_validated_and_keeps_date_times_as_given(tmp_path):
    from calcium.outputs.nwb_metadata import read_metadata_file

    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "metadata.schema.yaml").read_text())
    example = read_metadata_file(REPO / "resources" / "metadata.example.yaml", schema)
    assert example["session_start_time"] == "2024-05-01T09:30:00+02:00"
    assert example["subject"]["sex"] == "U" and example["imaging_plane"]["excitation_lambda_nm"] == 920
    bad = tmp_path / "bad.yaml"
    for text, expected in (
        ("subject:\n  sex: male\n", "subject.sex"),
        ("subjekt: {}\nlab: x\n", "subjekt"),
        ("session_start_time: 2024-05-01T09:30:00\n", "has no time zone"),
        ("- a list\n", "a YAML mapping"),
    ):
        bad.write_text(text)
        with pytest.raises(InputError, match=expected) as error:
            read_metadata_file(bad, schema)
        assert str(bad) in str(error.value)
    empty = tmp_path / "empty.yaml"
    empty.write_text("lab: ''\nsubject:\n  genotype:\n")
    assert read_metadata_file(empty, schema) == {}  # empty values are not given


# ---- the workflow ----------------------------------------------------------------------------


def _equal_columns(stored: pd.DataFrame, expected: pd.DataFrame, where: str) -> None:
    """Every column of `expected` (a results/ table) equals the NWB table's, value for value;
    boolean columns are stored as booleans."""
    for column in expected.columns:
        ours, theirs = stored[column], expected[column]
        assert len(ours) == len(theirs), (where, column)
        if pd.api.types.is_bool_dtype(theirs):
            assert ours.dtype == bool, f"{where}.{column}: stored as {ours.dtype}, not boolean"
        blank_text = column.endswith("_reason") and theirs.isna().all()  # no reason given: ""
        if pd.api.types.is_numeric_dtype(theirs) and not blank_text:
            assert pd.api.types.is_numeric_dtype(ours), f"{where}.{column}: stored as text"
            np.testing.assert_array_equal(ours.to_numpy(), theirs.to_numpy(), err_msg=f"{where}.{column}")
        else:  # text: a blank cell (NaN as pandas reads it) is "" in the NWB file
            blank = theirs.astype(object).where(theirs.notna(), "")
            assert ours.astype(str).tolist() == blank.astype(str).tolist(), f"{where}.{column}"


def _ragged(column) -> list[list[int]]:
    """A ragged DynamicTableRegion column (to_dataframe(index=True)) as lists of row indices."""
    return [[int(v) for v in np.asarray(values).ravel()] for values in column]


def _check_against_results(obj, out: Path, session: str) -> None:
    """Assert one table or series of a session's NWB file equals its counterpart in results/."""
    from hdmf.common import DynamicTable
    from pynwb import TimeSeries

    name = obj.name
    read = lambda path: pd.read_csv(out / path, sep="\t" if path.endswith(".tsv") else ",")  # noqa: E731
    if isinstance(obj, TimeSeries):
        if name in (
            "dff",
            "detrended",
            "denoised",
            "calcium",
            "spikes",
            "activity",
            "fluorescence",
            "neuropil",
        ):
            path = out / (f"ingest/{name}.npy" if name in ("fluorescence", "neuropil") else f"{name}.npy")
            np.testing.assert_array_equal(obj.data[:], np.load(path).T, err_msg=name)
            facts = json.loads((out / "ingest" / "recording.json").read_text())
            assert (obj.rate, obj.starting_time) == (facts["frame_rate_hz"], facts["start_time_s"])
            assert (obj.unit == "dF/F") == (name not in ("activity", "fluorescence", "neuropil")), (
                name,
                obj.unit,
            )
        elif name in ("stimulus_boxcars", "stimulus_regressors"):
            table = read("stimulus/regressors.csv")
            kind = name.split("_")[1][:-1]  # boxcar / regressor
            columns = [c for c in table.columns if c.startswith(f"{kind}_")]
            np.testing.assert_array_equal(obj.data[:], table[columns].to_numpy(np.float32), err_msg=name)
        else:
            raise AssertionError(f"{session}: series {name} has no counterpart checked in results/")
        return
    if not isinstance(obj, DynamicTable):
        return
    frame = obj.to_dataframe(index=True) if len(obj) else pd.DataFrame()
    tables = {
        "deconvolution": "deconvolution.tsv",
        "event_thresholds": "events/event_thresholds.tsv",
        "event_features": "events/features.csv",
        "coactivity": "population/coactivity.csv",
        "coactivity_null_distribution": "population/null_histogram.csv",
        "coactivity_null_shuffles": "population/null_shuffles.csv",
        "ensemble_membership": "ensembles/ensemble_members.csv",
        "ensemble_activation_times": "ensembles/ensemble_activation_times.csv",
        "stimulus_regression": "stimulus/regression.csv",
        "stimulus_responses": "stimulus/stimulus_responses.csv",
        "expected_accuracy": "evaluation/expected_accuracy.csv",
        "expected_accuracy_neurons": "evaluation/expected_accuracy_neurons.csv",
        "evaluation": "evaluation/evaluation.csv",
        "evaluation_summary": "evaluation/summary.csv",
    }
    if name in tables:
        _equal_columns(frame, read(tables[name]), name)
    elif name == "PlaneSegmentation":
        neurons = pd.read_csv(out / "ingest" / "neurons.tsv", sep="\t", dtype={"label": str})
        assert list(obj.id[:]) == neurons.neuron.tolist()
        _equal_columns(frame, neurons.drop(columns=["neuron"]), name)
        footprints = np.load(out / "ingest" / "footprints.npz")
        assert footprints["roi"].size == 0 and str(footprints["source"]) == "none"  # traces only (CSV)
    elif name == "InferredSpikes":
        spikes = read("spike_times.csv")
        arrays = np.load(out / "spike_times.npz")
        for neuron, key in enumerate(sorted(arrays.files)):
            mine = spikes[spikes.neuron == neuron]
            np.testing.assert_array_equal(frame.spike_times.iloc[neuron], arrays[key])  # same clock
            np.testing.assert_allclose(frame.spike_times.iloc[neuron], mine.time_s, rtol=0, atol=1e-12)
            np.testing.assert_array_equal(frame.spike_frames.iloc[neuron], mine.frame)
            np.testing.assert_array_equal(frame.spike_amplitudes_dff.iloc[neuron], mine.amplitude_dff)
    elif name == "calcium_events":
        events = read("events/events.csv")
        _equal_columns(frame, events, name)
        np.testing.assert_array_equal(frame.timestamp, events.onset_s)
        np.testing.assert_array_equal(frame.duration, events.end_s - events.onset_s)
    elif name == "stimuli":
        stimuli = read("stimulus/stimuli.csv")
        np.testing.assert_array_equal(frame.start_time, stimuli.onset_s)
        np.testing.assert_array_equal(frame.stop_time, stimuli.offset_s)
        assert frame.stimulus.tolist() == stimuli.stimulus.tolist()
    elif name == "coactivity_null_thresholds":
        null = json.loads((out / "population" / "null_threshold.json").read_text())
        _equal_columns(frame, pd.DataFrame(null["thresholds"]), name)
        assert f"threshold {null['threshold_n_active']:.6g} active neurons" in obj.description
    elif name == "ensemble_events":
        events = read("ensembles/ensemble_activations.csv")
        _equal_columns(frame, events, name)
        pairs = read("population/ensemble_event_neurons.csv")
        assert _ragged(frame.neurons) == [pairs.neuron[pairs.event == e].tolist() for e in events.event]
    elif name == "ensembles":
        ensembles = read("ensembles/ensembles.csv")
        _equal_columns(frame, ensembles.drop(columns=["members"]), name)
        expected = [[int(v) for v in str(m).split()] if str(m) != "nan" else [] for m in ensembles.members]
        assert _ragged(frame.members) == expected if "members" in frame else not any(expected)
        assert obj["members"].target.table.name == "PlaneSegmentation"  # members reference the ROIs
    elif name == "ensemble_event_similarity":
        np.testing.assert_array_equal(
            np.asarray(obj["similarity"].data[:]), np.load(out / "ensembles" / "similarity.npy")
        )
    else:
        raise AssertionError(f"{session}: table {name} has no counterpart checked in results/")


def test_bundled_sessions_nwb_output_equals_the_results_value_for_value(default_run):
    """Walk every table and series of each session's NWB file: each equals its results/ file."""
    config = yaml.safe_load((default_run / "config.yaml").read_text())
    for session in ("s1", "s2"):
        out = default_run / "results" / session
        path = out / f"{session}.nwb"
        # No metadata given: only what DANDI asks of the subject is flagged (named in the log).
        messages = [m for m in inspect_nwbfile(nwbfile_path=path) if m.importance in BAD]
        assert {m.check_function_name for m in messages} <= {
            "check_subject_id_exists",
            "check_subject_sex",
            "check_subject_age",
        }, [(m.check_function_name, m.message) for m in messages]
        log = (default_run / "results" / "logs" / session / "nwb.log").read_text()
        assert "DANDI will ask for session_start_time, subject.subject_id, subject.sex" in log
        with NWBHDF5IO(str(path), "r") as io:
            nwbfile = io.read()
            names = set()
            for obj in nwbfile.objects.values():
                _check_against_results(obj, out, session)
                names.add(obj.name)
            expected = {"fluorescence", "dff", "activity", "InferredSpikes", "calcium_events", "coactivity"}
            expected |= {"coactivity_null_distribution", "ensembles", "expected_accuracy", "evaluation"}
            expected |= {"ensemble_activation_times"}
            assert expected <= names, expected - names
            assert ("stimuli" in names and "stimulus_regression" in names) == (session == "s1")
            # nothing invented: unknown subject fields and start time are absent or flagged
            assert nwbfile.subject.subject_id is None and nwbfile.subject.sex is None
            assert nwbfile.subject.species == "http://purl.obolibrary.org/obo/NCBITaxon_32630"
            assert "placeholder 1970-01-01T00:00:00Z" in nwbfile.session_description
            plane = nwbfile.imaging_planes["ImagingPlane"]
            assert np.isnan(plane.excitation_lambda) and plane.location == "unknown"
            assert "not ΔF/F" in nwbfile.processing["ophys"]["Deconvolved"]["activity"].description
            provenance = json.loads(nwbfile.data_collection)
            assert provenance["parameters"]["events"] == config["events"]
            assert "figures" not in provenance["parameters"] and "browser" not in provenance["parameters"]
            with open(REPO / "pyproject.toml", "rb") as handle:
                version = tomllib.load(handle)["project"]["version"]
            assert provenance["version"].split(" ")[0] == version


def _default_run_with_metadata_for_dandi(workdir, default_run):
    """A copy of the default run with the example metadata file and DANDI's layout asked for."""
    shutil.copytree(default_run, workdir, symlinks=True)
    sheet = pd.read_csv(workdir / "resources" / "sessions.tsv", sep="\t", dtype=str, keep_default_na=False)
    sheet["metadata"] = "resources/metadata.example.yaml"
    sheet.to_csv(workdir / "resources" / "sessions.tsv", sep="\t", index=False)
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    config["nwb"]["dandi_layout"] = True
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    return ()


@prestarted(_default_run_with_metadata_for_dandi, from_default_run=True)
def test_complete_metadata_file_passes_dandi_inspection_and_names_files_for_dandi(
    default_run, prestarted_run
):
    """The bundled sessions with the example metadata file: nothing above a best-practice
    suggestion under `nwbinspector --config dandi`, and DANDI's file names on request."""
    from nwbinspector import load_config

    workdir, result = prestarted_run
    assert result.returncode == 0, result.stdout[-3000:]
    assert "nwb " in result.stdout and "deconvolve" not in result.stdout  # only the NWB files re-made
    user = yaml.safe_load((REPO / "resources" / "metadata.example.yaml").read_text())
    for session in ("s1", "s2"):
        path = (
            workdir / "results" / "dandi" / "sub-synthetic-01" / f"sub-synthetic-01_ses-{session}_ophys.nwb"
        )
        assert path.read_bytes() == (workdir / "results" / session / f"{session}.nwb").read_bytes()
        messages = [
            m
            for m in inspect_nwbfile(nwbfile_path=path, config=load_config("dandi"))
            if m.importance != Importance.BEST_PRACTICE_SUGGESTION
        ]
        assert not messages, [(m.check_function_name, m.importance, m.message) for m in messages]
        assert "DANDI will ask" not in (workdir / "results" / "logs" / session / "nwb.log").read_text()
        with NWBHDF5IO(str(path), "r") as io:
            nwbfile = io.read()
            assert nwbfile.session_start_time.isoformat() == user["session_start_time"]
            assert nwbfile.subject.subject_id == "synthetic-01" and nwbfile.subject.age == "P90D"
            assert nwbfile.subject.genotype == user["subject"]["genotype"]
            assert list(nwbfile.experimenter) == user["experimenter"] and nwbfile.lab == user["lab"]
            plane = nwbfile.imaging_planes["ImagingPlane"]
            assert (plane.excitation_lambda, plane.location) == (920.0, user["imaging_plane"]["location"])
            assert plane.optical_channel[0].emission_lambda == 510.0
            assert nwbfile.session_description.startswith(user["session_description"])


ROUND_TRIP_TABLES = [
    "spike_times.csv",
    "spike_times.npz",
    "deconvolution_settings.tsv",  # deconvolution.tsv adds the expected accuracy: light here
    "events/events.csv",
    "events/event_thresholds.tsv",
    "events/features.csv",
    "population/coactivity.csv",
    "population/null_threshold.json",
    "population/ensemble_events.csv",
    "ensembles/ensembles.csv",
    "ensembles/ensemble_members.csv",
    "stimulus/stimuli.csv",
    "stimulus/regression.csv",
    "stimulus/stimulus_responses.csv",
]


def _s1_nwb_read_back(workdir, default_run):
    """A fresh workflow whose one session is s1's NWB output, as ΔF/F with its stimuli."""
    copy_workflow(workdir)
    shutil.copy(default_run / "results" / "s1" / "s1.nwb", workdir / "resources" / "back.nwb")
    (workdir / "rt.tsv").write_text(
        "session\tpath\tframe_rate_hz\tindicator\tinput_kind\tnwb_stimulus_intervals\n"
        "back\tresources/back.nwb\t\tGCaMP6s\tdff\tintervals/stimuli\n"
    )
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    _light_expected_accuracy(config)  # not among the tables compared
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    targets = [f"results/back/{name}" for name in [*ROUND_TRIP_TABLES, "back.nwb"]]
    return (*targets, "--config", "sessions=rt.tsv")


@prestarted(_s1_nwb_read_back, from_default_run=True)
def test_round_trip_through_the_workflows_own_nwb_reproduces_the_tables(default_run, prestarted_run):
    """s1's NWB output, read back as a ΔF/F session with its stimulus intervals, gives s1's tables,
    and an NWB file with the same spike times, events and stimuli."""
    workdir, result = prestarted_run
    assert result.returncode == 0, result.stdout[-3000:]
    for name in ROUND_TRIP_TABLES:
        again = (workdir / "results" / "back" / name).read_bytes()
        assert again == (default_run / "results" / "s1" / name).read_bytes(), name
    facts = json.loads((workdir / "results" / "back" / "ingest" / "recording.json").read_text())
    assert (facts["frame_rate_hz"], facts["start_time_s"]) == (5.0, 0.0)
    first = NWBHDF5IO(str(default_run / "results" / "s1" / "s1.nwb"), "r")
    second = NWBHDF5IO(str(workdir / "results" / "back" / "back.nwb"), "r")
    with first, second:
        one, two = first.read(), second.read()
        for table in ("InferredSpikes", "event_thresholds", "event_features"):
            pd.testing.assert_frame_equal(
                one.processing["ophys"][table].to_dataframe(index=True),
                two.processing["ophys"][table].to_dataframe(index=True),
            )
        for name, a, b in (
            ("calcium_events", one.events, two.events),
            ("stimuli", one.intervals, two.intervals),
            ("ensembles", one.analysis, two.analysis),
        ):
            pd.testing.assert_frame_equal(a[name].to_dataframe(index=True), b[name].to_dataframe(index=True))
        # the placeholder start time of the first file is not taken for a known one
        assert "placeholder" in two.session_description
        assert not two.processing["ophys"].data_interfaces.get("Fluorescence")  # ΔF/F input: no raw F


def _light_expected_accuracy(config: dict) -> None:
    """One reference recording per set and one noise band: the expected accuracy (what the NWB
    file copies from its table, not what these tests check) costs the same for 4 neurons as for
    400 and was the slowest job of these runs."""
    config["expected_accuracy"].update(recordings_per_set=1, n_noise_bands=1)


def _short_recordings_allowed(workdir):
    """The hand-made files hold 8 s; the workflow refuses recordings under 10 s by default."""
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    config["input"]["min_duration_s"] = 1
    _light_expected_accuracy(config)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))


def _with_mean_image(path, mean):
    """Add a mean image to an NWB file as Suite2p's export keeps it (an Images container)."""
    from pynwb.base import Images
    from pynwb.image import GrayscaleImage

    with NWBHDF5IO(str(path), "a") as io:
        nwbfile = io.read()
        images = Images(name="Backgrounds_0", description="summary images")
        images.add_image(GrayscaleImage(name="meanImg", data=mean, description="mean image"))
        nwbfile.processing["ophys"].add(images)
        io.write(nwbfile)


def _suite2p_and_transposed_sessions(workflow_copy):
    """Sessions a (NWB with a mean image), b (NWB, transposed) and c (Suite2p folder) of one
    recording: the three ingested, and a's NWB output (its subject, plane, masks, mean image
    and neuropil carried). How the NWB output holds a Suite2p folder's stat.npy masks and
    meanImg is tested on the writer (test_footprints_become_the_roi_masks_and_the_mean_image):
    here c's ingest must read them into the footprints the nwb rule writes from."""
    f, fneu, iscell = _recording()
    ophys_file(workflow_copy / "resources" / "a.nwb", f, neuropil=fneu, iscell=iscell)
    _with_mean_image(workflow_copy / "resources" / "a.nwb", np.arange(48, dtype=np.float32).reshape(8, 6))
    ophys_file(workflow_copy / "resources" / "b.nwb", f, layout="rois_x_frames", neuropil=fneu, iscell=iscell)
    suite2p_folder(workflow_copy / "resources" / "c", f, fneu, iscell)
    (workflow_copy / "nwb.tsv").write_text(
        "session\tpath\tframe_rate_hz\tindicator\tinput_kind\tnwb_neuropil_series\n"
        "a\tresources/a.nwb\t\tGCaMP6s\traw\tauto\n"
        "b\tresources/b.nwb\t30.01\tGCaMP6s\traw\tprocessing/ophys/Neuropil/plane0\n"
        "c\tresources/c\t30\tGCaMP6s\traw\t\n"
    )
    names = ("fluorescence.npy", "neurons.tsv", "recording.json", "footprints.npz")
    targets = [f"results/{s}/ingest/{n}" for s in "abc" for n in names]
    targets.append("results/a/a.nwb")  # NWB in, NWB out
    _short_recordings_allowed(workflow_copy)
    return (*targets, "--config", "sessions=nwb.tsv")


@prestarted(_suite2p_and_transposed_sessions)
def test_suite2p_and_transposed_nwb_sessions_ingest_alike(prestarted_run, recording):
    f, fneu, iscell = recording
    workflow_copy, result = prestarted_run
    assert result.returncode == 0, result.stdout[-3000:]
    a, b = (np.load(workflow_copy / "results" / s / "ingest" / "fluorescence.npy") for s in "ab")
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, f[iscell > 0.5] - np.float32(0.7) * fneu[iscell > 0.5])
    for s in "ab":
        facts = json.loads((workflow_copy / "results" / s / "ingest" / "recording.json").read_text())
        assert facts["frame_rate_hz"] == 30.0  # the file's rate, also where the sheet said 30.01
        labels = pd.read_csv(workflow_copy / "results" / s / "ingest" / "neurons.tsv", sep="\t").label
        assert labels.tolist() == [100, 101, 103, 104]
    with NWBHDF5IO(str(workflow_copy / "results" / "a" / "a.nwb"), "r") as io:
        nwbfile = io.read()
        assert nwbfile.subject.species == "Mus musculus" and nwbfile.subject.subject_id == "m1"
        assert nwbfile.session_start_time == datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
        plane = nwbfile.imaging_planes["ImagingPlane"]
        assert (plane.location, plane.excitation_lambda) == ("VISp", 920.0)
        rois = nwbfile.processing["ophys"]["ImageSegmentation"]["PlaneSegmentation"]
        assert [len(rois["pixel_mask"][i]) for i in range(4)] == [2, 2, 2, 2]
        assert rois["pixel_mask"][2][0][0] == 3  # ROI 103's first pixel: x 3
        assert nwbfile.processing["ophys"]["DfOverF"]["dff"].data.shape == (240, 4)
        ophys = nwbfile.processing["ophys"]
        np.testing.assert_array_equal(ophys["Fluorescence"]["neuropil"].data[:], fneu[iscell > 0.5].T)
        np.testing.assert_array_equal(ophys["SummaryImages"]["mean"].data[:], np.arange(48).reshape(8, 6))
        # the recording's fluorescence, neuropil-corrected as the dF/F was
        np.testing.assert_array_equal(ophys["Fluorescence"]["fluorescence"].data[:], a.T)
    footprints = np.load(workflow_copy / "results" / "a" / "ingest" / "footprints.npz")
    assert str(footprints["source"]) == "nwb" and footprints["roi"].tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    np.testing.assert_array_equal(
        np.load(workflow_copy / "results" / "c" / "ingest" / "fluorescence.npy"), a
    )  # Suite2p folder and NWB export of one recording: the same traces
    suite2p = np.load(workflow_copy / "results" / "c" / "ingest" / "footprints.npz")
    assert str(suite2p["source"]) == "suite2p" and suite2p["mean_image"].shape == (12, 10)
    assert suite2p["roi"].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert suite2p["y"][suite2p["roi"] == 2].tolist() == [3, 4, 5]  # ROI 103's stat.npy pixels
    # 8 s of noise: no spike, no event; the input's subject is carried: nothing NWB asks for
    assert pd.read_csv(workflow_copy / "results" / "a" / "spike_times.csv").empty
    messages = [
        m
        for m in inspect_nwbfile(nwbfile_path=workflow_copy / "results" / "a" / "a.nwb")
        if m.importance in BAD
    ]
    assert not messages, [(m.check_function_name, m.object_name, m.message) for m in messages]


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        (
            "nwb_series",
            "processing/ophys/DfOverF/plane0",
            "series 'processing/ophys/DfOverF/plane0' not found",
        ),
        ("frame_rate_hz", "15", "is sampled at 30 Hz but the sheet's frame_rate_hz says 15"),
        ("corrupt", "", "cannot be read as an NWB file"),
        ("session_start_time", "2024-05-01 09:30", "has no time zone"),
    ],
)
def test_bad_nwb_session_stops_before_any_job(workflow_copy, recording, column, value, expected):
    path = ophys_file(workflow_copy / "resources" / "c.nwb", recording[0])
    if column == "corrupt":
        path.write_bytes(path.read_bytes()[:4000])
    row = {"session": "c", "path": "resources/c.nwb", "frame_rate_hz": "", "indicator": "GCaMP6s"}
    row |= {"input_kind": "raw", column: value} if column != "corrupt" else {"input_kind": "raw"}
    pd.DataFrame([row]).to_csv(workflow_copy / "c.tsv", sep="\t", index=False)
    result = snakemake(workflow_copy, "--config", "sessions=c.tsv")
    assert result.returncode != 0
    assert "c.tsv: line 2: session c: " in result.stdout and expected in result.stdout, result.stdout[-3000:]
    if column != "session_start_time":  # a problem of the file: the file is named
        assert "resources/c.nwb: " in result.stdout
    assert not (workflow_copy / "results").exists()


def test_nwb_output_streams_compressed_chunks(tmp_path):
    """A larger array is compressed chunk by chunk on several threads and written as HDF5's
    own gzip + shuffle chunks: the file reads back exactly, and does not depend on the threads."""
    import h5py

    from calcium.outputs.nwb_traces import encode_chunk

    rng = np.random.default_rng(5)
    dff = rng.normal(size=(300, 20_000)).astype(np.float32)  # 24 MB
    save_npy(tmp_path / "dff.npy", dff)
    metadata, _ = session_metadata({"session": "big"}, {}, None, "1", {}, 300, 30.0)
    for workers in (1, 3):
        writer = SessionNwbWriter(metadata, 30.0, 0.0, [str(i) for i in range(300)], workers=workers)
        writer.add_traces("DfOverF", "DfOverF", "dff", tmp_path / "dff.npy", "ΔF/F", buffer_bytes=4 << 20)
        writer.write(tmp_path / f"big{workers}.nwb")
    with NWBHDF5IO(str(tmp_path / "big3.nwb"), "r") as io:
        data = io.read().processing["ophys"]["DfOverF"]["dff"].data
        np.testing.assert_array_equal(data[:, 123], dff[123])
        np.testing.assert_array_equal(data[:], dff.T)
        assert data.chunks == (10_000, 25)  # 20,000 frames and 300 ROIs split evenly, 1 MB
        assert data.compression == "gzip" and data.shuffle
    path = "processing/ophys/DfOverF/dff/data"
    with h5py.File(tmp_path / "big1.nwb", "r") as one, h5py.File(tmp_path / "big3.nwb", "r") as three:
        for offset in [(0, 0), (10_000, 275)]:
            assert one[path].id.read_direct_chunk(offset) == three[path].id.read_direct_chunk(offset)
        # the bytes HDF5 stores are the chunk's shuffle + deflate encoding
        _, stored = three[path].id.read_direct_chunk((10_000, 275))
        assert stored == encode_chunk(dff[275:300, 10_000:].T, (10_000, 25), 4)


def test_bad_metadata_file_stops_before_any_job(workflow_copy):
    (workflow_copy / "resources" / "meta.yaml").write_text("subject:\n  sex: male\n")
    sheet = pd.read_csv(
        workflow_copy / "resources" / "sessions.tsv", sep="\t", dtype=str, keep_default_na=False
    )
    sheet["metadata"] = ["", "resources/meta.yaml"]
    sheet.to_csv(workflow_copy / "resources" / "sessions.tsv", sep="\t", index=False)
    result = snakemake(workflow_copy, "--dry-run")
    assert result.returncode != 0
    assert "sessions.tsv: line 3: session s2: resources/meta.yaml does not match" in result.stdout, (
        result.stdout[-2000:]
    )
    assert "subject.sex: 'male' is not one of" in result.stdout
    # nwb.dandi_layout needs every session's subject id: refused up front, naming the fix.
    (workflow_copy / "resources" / "meta.yaml").write_text("subject:\n  sex: M\n")
    config = yaml.safe_load((workflow_copy / "config.yaml").read_text())
    config["nwb"]["dandi_layout"] = True
    (workflow_copy / "config.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(workflow_copy, "--dry-run")
    assert result.returncode != 0
    assert "session s1: nwb.dandi_layout is true but the session has no subject id" in result.stdout
    assert not (workflow_copy / "results").exists()


def test_text_columns_keep_blank_cells_blank_and_reasons_stay_text():
    """A blank text cell is "" in the NWB file (it was written "nan"), and a `*_reason` column is
    text in every session, also where no neuron has a reason and pandas reads it as NaN floats (its
    type changed from session to session)."""
    from calcium.outputs.nwb_columns import column_data

    flagged = pd.Series(["expected r below 0.2", np.nan, None], name="quality_reason")
    assert column_data(flagged, 0) == ["expected r below 0.2", "", ""]
    nobody = pd.Series([np.nan, np.nan], name="quality_reason")
    assert column_data(nobody, 0) == ["", ""]
    labels = pd.Series(["a", np.nan], name="label")
    assert column_data(labels, 0) == ["a", ""]
    numbers = pd.Series([0.5, np.nan], name="expected_correlation")
    np.testing.assert_array_equal(np.asarray(column_data(numbers, 0)), [0.5, np.nan])
