"""Bad inputs and faults: each gets one message naming the file/line/key, and leaves nothing behind.

Library level (no Snakemake): the checks run before any job in workflow/rules/common.smk
through these same functions; tests/test_workflow.py checks that they stop a real run.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from calcium.errors import ConfigError, InputError, OutputError
from calcium.input.csv_files import read_fluorescence_csv
from calcium.input.csv_layout import TableLayout
from calcium.input.ingest import InputSettings, check_plausible_shape, checked_block, probe_input
from calcium.input.sheet import check_session, check_writable, read_session_sheet
from calcium.input.tables import parse_ground_truth, read_user_table
from calcium.io import save_npy, save_table, stale_temporaries
from calcium.settings import (
    check_config,
    check_session_settings,
    deconvolution_settings,
    event_settings,
    stimulus_kernel,
)

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "scripts"


def _config() -> dict:
    return yaml.safe_load((REPO / "config.yaml").read_text())


def _schema() -> dict:
    return yaml.safe_load((REPO / "workflow" / "schemas" / "sessions.schema.yaml").read_text())


def _sheet(tmp_path, **row) -> Path:
    base = {
        "session": "a",
        "path": str(tmp_path / "a.csv"),
        "frame_rate_hz": "5",
        "indicator": "GCaMP6s",
        "input_kind": "raw",
    }
    base.update(row)
    path = tmp_path / "sheet.tsv"
    pd.DataFrame([base]).to_csv(path, sep="\t", index=False)
    return path


def _traces(tmp_path, n_neurons=6, n_frames=600, name="a.csv") -> Path:
    rng = np.random.default_rng(0)
    path = tmp_path / name
    np.savetxt(path, rng.uniform(90, 110, (n_neurons, n_frames)), fmt="%.2f", delimiter=",")
    return path


# --- 2: advice that works: kinetics are looked up only where the config leaves them out ----------


def test_unknown_indicator_with_time_constants_given_needs_no_lookup():
    section = _config()["deconvolution"] | {"tau_decay_s": 0.5}
    settings = deconvolution_settings(section, "MyNewSensor", 30.0)
    assert settings["tau_decay_s"] == 0.5 and settings["ar_order"] == 1
    kernel = stimulus_kernel(_config()["stimulus"] | {"tau_decay_s": 0.5, "tau_rise_s": 0.05}, "MyNewSensor")
    assert kernel["tau_decay_s"] == 0.5


def test_unknown_indicator_names_exactly_the_keys_still_missing():
    with pytest.raises(ConfigError, match=r"config\.yaml: deconvolution\.tau_decay_s\.$"):
        deconvolution_settings(_config()["deconvolution"], "MyNewSensor", 30.0)
    with pytest.raises(ConfigError, match=r"config\.yaml: stimulus\.tau_decay_s, stimulus\.tau_rise_s\.$"):
        stimulus_kernel(_config()["stimulus"], "MyNewSensor")
    with pytest.raises(ConfigError, match="events.min_fwhm_s"):
        event_settings(_config()["events"], _config()["deconvolution"], "MyNewSensor", 30.0)


# --- 3: frame rates that are not finite numbers ------------------------------------------------


@pytest.mark.parametrize("rate", ["nan", "inf", "-inf", "0", "-5", "fast"])
def test_frame_rate_must_be_a_finite_positive_number(tmp_path, rate):
    _traces(tmp_path)
    with pytest.raises(InputError, match=r"sheet\.tsv: line 2, column frame_rate_hz"):
        read_session_sheet(_sheet(tmp_path, frame_rate_hz=rate), _schema())


def test_facts_are_never_written_with_nan(tmp_path):
    from calcium.io import save_json

    with pytest.raises(ValueError):
        save_json(tmp_path / "facts.json", {"frame_rate_hz": float("nan")})
    assert not list(tmp_path.iterdir())


# --- 4: results readable by the group: the umask decides, not mkstemp ---------------------------


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_results_get_the_mode_the_umask_gives(tmp_path, umask):
    script = textwrap.dedent(
        f"""
        import os, sys
        os.umask({umask})
        sys.path.insert(0, {str(SCRIPTS)!r})
        import numpy as np
        from calcium.io import atomic_path, save_npy
        save_npy({str(tmp_path / "x.npy")!r}, np.zeros(3))
        with atomic_path({str(tmp_path / "x.nwb")!r}) as tmp:  # how the NWB file is written
            tmp.write_bytes(b"hdf5")
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True)
    assert stat.S_IMODE((tmp_path / "x.npy").stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE((tmp_path / "x.nwb").stat().st_mode) == 0o666 & ~umask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy", "x.nwb"]


# --- 5: values that pass the schema but mean nothing ---------------------------------------------


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("stimulus", "response_window_s", [3, 0]),
        ("stimulus", "baseline_window_s", [0, -2]),
        ("figures", "time_window_s", [100, 10]),
    ],
)
def test_windows_out_of_order_are_refused_naming_the_key(section, key, value):
    config = _config()
    config[section][key] = value
    with pytest.raises(ConfigError, match=f"{section}.{key}"):
        check_config(config)


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (lambda c: c["dff"].update(window_s=0.1), "dff.window_s"),
        (lambda c: c["coactivity"].update(bin_s=1000), "coactivity.bin_s"),
        (lambda c: c["figures"].update(example_neurons=[0, 12]), "figures.example_neurons"),
        (lambda c: c["figures"].update(time_window_s=[500, 600]), "figures.time_window_s"),
        (lambda c: c["detrend"].update(method="highpass", slow_drift_s=0.3), "detrend.slow_drift_s"),
        (lambda c: c["detrend"].update(slow_drift_s=0.2), "detrend.slow_drift_s"),
    ],
)
def test_values_meaningless_for_the_session_are_refused_naming_the_key(edit, key):
    config = _config()
    check_session_settings(config, 5.0, 12, 1500)  # the defaults work
    edit(config)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        check_session_settings(config, 5.0, 12, 1500)


def test_s_min_with_ar2_is_refused_before_any_job():
    section = _config()["deconvolution"] | {"s_min": 0.1}
    assert deconvolution_settings(section, "GCaMP6s", 60.0)["ar_order"] == 1
    with pytest.raises(ConfigError, match="deconvolution.s_min"):
        deconvolution_settings(section | {"ar_order": 2}, "GCaMP6s", 60.0)


# --- 6: a table read the wrong way round ---------------------------------------------------------


def test_frames_x_neurons_file_read_as_neurons_x_frames_is_refused(tmp_path):
    path = _traces(tmp_path, n_neurons=400, n_frames=20)  # really 400 frames of 20 neurons
    settings = InputSettings(layout=TableLayout(orientation="auto"))
    with pytest.raises(InputError, match="400 neurons x 20 frames.*input.orientation: frames_x_neurons"):
        probe_input(path, settings)
    shape = probe_input(path, InputSettings(layout=TableLayout(orientation="neurons_x_frames")))
    assert shape[:2] == (400, 20)
    with pytest.raises(InputError, match="input.orientation: frames_x_neurons"):  # .npy and others
        check_plausible_shape(shape, 5.0, settings, str(path))
    # Said explicitly, a wide session is accepted (zebrafish: many neurons, long recordings).
    wide = probe_input(_traces(tmp_path, 300, 200, "wide.csv"))
    explicit = InputSettings(layout=TableLayout(orientation="neurons_x_frames"))
    check_plausible_shape(wide, 1.0, explicit, "wide.csv")


def test_recordings_shorter_than_the_minimum_are_refused(tmp_path):
    path = _traces(tmp_path, n_neurons=5, n_frames=30)
    settings = InputSettings(layout=TableLayout(orientation="auto"))
    with pytest.raises(InputError, match="input.min_duration_s"):
        check_plausible_shape(probe_input(path, settings), 5.0, settings, str(path))


# --- 7: complex arrays ---------------------------------------------------------------------------


def test_complex_npy_is_refused(tmp_path):
    path = tmp_path / "f.npy"
    np.save(path, np.ones((4, 100), dtype=np.complex64))
    with pytest.raises(InputError, match="complex values"):
        probe_input(path)


# --- 8, 9: files that are not what they should be ------------------------------------------------


def test_a_folder_given_as_stimulus_table_is_named(tmp_path):
    with pytest.raises(InputError, match="must be a file, but this is a folder"):
        read_user_table(tmp_path, "stimulus table")


@pytest.mark.parametrize("what", ["stimulus table", "ground-truth file", "session sheet"])
def test_empty_user_tables_name_the_file(tmp_path, what):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(InputError, match=f"empty.csv: the {what} is empty"):
        read_user_table(path, what)


def test_semicolon_separated_fluorescence_gets_the_delimiter_hint(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("\n".join(";".join(["1.0"] * 50) for _ in range(5)) + "\n")
    with pytest.raises(InputError, match="semicolons, not commas"):
        read_fluorescence_csv(path)


def test_binary_file_is_called_binary(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(np.arange(1000, dtype=np.float64).tobytes())
    with pytest.raises(InputError, match="binary content"):
        read_fluorescence_csv(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("time_s,a,b\n0.0,1.5,2.5\n".encode("utf-16"), "UTF-16 text"),
        ("time_s,a,b\n0.0,1.5,2.5\n".encode("utf-16-le"), "UTF-16 text"),
        (b"PK\x03\x04" + bytes(100), "a zip archive"),
        (b"# F of 3 cells\n# frames 0-99\n1.5,2.5,3.5\n" * 3, "line 1 starts with '#', a comment"),
    ],
    ids=["utf-16", "utf-16 without a mark", "npz", "np.savetxt header"],
)
def test_files_of_another_kind_are_named_as_such(tmp_path, content, message):
    """Excel's "Unicode Text" and .npz were reported as binary content, and np.savetxt's comment
    header as '7 neurons x 1 frames'."""
    path = tmp_path / "f.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        read_fluorescence_csv(path)


def test_a_trailing_tab_is_no_decimal_comma(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("frame,roi_0\n" + "".join(f"{k},{100 + k}\t\n" for k in range(40)))
    try:
        read_fluorescence_csv(path, TableLayout(orientation="frames_x_neurons"))
    except InputError as error:
        assert "decimal commas" not in str(error)


def test_a_corner_cell_hash_is_a_label_not_a_comment(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text(
        "#,f0,f1,f2,f3,f4,f5,f6,f7\n"
        + "".join(f"cell{i},1.5,2.5,3.5,4.5,5.5,6.5,7.5,8.5\n" for i in range(3))
    )
    assert read_fluorescence_csv(path).traces.shape == (3, 8)


def test_value_beyond_float32_is_called_an_overflow(tmp_path):
    path = _traces(tmp_path)
    lines = path.read_text().splitlines()
    cells = lines[2].split(",")
    cells[4] = "1e39"
    lines[2] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"line 3, column 5: 1e\+39 is beyond the range of 32-bit floats"):
        read_fluorescence_csv(path)
    with pytest.raises(InputError, match="neuron id 2, frame 7 .*beyond the range of 32-bit floats"):
        block = np.ones((3, 10))
        block[2, 7] = 1e39
        checked_block(block, 0, False, "f.npy")


def test_ground_truth_neuron_ids_are_checked_and_labelled(tmp_path):
    table = pd.DataFrame({"neuron": ["0", "7"], "time_s": ["1.0", "2.0"]})
    with pytest.raises(InputError, match=r"line 3: neuron id 7, but the session has 5 neuron\(s\)"):
        parse_ground_truth(table, "gt.csv", 5)
    with pytest.raises(InputError, match="line 2, column time_s"):
        parse_ground_truth(pd.DataFrame({"neuron": ["0"], "time_s": ["soon"]}), "gt.csv", 5)


# --- 10: stimulus and ground truth checked with the sheet, before any job ------------------------


def test_check_session_reads_stimuli_and_ground_truth_before_any_job(tmp_path):
    _traces(tmp_path)  # 600 frames at 5 Hz = 120 s
    stimuli = tmp_path / "stim.csv"
    stimuli.write_text("stimulus,onset_s,duration_s\nlooming,10,2\nlooming,500,2\n")
    sheet = read_session_sheet(_sheet(tmp_path, stimuli=str(stimuli)), _schema())
    with pytest.raises(InputError, match="stim.csv: line 3: onset 500.0 s is outside the recording"):
        check_session(sheet.iloc[0].to_dict(), InputSettings(), "sheet.tsv")
    truth = tmp_path / "gt.csv"
    truth.write_text("neuron;time_s\n0;1.0\n")
    sheet = read_session_sheet(_sheet(tmp_path, ground_truth=str(truth)), _schema())
    with pytest.raises(InputError, match="gt.csv: line 1 of the ground-truth file separates its columns"):
        check_session(sheet.iloc[0].to_dict(), InputSettings(), "sheet.tsv")


def test_time_column_sets_the_clock_and_must_match_the_frame_rate(tmp_path):
    path = tmp_path / "trace.csv"
    time_s = 0.008 + np.arange(1200) / 60.0
    pd.DataFrame({"time_s": time_s, "dff": np.zeros(1200)}).to_csv(path, index=False)
    settings = InputSettings(layout=TableLayout(orientation="frames_x_neurons"))
    row = {"session": "a", "path": str(path), "frame_rate_hz": 60.0, "stimuli": "", "ground_truth": ""}
    inputs = check_session(row, settings, "sheet.tsv")
    assert inputs.start_time_s == pytest.approx(0.008) and inputs.n_neurons == 1
    with pytest.raises(InputError, match="time column steps by .* frame_rate_hz 30"):
        check_session(row | {"frame_rate_hz": 30.0}, settings, "sheet.tsv")


# --- 11: stale temporary files -------------------------------------------------------------------


def test_a_killed_write_leaves_a_temporary_that_the_next_write_removes(tmp_path):
    target = tmp_path / "dff.npy"
    code = f"""
import os, sys
sys.path.insert(0, {str(SCRIPTS)!r})
from calcium.io import atomic_output
with atomic_output({str(target)!r}) as handle:
    handle.write(b"partial")
    handle.flush()
    os.kill(os.getpid(), 9)
"""
    subprocess.run([sys.executable, "-c", code], check=False)
    assert len(stale_temporaries(target)) == 1 and not target.exists()
    save_npy(target, np.ones(3))
    assert stale_temporaries(target) == [] and np.load(target).sum() == 3


# --- 8: unwritable output --------------------------------------------------------------------------


def test_unwritable_output_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "access", lambda *args: False)
    with pytest.raises(OutputError, match="no permission to write here"):
        check_writable(tmp_path / "results")
    monkeypatch.undo()
    import tempfile

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(OutputError, match="cannot be written"):
        save_table(tmp_path / "t.csv", pd.DataFrame({"a": [1]}))


# --- 12: logs keep warnings and, for a bug, the traceback ----------------------------------------


def _run_logged(tmp_path, body: str) -> tuple[subprocess.CompletedProcess, str]:
    log = tmp_path / "rule.log"
    code = f"""
import sys, warnings
sys.path.insert(0, {str(SCRIPTS)!r})
from calcium.logs import log_to
log = log_to({str(log)!r}, {{"session": "s1", "block": "0003"}})
{textwrap.dedent(body)}
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return result, log.read_text()


def test_user_error_is_one_line_in_log_and_stderr(tmp_path):
    result, log = _run_logged(
        tmp_path, "from calcium.errors import InputError\nraise InputError('f.csv: line 3: bad')"
    )
    assert result.returncode == 1
    assert "ERROR session s1, block 0003: f.csv: line 3: bad" in log
    assert "Traceback" not in log and "Traceback" not in result.stderr
    assert "session s1, block 0003: f.csv: line 3: bad" in result.stderr


def test_bug_keeps_its_traceback_in_the_log(tmp_path):
    result, log = _run_logged(tmp_path, "d = {}\nd['missing']")
    assert result.returncode == 1
    assert "unexpected error (a bug" in log and "Traceback" in log and "KeyError: 'missing'" in log
    assert "KeyError: 'missing'" in result.stderr


def test_warnings_reach_the_log(tmp_path):
    result, log = _run_logged(tmp_path, "warnings.warn('careful: something odd')")
    assert result.returncode == 0
    assert "careful: something odd" in log


# --- 13: full precision in tables ----------------------------------------------------------------


def test_tables_round_trip_floats_exactly(tmp_path):
    values = np.array([324001 / 30, 0.1 + 0.2, 1e-300, np.pi * 1e9])
    save_table(tmp_path / "t.csv", pd.DataFrame({"time_s": values}))
    np.testing.assert_array_equal(pd.read_csv(tmp_path / "t.csv").time_s.to_numpy(), values)


def test_missing_config_keys_get_the_schema_defaults():
    from calcium.input.sheet import fill_defaults

    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    full = fill_defaults({"sessions": "s.tsv"}, schema)
    assert full["dff"]["percentile"] == 25 and full["coactivity_null"]["n_shuffles"] == 1000
    assert fill_defaults({"dff": {"percentile": 10}}, schema)["dff"] == full["dff"] | {"percentile": 10}
    shipped = yaml.safe_load((REPO / "config.yaml").read_text())
    assert fill_defaults(yaml.safe_load((REPO / "config.yaml").read_text()), schema) == shipped


def test_config_yaml_states_the_schema_defaults():
    """config.yaml is the schema's defaults written out: a reader of either sees the same values."""
    from calcium.input.sheet import fill_defaults

    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    shipped = yaml.safe_load((REPO / "config.yaml").read_text())
    assert fill_defaults({"sessions": shipped["sessions"]}, schema) == shipped
