"""Unit tests for reading fluorescence CSVs (calcium.input.csv_files) and the atomic writers (calcium.io)."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from calcium.errors import InputError
from calcium.input.csv_files import read_fluorescence_csv
from calcium.input.csv_layout import TableLayout
from calcium.input.ingest import interpolate_missing
from calcium.io import (
    load_json,
    load_npy,
    npy_writer,
    save_json,
    save_npy,
    save_npz,
    save_table,
)


def _planted(n_neurons=5, n_frames=12, seed=0):
    rng = np.random.default_rng(seed)
    # Values exactly representable in float32 and in "%.3f" text.
    return np.round(rng.uniform(100.0, 1000.0, (n_neurons, n_frames)), 3).astype(np.float32)


def _write_rows(path, rows):
    path.write_text("".join(",".join(str(cell) for cell in row) + "\n" for row in rows))
    return path


def _format(values):
    return [f"{v:.3f}" for v in values]


# --- layouts -------------------------------------------------------------------------------------


def test_neurons_x_frames_without_header(tmp_path):
    truth = _planted()
    path = _write_rows(tmp_path / "f.csv", [_format(row) for row in truth])
    traces, labels, _, notes = read_fluorescence_csv(path)
    assert traces.dtype == np.float32
    np.testing.assert_array_equal(traces, truth)
    assert labels is None
    assert "header row: no" in notes and "index column: no" in notes


def test_header_line_is_skipped(tmp_path):
    truth = _planted()
    header = [f"t{i}" for i in range(truth.shape[1])]
    path = _write_rows(tmp_path / "f.csv", [header] + [_format(row) for row in truth])
    traces, labels, _, notes = read_fluorescence_csv(path)
    np.testing.assert_array_equal(traces, truth)
    assert labels is None
    assert "header row: yes" in notes


@pytest.mark.parametrize("with_header", [False, True])
def test_text_index_column_gives_labels(tmp_path, with_header):
    truth = _planted()
    names = [f"cell_{c}" for c in "abcde"]
    rows = [[name, *_format(row)] for name, row in zip(names, truth, strict=True)]
    if with_header:
        rows.insert(0, ["neuron"] + [f"t{i}" for i in range(truth.shape[1])])
    path = _write_rows(tmp_path / "f.csv", rows)
    traces, labels, _, notes = read_fluorescence_csv(path)
    np.testing.assert_array_equal(traces, truth)
    assert labels == names
    assert "index column: yes" in notes


@pytest.mark.parametrize("first", [0, 1])
def test_counter_index_column_is_dropped(tmp_path, first):
    truth = _planted(n_neurons=6)
    rows = [[first + i, *_format(row)] for i, row in enumerate(truth)]
    path = _write_rows(tmp_path / "f.csv", rows)
    traces, labels, _, _ = read_fluorescence_csv(path)
    # The counter column is not a frame of fluorescence.
    assert traces.shape == truth.shape
    np.testing.assert_array_equal(traces, truth)
    assert [float(v) for v in labels] == [float(first + i) for i in range(truth.shape[0])]


def test_frames_x_neurons_is_transposed_and_header_names_label_neurons(tmp_path):
    truth = _planted(n_neurons=4, n_frames=10)
    names = ["roi_a", "roi_b", "roi_c", "roi_d"]
    rows = [["frame", *names]] + [[t, *_format(truth[:, t])] for t in range(truth.shape[1])]
    path = _write_rows(tmp_path / "f.csv", rows)
    traces, labels, _, _ = read_fluorescence_csv(path, TableLayout(orientation="frames_x_neurons"))
    assert traces.shape == (4, 10)
    np.testing.assert_array_equal(traces, truth)
    assert labels == names
    assert traces.flags["C_CONTIGUOUS"]


def test_frames_x_neurons_without_header_or_index(tmp_path):
    truth = _planted(n_neurons=3, n_frames=8)
    path = _write_rows(tmp_path / "f.csv", [_format(truth[:, t]) for t in range(truth.shape[1])])
    traces, labels, _, _ = read_fluorescence_csv(path, TableLayout(orientation="frames_x_neurons"))
    np.testing.assert_array_equal(traces, truth)
    assert labels is None


def test_explicit_layout_overrides_detection(tmp_path):
    # An all-numeric first line declared as a header is skipped, not read as data.
    truth = _planted(n_neurons=4)
    rows = [_format(np.arange(truth.shape[1]) + 0.5)] + [_format(row) for row in truth]
    path = _write_rows(tmp_path / "f.csv", rows)
    traces, _, _, _ = read_fluorescence_csv(path, TableLayout(header=True, index_column=False))
    np.testing.assert_array_equal(traces, truth)


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("with_header", [False, True])
@pytest.mark.parametrize("rows_per_chunk", [1000, 2])
def test_non_numeric_cell_is_located(tmp_path, with_header, rows_per_chunk):
    truth = _planted(n_neurons=6, n_frames=8)
    rows = [_format(row) for row in truth]
    # Data row 5 (0-based 4), column 5 (0-based 4) holds text.
    rows[4][4] = "oops"
    if with_header:
        rows.insert(0, [f"t{i}" for i in range(truth.shape[1])])
    path = _write_rows(tmp_path / "f.csv", rows)
    with pytest.raises(InputError) as info:
        read_fluorescence_csv(path, rows_per_chunk=rows_per_chunk)
    message = str(info.value)
    assert str(path) in message
    expected_line = 5 + int(with_header)
    assert f"line {expected_line}, column 5" in message
    assert "oops" in message


def test_non_numeric_cell_column_counts_index_column(tmp_path):
    truth = _planted(n_neurons=4, n_frames=6)
    rows = [[f"n{i}", *_format(row)] for i, row in enumerate(truth)]
    rows[2][3] = "bad"  # 1-based: line 3, column 4 (the index is column 1)
    path = _write_rows(tmp_path / "f.csv", rows)
    with pytest.raises(InputError, match=re.escape("line 3, column 4")):
        read_fluorescence_csv(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(InputError, match="empty") as info:
        read_fluorescence_csv(path)
    assert str(path) in str(info.value)


def test_blank_lines_only(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text("\n\n\n")
    with pytest.raises(InputError, match="empty"):
        read_fluorescence_csv(path)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_fluorescence_csv(tmp_path / "nope.csv")


def test_header_without_data(tmp_path):
    path = _write_rows(tmp_path / "f.csv", [["a", "b", "c"]])
    with pytest.raises(InputError, match="no data lines"):
        read_fluorescence_csv(path)


def test_single_frame_is_rejected(tmp_path):
    path = _write_rows(tmp_path / "f.csv", [["5.5"], ["7.25"], ["3.125"]])
    with pytest.raises(InputError, match="1 frame"):
        read_fluorescence_csv(path)


def test_single_frame_transposed_is_rejected(tmp_path):
    path = _write_rows(tmp_path / "f.csv", [["a", "b", "c"], ["1.5", "2.5", "3.5"]])
    with pytest.raises(InputError, match="1 frame"):
        read_fluorescence_csv(path, TableLayout(orientation="frames_x_neurons"))


@pytest.mark.parametrize("cell", ["", "nan", "NaN"])
def test_missing_cell_raises_and_names_the_setting(tmp_path, cell):
    truth = _planted(n_neurons=4, n_frames=6)
    rows = [_format(row) for row in truth]
    rows[1][2] = cell
    path = _write_rows(tmp_path / "f.csv", rows)
    with pytest.raises(InputError) as info:
        read_fluorescence_csv(path)
    message = str(info.value)
    assert "missing_values" in message
    assert "line 2, column 3" in message
    assert str(path) in message


def test_missing_cells_are_interpolated_linearly(tmp_path):
    truth = np.array(
        [[5.0] * 6, [10.0, 20.0, 30.0, 40.0, 50.0, 60.0], [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]],
        dtype=np.float32,
    )
    rows = [_format(row) for row in truth]
    rows[1][1] = ""  # two in a row: 10, ?, ?, 40 -> 20, 30
    rows[1][2] = "nan"
    rows[2][3] = ""  # between 4 and 16 -> 10 (not the planted 8: linear in time)
    path = _write_rows(tmp_path / "f.csv", rows)
    traces, _, _, _ = read_fluorescence_csv(path, allow_missing=True)
    assert traces.shape == truth.shape
    assert np.isnan(traces[1, 1]) and np.isnan(traces[1, 2]) and np.isnan(traces[2, 3])
    filled, n_filled = interpolate_missing(traces)
    assert n_filled == 3
    assert filled[1, 1] == pytest.approx(20.0)
    assert filled[1, 2] == pytest.approx(30.0)
    assert filled[2, 3] == pytest.approx(10.0)
    # Untouched samples are unchanged, and the input array is not modified.
    mask = np.isfinite(traces)
    np.testing.assert_array_equal(filled[mask], truth[mask])
    assert np.isnan(traces[1, 1])


@pytest.mark.parametrize("allow_missing", [False, True])
def test_empty_cell_on_first_line_is_not_a_header(tmp_path, allow_missing):
    rows = [["1.5", "", "3.5", "4.5"], ["5.5", "6.5", "7.5", "8.5"], ["9.5", "10.5", "11.5", "12.5"]]
    path = _write_rows(tmp_path / "f.csv", rows)
    if allow_missing:
        traces, _, _, _ = read_fluorescence_csv(path, allow_missing=True)
        assert traces.shape == (3, 4)
    else:
        with pytest.raises(InputError, match="missing_values"):
            read_fluorescence_csv(path)


@pytest.mark.parametrize("allow_missing", [False, True])
def test_empty_cell_in_first_column_is_not_an_index(tmp_path, allow_missing):
    rows = [["1.5", "2.5", "3.5", "4.5"], ["", "6.5", "7.5", "8.5"], ["9.5", "10.5", "11.5", "12.5"]]
    path = _write_rows(tmp_path / "f.csv", rows)
    if allow_missing:
        traces, labels, _, _ = read_fluorescence_csv(path, allow_missing=True)
        assert traces.shape == (3, 4)
        assert labels is None
    else:
        with pytest.raises(InputError, match="missing_values"):
            read_fluorescence_csv(path)


def test_interpolate_missing_holds_edges_and_rejects_all_nan_rows():
    traces = np.array([[np.nan, 2.0, 3.0, np.inf]], dtype=np.float32)
    filled, n_filled = interpolate_missing(traces)
    assert n_filled == 2
    np.testing.assert_array_equal(filled, [[2.0, 2.0, 3.0, 3.0]])
    clean, none = interpolate_missing(np.ones((2, 3)))
    assert none == 0 and np.all(clean == 1)
    with pytest.raises(InputError, match="neuron id 1 "):
        interpolate_missing(np.array([[1.0, 2.0], [np.nan, np.nan]]))


def test_ragged_row_with_too_few_cells_raises(tmp_path):
    rows = [["1.5", "2.5", "3.5", "4.5"], ["1.5", "2.5", "3.5"], ["1.5", "2.5", "3.5", "4.5"]]
    path = _write_rows(tmp_path / "f.csv", rows)
    with pytest.raises(InputError):
        read_fluorescence_csv(path)


@pytest.mark.parametrize("with_header", [False, True])
def test_ragged_row_with_too_many_cells_raises_input_error(tmp_path, with_header):
    rows = [["1.5", "2.5", "3.5"], ["1.5", "2.5", "3.5", "4.5"], ["1.5", "2.5", "3.5"]]
    if with_header:
        rows.insert(0, ["a", "b", "c"])
    path = _write_rows(tmp_path / "f.csv", rows)
    with pytest.raises(InputError):
        read_fluorescence_csv(path)


def test_ragged_row_is_not_taken_for_missing_values(tmp_path):
    rows = [["1.5", "2.5", "3.5", "4.5"], ["1.5", "2.5", "3.5"], ["1.5", "2.5", "3.5", "4.5"]]
    path = _write_rows(tmp_path / "f.csv", rows)
    with pytest.raises(InputError):
        read_fluorescence_csv(path, allow_missing=True)


# --- writers -------------------------------------------------------------------------------------


def _only(folder, name):
    """The folder holds exactly `name`: no temporary file left behind."""
    assert sorted(p.name for p in folder.iterdir()) == [name]


def test_save_npy_roundtrip_and_no_temporary_files(tmp_path):
    rng = np.random.default_rng(1)
    array = rng.normal(size=(5, 40)).astype(np.float32)
    target = tmp_path / "sub" / "traces.npy"
    save_npy(target, array[:, ::2])  # non-contiguous input
    _only(target.parent, "traces.npy")
    loaded = load_npy(target)
    np.testing.assert_array_equal(loaded, array[:, ::2])
    assert loaded.dtype == np.float32
    # Overwriting replaces the content.
    save_npy(target, array)
    np.testing.assert_array_equal(load_npy(target), array)
    _only(target.parent, "traces.npy")


def test_load_npy_rows(tmp_path):
    array = np.arange(60, dtype=np.float32).reshape(6, 10)
    save_npy(tmp_path / "a.npy", array)
    part = load_npy(tmp_path / "a.npy", rows=slice(2, 4))
    assert type(part) is np.ndarray
    np.testing.assert_array_equal(part, array[2:4])


def test_save_npz_roundtrip(tmp_path):
    save_npz(tmp_path / "a.npz", x=np.arange(3), y=np.ones((2, 2)))
    _only(tmp_path, "a.npz")
    with np.load(tmp_path / "a.npz", allow_pickle=False) as data:
        np.testing.assert_array_equal(data["x"], np.arange(3))
        np.testing.assert_array_equal(data["y"], np.ones((2, 2)))


@pytest.mark.parametrize(("name", "sep"), [("t.tsv", "\t"), ("t.csv", ",")])
def test_save_table_roundtrip_and_separator(tmp_path, name, sep):
    table = pd.DataFrame({"neuron": [0, 1, 2], "time_s": [0.5, 1.25, 3.0], "label": ["a", "b", "c"]})
    save_table(tmp_path / name, table)
    _only(tmp_path, name)
    text = (tmp_path / name).read_text()
    assert text.splitlines()[0] == sep.join(["neuron", "time_s", "label"])
    back = pd.read_csv(tmp_path / name, sep=sep)
    pd.testing.assert_frame_equal(back, table, check_dtype=False)


def test_save_json_roundtrip(tmp_path):
    data = {"b": 2, "a": [1, 2.5], "nested": {"x": "y"}}
    save_json(tmp_path / "d.json", data)
    _only(tmp_path, "d.json")
    assert load_json(tmp_path / "d.json") == data
    assert json.loads((tmp_path / "d.json").read_text()) == data


def test_failed_save_leaves_nothing_behind(tmp_path):
    with pytest.raises(TypeError):
        save_json(tmp_path / "d.json", {"not_serialisable": object()})
    assert list(tmp_path.iterdir()) == []


def test_npy_writer_creates_the_file_only_when_the_block_completes(tmp_path):
    target = tmp_path / "big.npy"
    planted = np.arange(28, dtype=np.float32).reshape(4, 7)
    with npy_writer(target, (4, 7), dtype=np.float32) as writer:
        writer.append(planted[:2])
        writer.append(planted[2:])
        assert not target.exists()
    assert target.exists()
    _only(tmp_path, "big.npy")
    np.testing.assert_array_equal(np.load(target), planted)


def test_npy_writer_leaves_nothing_behind_on_error(tmp_path):
    with pytest.raises(RuntimeError), npy_writer(tmp_path / "big.npy", (4, 7)) as writer:
        writer.append(np.ones((1, 7)))
        raise RuntimeError("job failed half-way")
    assert list(tmp_path.iterdir()) == []
    # Missing rows are an error too, and leave nothing behind.
    with pytest.raises(ValueError, match="3 of 4 rows"), npy_writer(tmp_path / "big.npy", (4, 7)) as writer:
        writer.append(np.ones((3, 7)))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("rows", [slice(0, 3), slice(2, 5), slice(4, None), slice(None), slice(7, 9)])
def test_read_npy_rows_matches_slicing(tmp_path, rows):
    from calcium.io import read_npy_rows

    planted = np.random.default_rng(0).standard_normal((6, 11)).astype(np.float32)
    np.save(tmp_path / "a.npy", planted)
    np.testing.assert_array_equal(read_npy_rows(tmp_path / "a.npy", rows), planted[rows])


def test_load_npy_refuses_pickles(tmp_path):
    path = tmp_path / "obj.npy"
    np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError):
        load_npy(path)


def test_lines_with_compensating_cell_counts_are_ragged_not_shifted(tmp_path):
    """One line a cell short and the next a cell long have the right total: still refused."""
    truth = _planted(n_neurons=4, n_frames=12)
    rows = [_format(row) for row in truth]
    rows[1] = rows[1][:-1]
    rows[2] = rows[2] + ["1.000"]
    path = _write_rows(tmp_path / "f.csv", rows)
    with pytest.raises(InputError, match="line 2 has 11 cells"):
        read_fluorescence_csv(path)


def test_large_wide_table_is_read_in_blocks_exactly(tmp_path):
    from calcium.input.csv_files import _read_plain_numbers

    truth = _planted(n_neurons=30, n_frames=500)
    path = _write_rows(tmp_path / "f.csv", [_format(row) for row in truth])
    out = np.empty(truth.shape, dtype=np.float32)
    assert _read_plain_numbers(path, 0, truth.shape[1], out, chunk_bytes=10_000) == truth.shape[0]
    np.testing.assert_array_equal(out, truth)


def test_npy_rows_reads_blocks_on_demand_and_transforms_them(tmp_path):
    from calcium.io import NpyRows

    planted = np.arange(35, dtype=np.float32).reshape(7, 5)
    np.save(tmp_path / "a.npy", planted)
    rows = NpyRows(tmp_path / "a.npy")
    assert rows.shape == (7, 5)
    np.testing.assert_array_equal(rows[2:4], planted[2:4])
    doubled = NpyRows(tmp_path / "a.npy", transform=lambda block: 2 * block)
    np.testing.assert_array_equal(doubled[5:7], 2 * planted[5:7])
