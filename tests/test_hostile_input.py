"""Inputs of the adversarial review (issue 23): each is refused with one line naming the file,
line or config key, before any job, and never hangs, exhausts memory or raises a traceback.

Library level: these are the functions that workflow/rules/common.smk runs before any job.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from calcium.errors import ConfigError, InputError
from calcium.input.ingest import InputSettings, probe_input
from calcium.input.sheet import check_session, fill_defaults, read_session_sheet, schema_errors
from calcium.input.tables import parse_ground_truth, parse_stimulus_table, read_user_table
from calcium.settings import check_session_settings

REPO = Path(__file__).resolve().parents[1]


def _schema(name: str) -> dict:
    return yaml.safe_load((REPO / "workflow" / "schemas" / f"{name}.schema.yaml").read_text())


def _config() -> dict:
    return yaml.safe_load((REPO / "config.yaml").read_text())


@contextlib.contextmanager
def _within(seconds: int):
    """Fail (instead of hanging the suite) if the block takes longer than `seconds`."""

    def expire(*_):
        raise TimeoutError(f"took longer than {seconds} s: the reader blocks")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _traces(path: Path, n_neurons=4, n_frames=600) -> Path:
    np.savetxt(
        path, np.random.default_rng(0).uniform(90, 110, (n_neurons, n_frames)), fmt="%.2f", delimiter=","
    )
    return path


def _row(tmp_path: Path, **fields) -> dict:
    row = {
        "session": "a",
        "path": str(_traces(tmp_path / "a.csv")),
        "frame_rate_hz": 5.0,
        "indicator": "GCaMP6s",
        "input_kind": "raw",
        "stimuli": "",
        "ground_truth": "",
        "nwb_stimulus_intervals": "",
    }
    return row | fields


# --- config values that mean nothing are refused by the schema ----------------------------------


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("dff", "min_f0", -100),
        ("dff", "min_f0", 0),
        ("denoise", "wavelet", "foo"),
        ("denoise", "wavelet", "cmor1.5-1.0"),  # continuous: no discrete transform
        ("denoise", "level", 99),
        ("coactivity", "bin_s", 0),
        ("nwb", "lab", "x" * 5000),
        ("deconvolution", "smoothing_s", 1e9),  # a Gaussian kernel of 1.75 TiB
        ("deconvolution", "lag_s", 1e9),  # 447 GiB
        ("deconvolution", "lag_s", -1e9),
    ],
)
def test_config_values_without_meaning_fail_the_schema_naming_the_key(section, key, value):
    config = _config()
    config[section][key] = value
    errors = schema_errors(config, _schema("config"))
    assert errors and all(line.strip().startswith(f"{section}.{key}:") for line in errors), errors


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("dff", "percentile", float("nan")),
        ("coactivity", "bin_s", float("nan")),
        ("events", "max_fwhm_s", float("inf")),
    ],
)
def test_nan_and_infinite_config_numbers_are_refused(section, key, value):
    from calcium.settings import check_config

    config = _config()
    config[section][key] = value
    assert schema_errors(config, _schema("config")) == []  # NaN passes minimum and maximum ...
    with pytest.raises(ConfigError, match=rf"config {section}\.{key}: (nan|inf) is not a finite number"):
        check_config(config)  # ... so it is refused here, before any job


def test_wavelet_names_are_exactly_pywavelets_discrete_wavelets():
    import pywt

    enum = _schema("config")["properties"]["denoise"]["properties"]["wavelet"]["enum"]
    assert enum == pywt.wavelist(kind="discrete")


def test_every_config_string_and_sheet_column_is_length_limited():
    def strings(spec, where):
        if spec.get("type") in ("string", ["string", "null"]):
            yield where, spec
        for key, sub in spec.get("properties", {}).items():
            yield from strings(sub, f"{where}.{key}")
        if isinstance(spec.get("items"), dict):
            yield from strings(spec["items"], f"{where}[]")

    found = list(strings(_schema("config"), "config")) + list(strings(_schema("sessions"), "sheet"))
    assert len(found) > 15
    unlimited = [where for where, spec in found if "maxLength" not in spec and "enum" not in spec]
    assert not unlimited


# --- config values checked against each session, before any job ----------------------------------


@pytest.mark.parametrize(
    ("section", "key", "value", "frame_s"),
    [
        ("evaluation", "bin_s", 1e-9, 0.01),
        ("coactivity", "bin_s", 1e-7, 0.05),
        ("stimulus", "heatmap_bin_s", 0.04, 0.05),
    ],
)
def test_bins_shorter_than_one_frame_are_refused_per_session(section, key, value, frame_s):
    config = _config()
    rate = 1 / frame_s
    check_session_settings(config, rate, 12, 15000)
    config[section][key] = value
    with pytest.raises(
        ConfigError, match=rf"config {section}\.{key}: .* shorter than one frame \({frame_s:g} s"
    ):
        check_session_settings(config, rate, 12, 15000)
    config[section][key] = frame_s  # exactly one frame is a bin
    check_session_settings(config, rate, 12, 15000)


def test_evaluation_bins_may_be_finer_than_a_frame_down_to_40_ms():
    config = _config()
    config["evaluation"]["bin_s"] = 0.04
    check_session_settings(config, 5.0, 12, 1500)  # the spikefinder bin at 5 Hz
    config["evaluation"]["bin_s"] = 0.02
    with pytest.raises(ConfigError, match=r"evaluation\.bin_s: 0\.02 s .*use 0\.04 s or more"):
        check_session_settings(config, 5.0, 12, 1500)


def test_denoise_level_deeper_than_the_recording_allows_is_refused_and_the_used_level_logged():
    from calcium.signal.denoise import denoise_level, max_denoise_level

    config = _config()
    deepest = max_denoise_level(1500, "sym4")
    assert deepest == 7  # log2(1500 / 7): sym4's filter is 8 taps long
    config["denoise"]["level"] = deepest
    check_session_settings(config, 5.0, 12, 1500)
    config["denoise"]["level"] = deepest + 1
    with pytest.raises(ConfigError, match=r"config denoise\.level: 8 is deeper .* \(at most 7\)"):
        check_session_settings(config, 5.0, 12, 1500)
    assert denoise_level(1500, "sym4", None) == 6 and denoise_level(20, "db8", None) == 1
    script = (REPO / "scripts" / "denoise.py").read_text()
    assert "decomposition level used" in script and "denoise_level(" in script


# --- the session sheet ---------------------------------------------------------------------------


def test_a_300_character_session_id_is_refused_naming_the_column(tmp_path):
    sheet = tmp_path / "sheet.tsv"
    pd.DataFrame([_row(tmp_path, session="s" * 300)]).drop(columns=["nwb_stimulus_intervals"]).to_csv(
        sheet, sep="\t", index=False
    )
    with pytest.raises(InputError, match=r"line 2 does not match .*\n  session: .* is too long"):
        read_session_sheet(sheet, _schema("sessions"))


# --- stimulus tables -----------------------------------------------------------------------------


@pytest.mark.parametrize("label", ["None", "NA", "nan", "NULL", "#N/A", "null", "n/a"])
def test_stimulus_labels_that_read_as_missing_values_are_refused(label):
    table = pd.DataFrame({"stimulus": ["grating", label], "onset_s": ["1", "5"], "duration_s": ["1", "1"]})
    with pytest.raises(
        InputError, match=rf"stim\.csv: line 3: the stimulus label '{label}' reads as a missing"
    ):
        parse_stimulus_table(table, "stim.csv", 100.0)


def test_duplicate_stimulus_rows_are_refused_naming_both_lines():
    table = pd.DataFrame(
        {"stimulus": ["a", "b", "a"], "onset_s": ["1", "5", "1.0"], "duration_s": ["1", "1", "1"]}
    )
    with pytest.raises(InputError, match=r"stim\.csv: lines 2 and 4 give the same stimulus at the same time"):
        parse_stimulus_table(table, "stim.csv", 100.0)
    table.loc[2, "onset_s"] = "9"  # the same stimulus again later is a new presentation
    assert len(parse_stimulus_table(table, "stim.csv", 100.0)) == 3


# --- ground truth --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("n_spikes", "1e30", "line 3, column n_spikes: 1e30 spikes at one time"),
        ("n_spikes", "1e12", "line 3, column n_spikes: 1e12 spikes at one time"),
        ("neuron", "1e30", "line 3, column neuron: '1e30' is not a neuron id"),
    ],
)
def test_ground_truth_counts_beyond_any_neuron_are_refused(column, value, message):
    table = pd.DataFrame({"neuron": ["0", "0"], "time_s": ["1.0", "2.0"], "n_spikes": ["1", "2"]})
    table.loc[1, column] = value
    with pytest.raises(InputError, match=message):
        parse_ground_truth(table, "gt.csv")


def test_ground_truth_total_is_capped():
    table = pd.DataFrame(
        {"neuron": ["0"] * 20_001, "time_s": ["1.0"] * 20_001, "n_spikes": ["1000"] * 20_001}
    )
    with pytest.raises(InputError, match="adds up to 2e\\+07 spikes"):
        parse_ground_truth(table, "gt.csv")


# --- Suite2p -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "iscell",
    [np.array(1.0), np.array(["yes"] * 3), np.ones((3, 2, 2)), np.ones((3, 0))],
    ids=["0-d", "strings", "3-d", "no columns"],
)
def test_malformed_suite2p_iscell_is_refused_naming_the_file_and_the_key(tmp_path, iscell):
    folder = tmp_path / "plane0"
    folder.mkdir()
    np.save(folder / "F.npy", np.ones((3, 100), dtype=np.float32))
    np.save(folder / "Fneu.npy", np.ones((3, 100), dtype=np.float32))
    np.save(folder / "iscell.npy", iscell)
    with pytest.raises(
        InputError, match=r"iscell\.npy: expected Suite2p's classification.*suite2p_cells_only"
    ):
        probe_input(folder)


# --- files that are not regular files: no hang, no memory exhaustion ----------------------------


@pytest.mark.parametrize("column", ["stimuli", "ground_truth", "path"])
def test_a_fifo_anywhere_in_the_sheet_is_refused_without_blocking(tmp_path, column):
    fifo = tmp_path / ("pipe.csv" if column != "path" else "pipe.nwb")
    os.mkfifo(fifo)
    with (
        _within(10),
        pytest.raises(InputError, match=r"pipe\.(csv|nwb): .* named pipe \(FIFO\), not a regular"),
    ):
        check_session(_row(tmp_path, **{column: str(fifo)}), InputSettings(), "sheet.tsv", 2)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
@pytest.mark.parametrize("column", ["stimuli", "ground_truth", "path"])
def test_dev_zero_is_refused_without_reading_it(tmp_path, column):
    with _within(10), pytest.raises(InputError, match=r"/dev/zero: .* a device or socket"):
        check_session(_row(tmp_path, **{column: "/dev/zero"}), InputSettings(), "sheet.tsv", 2)


def test_a_fifo_session_sheet_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "sheet.tsv"
    os.mkfifo(fifo)
    with _within(10), pytest.raises(InputError, match="named pipe"):
        read_session_sheet(fifo, _schema("sessions"))


def test_user_tables_are_read_up_to_a_cap(tmp_path, monkeypatch):
    import calcium.input.tables as tables

    path = tmp_path / "stim.csv"
    path.write_text("stimulus,onset_s,duration_s\n" + "a,1,1\n" * 1000)
    monkeypatch.setattr(tables, "MAX_TABLE_BYTES", 1000)
    with pytest.raises(InputError, match=r"stim\.csv: the stimulus table is larger than"):
        read_user_table(path, "stimulus table")


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("stimulus", "response_window_s", [0.0, 1e-9]),
        ("stimulus", "baseline_window_s", [-1e-9, 0.0]),
        ("figures", "time_window_s", [0.0, 0.1]),
        ("evaluation", "example_s", 1e-9),
    ],
)
def test_windows_shorter_than_a_frame_hold_nothing_and_are_refused(section, key, value):
    config = _config()
    config[section][key] = value
    with pytest.raises(ConfigError, match=rf"config {section}\.{key}: spans .* less than"):
        check_session_settings(config, 5.0, 12, 1500)


def test_coactivity_window_longer_than_the_recording_is_refused():
    config = _config()
    config["coactivity"]["jitter_bins"] = 10**9
    with pytest.raises(ConfigError, match=r"config coactivity\.jitter_bins: 1000000000 makes a window"):
        check_session_settings(config, 5.0, 12, 1500)


def test_defaults_pass_the_new_checks():
    config = fill_defaults(_config(), _schema("config"))
    assert schema_errors(config, _schema("config")) == []
    check_session_settings(config, 30.0, 100, 9000)


@pytest.mark.parametrize("one_row_per_frame", [False, True])
def test_neuron_labels_are_length_limited(tmp_path, one_row_per_frame):
    from calcium.input.csv_files import read_fluorescence_csv
    from calcium.input.csv_layout import TableLayout

    values = np.random.default_rng(0).uniform(90, 110, (3, 40))
    labels = ["a", "x" * 300, "c"]
    frame = (
        pd.DataFrame(values.T, columns=labels) if one_row_per_frame else pd.DataFrame(values, index=labels)
    )
    path = tmp_path / "f.csv"
    frame.to_csv(path, index=not one_row_per_frame)
    orientation = "frames_x_neurons" if one_row_per_frame else "neurons_x_frames"
    where = "line 1, column 2" if one_row_per_frame else "line 3, column 1"
    with pytest.raises(InputError, match=f"f.csv: {where}: a neuron label of 300 characters"):
        read_fluorescence_csv(path, TableLayout(orientation=orientation))


def test_names_read_back_as_written_from_the_workflows_tables(tmp_path):
    """Stimuli named 0/90 (grating orientations), True, or a neuron labelled 007 stay text."""
    from calcium.io import read_table, save_table

    table = pd.DataFrame(
        {
            "stimulus": ["0", "90", "True", "007"],
            "onset_s": [1.0, np.nan, 3.0, 4.0],
            "label": ["", "a", "1.5", "b"],
        }
    )
    save_table(tmp_path / "t.csv", table)
    back = read_table(tmp_path / "t.csv")
    assert back.stimulus.tolist() == ["0", "90", "True", "007"] and back.label.tolist() == [
        "",
        "a",
        "1.5",
        "b",
    ]
    assert np.isnan(back.onset_s.iloc[1]) and back.onset_s.dtype == np.float64


def test_labels_with_dollar_signs_are_drawn_as_written():
    """matplotlib reads $...$ as TeX: a stimulus named "$\\foo$" made the figures job fail."""
    import matplotlib.pyplot as plt

    import calcium.outputs.plot_style  # noqa: F401 (sets the text style of every figure)

    figure, ax = plt.subplots()
    ax.set_title("grating $\\foo$ at 90°")
    figure.savefig(io.BytesIO(), format="png")
    plt.close(figure)


def test_an_unreadable_fluorescence_file_is_one_line(tmp_path, monkeypatch):
    import calcium.input.csv_probe

    path = _traces(tmp_path / "f.csv")

    def denied(file):
        raise PermissionError(13, "Permission denied", str(file))

    monkeypatch.setattr(calcium.input.csv_probe, "check_text_csv", denied)
    with pytest.raises(InputError, match=r"f\.csv: cannot be read \(Permission denied\)"):
        probe_input(path)
