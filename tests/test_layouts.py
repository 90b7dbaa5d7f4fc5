"""Fluorescence CSVs as real tools write them: read back exactly, or refused; never anything else.

A property-based test (Hypothesis) writes random matrices through pandas, NumPy, R-like and
Excel-like writers (byte-order mark, CRLF, quoting, NA tokens, index, header, either
orientation) and reads them with input.header / input.index_column auto. Then the named cases
of the adversarial review (issue 23), each as an example.
"""

from __future__ import annotations

import csv
import io
import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from calcium.errors import InputError
from calcium.input.csv_files import read_fluorescence_csv
from calcium.input.csv_layout import TableLayout
from calcium.input.csv_text import NA_TOKENS
from calcium.input.ingest import InputSettings, probe_input


def _text(value: float, fmt: str, na: str) -> str:
    return na if np.isnan(value) else fmt % value


def _write_pandas(rows, options, path):
    frame = pd.DataFrame(rows)
    frame.index.name = options["corner"] or None
    if options["index_kind"] == "time":
        frame.index = np.arange(len(frame)) / 30.0
        frame.index.name = "time_s"
    text = frame.to_csv(
        index=options["index"],
        header=options["header"],
        na_rep=options["na"] if options["na"] in ("", "NaN") else "",
    )
    path.write_text(text)


def _write_numpy(rows, options, path):
    fmt = options["fmt"]
    body = [[_text(v, fmt, "nan") for v in row] for row in rows]
    if options["index"]:
        labels = _index_labels(len(rows), options)
        body = [[label, *row] for label, row in zip(labels, body, strict=True)]
    lines = [",".join(row) + ("," if options["trailing_comma"] else "") for row in body]
    if options["header"]:
        names = [f"n{i}" for i in range(len(rows[0]))]
        lines.insert(0, ",".join(([options["corner"]] if options["index"] else []) + names))
    path.write_text("\n".join(lines) + "\n")


def _index_labels(n, options):
    kind = options["index_kind"]
    if kind == "time":
        return [repr(float(t)) for t in np.arange(n) / 30.0 + 0.01]
    if kind == "one":
        return [str(i + 1) for i in range(n)]
    if kind == "zero":
        return [str(i) for i in range(n)]
    return [f"roi_{i}" for i in range(n)]


def _write_r(rows, options, path):
    """R's write.csv (corner "" above quoted row names, NA, 15 significant digits) or
    write.table(sep=",") (no corner cell: the header is one cell short)."""
    quote = options["quote"]

    def q(text):
        return f'"{text}"' if quote else text

    lines = []
    width = len(rows[0])
    names = [q(f"V{i + 1}") for i in range(width)]
    if options["header"]:
        short = options["short_header"] and options["index"]
        lines.append(",".join(([] if short or not options["index"] else [q("")]) + names))
    for number, row in enumerate(rows, start=1):
        cells = [_text(v, "%.15g", "NA") for v in row]
        lines.append(",".join(([q(str(number))] if options["index"] else []) + cells))
    path.write_text("\n".join(lines) + "\n")


def _write_excel(rows, options, path):
    """Excel's "CSV UTF-8": a byte-order mark, CRLF line ends, #N/A or empty for missing values,
    optionally every cell quoted."""
    out = io.StringIO()
    writer = csv.writer(
        out, lineterminator="\r\n", quoting=csv.QUOTE_ALL if options["quote"] else csv.QUOTE_MINIMAL
    )
    if options["header"]:
        names = [f"Cell {i + 1}" for i in range(len(rows[0]))]
        writer.writerow(([options["corner"]] if options["index"] else []) + names)
    labels = _index_labels(len(rows), options)
    for label, row in zip(labels, rows, strict=True):
        cells = [_text(v, "%.15g", options["na"]) for v in row]
        writer.writerow(([label] if options["index"] else []) + cells)
    path.write_bytes(b"\xef\xbb\xbf" + out.getvalue().encode())


def _counting_or_ramp(values: np.ndarray) -> bool:
    """Data that looks like an axis by design of the layout rules (docs/inputs.md, "Input layout"): whole
    numbers counting 0,1,2,... or 1,2,3,..., or values rising by a constant step."""
    if values.size < 2 or np.isnan(values).any():
        return False
    steps = np.diff(values)
    if values[0] in (0.0, 1.0) and np.all(steps == 1):
        return True
    return values.size >= 3 and steps[0] > 0 and bool(np.allclose(steps, steps[0], rtol=1e-6))


matrices = st.integers(1, 5).flatmap(
    lambda n: st.integers(3, 12).flatmap(
        lambda t: st.lists(
            st.one_of(st.integers(-100_000, 1_000_000).map(lambda k: k / 100), st.just(np.nan)),
            min_size=n * t,
            max_size=n * t,
        ).map(lambda cells: np.array(cells, dtype=np.float64).reshape(n, t))
    )
)
writer_options = st.fixed_dictionaries(
    {
        "writer": st.sampled_from(["pandas", "numpy", "r", "excel"]),
        "one_row_per_frame": st.booleans(),
        "orientation_given": st.booleans(),
        "index": st.booleans(),
        "header": st.booleans(),
        "index_kind": st.sampled_from(["zero", "one", "text", "time"]),
        "corner": st.sampled_from(["", "neuron", "time_s", "frame"]),
        "fmt": st.sampled_from(["%.18e", "%.17g", "%s"]),  # %s: the shortest text that round-trips
        "na": st.sampled_from(["", "NaN", "NA", "#N/A", "nan", "NULL", "#DIV/0!"]),
        "trailing_comma": st.booleans(),
        "quote": st.booleans(),
        "short_header": st.booleans(),
    }
)


@settings(
    max_examples=int(os.environ.get("LAYOUT_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(matrix=matrices, options=writer_options)
def test_writers_read_back_exactly_or_refused(tmp_path, matrix, options):
    rows = matrix.T if options["one_row_per_frame"] else matrix
    if options["index_kind"] == "time" and not options["one_row_per_frame"]:
        options["index_kind"] = "zero"  # frame times label lines only when a line is a frame
    if options["corner"] != "":  # an index column's name says what a line is
        options["corner"] = "time_s" if options["one_row_per_frame"] else "neuron"
    assume(not any(_counting_or_ramp(r) for r in (rows[0], rows[:, 0])))
    path = tmp_path / "f.csv"
    writer = options["writer"]
    if writer == "pandas":
        _write_pandas(rows, options, path)
    elif writer == "numpy":
        _write_numpy(rows, options, path)
    elif writer == "r":
        _write_r(rows, options, path)
    else:
        _write_excel(rows, options, path)
    truth = "frames_x_neurons" if options["one_row_per_frame"] else "neurons_x_frames"
    # With nothing in the file naming its axes, auto goes by shape (docs/inputs.md, "Input layout"): that
    # is a plausibility rule, not a reading of the file, so the orientation is given here.
    named = options["index"] and (
        options["index_kind"] == "time" or (options["header"] and options["corner"] != "")
    )
    layout = TableLayout(orientation=truth if options["orientation_given"] or not named else "auto")
    # An Excel error such as #DIV/0! is not a missing value: such a file must be refused.
    must_refuse = writer == "excel" and options["na"] == "#DIV/0!" and bool(np.isnan(matrix).any())
    try:
        table = read_fluorescence_csv(path, layout, allow_missing=True)
    except InputError:
        event("refused")
        return  # refused: allowed
    assert not must_refuse, path.read_text()[:2000]
    event("read back")
    np.testing.assert_array_equal(table.traces, matrix.astype(np.float32), err_msg=path.read_text()[:2000])
    assert table.layout["na_cells"] == int(np.isnan(matrix).sum())


def test_na_tokens_are_exactly_what_pandas_reads_as_missing():
    from pandas._libs.parsers import STR_NA_VALUES

    assert NA_TOKENS == STR_NA_VALUES


# --- the named cases of issue 23 -----------------------------------------------------------------


def _recording(n_neurons=20, n_frames=600, seed=0):
    rng = np.random.default_rng(seed)
    return np.round(rng.uniform(900, 1500, (n_neurons, n_frames)), 1)


def test_pandas_to_csv_without_index_header_is_not_a_neuron(tmp_path):
    traces = _recording()
    path = tmp_path / "f.csv"
    pd.DataFrame(traces).to_csv(path, index=False)  # header 0,1,...,599
    table = read_fluorescence_csv(path)
    assert table.traces.shape == (20, 600) and table.layout["header"] and not table.layout["index_column"]
    np.testing.assert_array_equal(table.traces, traces.astype(np.float32))


def test_pandas_to_csv_default_with_missing_values_interpolated(tmp_path):
    traces = _recording()
    traces[3, 7] = np.nan
    path = tmp_path / "f.csv"
    pd.DataFrame(traces).to_csv(path)  # header ",0,1,...", index 0..19
    table = read_fluorescence_csv(path, allow_missing=True)
    assert table.traces.shape == (20, 600)
    assert table.layout["na_cells"] == 1 and np.isnan(table.traces[3, 7])


def test_excel_utf8_with_bom_and_no_header(tmp_path):
    traces = _recording()
    path = tmp_path / "f.csv"
    text = "\r\n".join(",".join(f"{v:g}" for v in row) for row in traces) + "\r\n"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    table = read_fluorescence_csv(path)
    assert table.traces.shape == (20, 600) and table.layout["byte_order_mark"]
    np.testing.assert_array_equal(table.traces, traces.astype(np.float32))


def test_every_cell_quoted(tmp_path):
    traces = _recording()
    path = tmp_path / "f.csv"
    path.write_text("\n".join(",".join(f'"{v:g}"' for v in row) for row in traces) + "\n")
    table = read_fluorescence_csv(path)
    assert table.traces.shape == (20, 600) and table.layout["quoted"]
    np.testing.assert_array_equal(table.traces, traces.astype(np.float32))


@pytest.mark.parametrize("where", [(0, 0), (0, 5), (2, 0)])
def test_r_na_is_a_missing_value_not_a_header_or_label(tmp_path, where):
    traces = _recording()
    lines = [[f"{v:g}" for v in row] for row in traces]
    lines[where[0]][where[1]] = "NA"
    path = tmp_path / "f.csv"
    path.write_text("\n".join(",".join(row) for row in lines) + "\n")
    with pytest.raises(InputError, match=rf"line {where[0] + 1}, column {where[1] + 1} is empty, NaN, NA"):
        read_fluorescence_csv(path)
    table = read_fluorescence_csv(path, allow_missing=True)
    assert table.traces.shape == (20, 600) and table.layout["na_cells"] == 1
    assert np.isnan(table.traces[where])


def test_ids_in_increasing_order_without_header_are_refused_naming_the_key(tmp_path):
    traces = _recording()
    ids = np.array([3, 5, 8, 12, 13, 17, 21, 30, 31, 40, 41, 42, 50, 51, 52, 60, 61, 70, 71, 80])
    path = tmp_path / "f.csv"
    path.write_text(
        "\n".join(f"{i}," + ",".join(f"{v:g}" for v in row) for i, row in zip(ids, traces, strict=True))
        + "\n"
    )
    with pytest.raises(InputError, match=r"f\.csv: .*set input\.index_column: true"):
        read_fluorescence_csv(path)
    table = read_fluorescence_csv(path, TableLayout(index_column=True))
    assert table.neuron_labels[:2] == ["3", "5"] and table.traces.shape == (20, 600)


def test_time_header_without_names_is_refused_naming_the_key(tmp_path):
    traces = _recording()
    path = tmp_path / "f.csv"
    times = 0.0167 + np.arange(600) / 30 + np.random.default_rng(1).uniform(0, 0.001, 600)
    path.write_text(
        ",".join(f"{t:.4f}" for t in times) + "\n" + "\n".join(",".join(f"{v:g}" for v in r) for r in traces)
    )
    with pytest.raises(InputError, match="set input.header: true"):
        read_fluorescence_csv(path)


def _time_table(path, time_s):
    frame = pd.DataFrame({"time_s": time_s, "n0": 1000 + np.arange(len(time_s)) % 7, "n1": 1.5})
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: np.concatenate([t[:300], t[300:] + 5.0]), "data line 301 follows a step of 5.03"),
        (lambda t: np.concatenate([t[:300], t[300:350][::-1], t[350:]]), "data line 302: the time stamp"),
        (lambda t: np.concatenate([t[:300], t[299:599]]), "data line 301: the time stamp"),
        (lambda t: np.delete(t, 300), r"data line 301 follows a step of 0.0666667 s, 2 frames"),  # it passed
    ],
    ids=["pause", "reversed block", "repeated frame", "one frame dropped mid-recording"],
)
def test_time_column_is_checked_frame_by_frame(tmp_path, edit, message):
    time_s = np.arange(600) / 30.0
    path = _time_table(tmp_path / "t.csv", edit(time_s))
    settings = InputSettings(layout=TableLayout(orientation="auto"))
    with pytest.raises(InputError, match=message):
        probe_input(path, settings)
    shape = probe_input(_time_table(tmp_path / "ok.csv", time_s), settings)
    assert shape.n_neurons == 2 and shape.n_frames == 600  # a time_s index means one line per frame


def test_time_column_with_jitter_and_few_decimals_is_accepted(tmp_path):
    rng = np.random.default_rng(2)
    time_s = np.round(np.arange(600) / 30.0 + rng.uniform(-0.003, 0.003, 600), 2)  # 10 ms jitter steps
    shape = probe_input(
        _time_table(tmp_path / "t.csv", time_s), InputSettings(layout=TableLayout(orientation="auto"))
    )
    assert shape.n_frames == 600 and shape.times_s[0] == time_s[0]


@pytest.mark.parametrize(
    ("time_s", "dropped"),
    [
        (np.round(1.7e9 + np.arange(600) / 8.0, 1), False),  # Unix seconds, one decimal: steps 0.1, 0.2 s
        (np.round(np.arange(3000) / 9.7, 1), False),  # steps of 1-2 frames are the rounding
        (np.arange(3000) / 30.0 + np.random.default_rng(4).uniform(-0.01, 0.01, 3000), False),  # +-30 %
        (np.arange(20_000) / 30.0 + np.random.default_rng(5).normal(0, 0.0033, 20_000), False),  # 10 %
        (np.round(np.delete(np.arange(601) / 10.0, 300), 1), True),  # exact 0.1 s grid, one frame dropped
        (np.round(np.delete(np.arange(3001) / 5.0, 630), 1), True),  # ... at 21 %, where the fit hid it
        (np.delete(np.arange(3060) / 30.0, np.arange(25, 3060, 50))[:3000], True),  # one in 50, regularly
        (np.delete(np.arange(13) / 30.0, 6), True),  # in 12 frames (a trial file)
        (np.round(np.arange(24) / 9.7, 1), False),  # short, rounded to about a frame
    ],
    ids=[
        "unix 8 Hz",
        "9.7 Hz 1 decimal",
        "uniform jitter",
        "gaussian jitter",
        "10 Hz drop",
        "5 Hz drop at 21 %",
        "regular drops",
        "short",
        "short 9.7 Hz 1 decimal",
    ],
)
def test_jitter_and_rounding_pass_and_one_dropped_frame_does_not(tmp_path, time_s, dropped):
    """Review findings: a rule on single steps refused clocks with ordinary jitter (steps up to 1.6
    frames) and, with a rounding allowance, let a drop on an exact decimal grid through; a lasting
    shift of the stamps tells them apart."""
    settings = InputSettings(layout=TableLayout(orientation="auto"))
    path = _time_table(tmp_path / "t.csv", time_s)
    if dropped:
        with pytest.raises(InputError, match=r"follows a step of .* (2|1.96|1.78) frames at the mean rate"):
            probe_input(path, settings)
    else:
        assert probe_input(path, settings).n_frames == time_s.size


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "1.5,#DIV/0!,2.5,3.5\n" + "1.5,2.5,3.5,4.5\n" * 3,
            "line 1, column 2 holds '#DIV/0!', a spreadsheet's error value",
        ),
        (
            "1.5,2.5,3.5,4.5\n#VALUE!,2.5,3.5,4.5\n",
            "line 2, column 1 holds '#VALUE!', a spreadsheet's error value",
        ),
        (
            "\ufeff#DIV/0!,0,0\r\n",  # a one-line Excel file: its error cell is no neuron's label
            "line 1, column 1 holds '#DIV/0!'",
        ),
        (
            "\n\nCell 1,Cell 2,Cell 3\n1.5,2.5,3.5\n\nErr:502,2.5,3.5\n",  # LibreOffice, blank lines
            "line 6, column 1 holds 'Err:502'",
        ),
        (
            "".join(f"n{i},1.5,2.5,3.5,4.5,5.5,6.5\n" for i in range(60)) + "#REF!,1.5,2.5,3.5,4.5,5.5,6.5\n",
            "line 61, column 1 holds '#REF!'",  # a label below the lines the layout is decided on
        ),
        ("\ufeff#WERT!,0.5,0.7,0.2\r\n", "line 1, column 1 holds '#WERT!'"),  # German Excel
        ("\ufeff#ERROR!,0.5,0.7,0.2\n", "line 1, column 1 holds '#ERROR!'"),  # Google Sheets
        ("\ufeff#ЗНАЧ!,0.5,0.7,0.2\n", "line 1, column 1 holds '#ЗНАЧ!'"),  # Russian Excel
        ("n1,0.5,#DEĞER!,0.2\n" * 3, "line 1, column 3 holds '#DEĞER!'"),  # Turkish Excel
        ("\ufeff#N/D,0.5,0.7,0.2\n", "line 1, column 1 holds '#N/D'"),  # #N/A, Italian Excel
        (
            "\n\n1.5,2.5,3.5\n\n1.5,2.5,3.5\n1.5,#DIV/0!,3.5\n",
            "line 6, column 2 holds '#DIV/0!', a spreadsheet's error value",  # a data cell
        ),
        (
            "\n1.5,2.5,3.5\n\n1.5,abc,3.5\n1.5,2.5,3.5\n",
            "line 4, column 2: 'abc' is not a number",  # blank lines counted
        ),
        ("1.5,2.5,3.5,\n" * 3, "every data line ends with a comma"),
        ("time_s,a,b,\n" + "".join(f"{k / 10},1.5,2.5\n" for k in range(9)), "line 1 ends with a comma"),
        ("a,b,c\n" + "1.5,2.5,3.5,\n" * 3, "every data line ends with a comma"),
        ("1.5,2.5,3.5\r" * 3, "carriage return alone"),
        ("1.5 2.5 3.5\n" * 3, "separates its cells with spaces, not commas"),  # np.savetxt's default
        (
            "1034,558;1082,162;1033,0\n" * 3,
            "line 1 separates its cells with semicolons and writes numbers with decimal commas",
        ),
        (
            "\na\tb\tc\n" + "1034,5\t1082,2\t7,0\n" * 3,  # the file's own line numbers
            "line 3 separates its cells with tabs and writes numbers",
        ),
        (
            '"1,082.16","1,034.50",7.5\n' * 3,
            "line 1, column 1 holds '1,082.16', a number with thousands separators",
        ),
    ],
    ids=[
        "excel error on line 1",
        "excel error in column 1",
        "excel error as the only label",
        "libreoffice error below blank lines",
        "excel error label on line 61",
        "german excel error",
        "google sheets error",
        "russian excel error",
        "turkish excel error in a data cell",
        "italian excel not-available",
        "excel error in a data cell below blank lines",
        "a bad cell below blank lines",
        "trailing commas",
        "a trailing comma on the header only",
        "trailing commas below a header",
        "CR line ends",
        "spaces",
        "semicolons and decimal commas",
        "thousands separators",
        "tabs and decimal commas below a header",
    ],
)
def test_a_stray_cell_never_becomes_a_header_a_label_or_a_frame(tmp_path, text, message):
    path = tmp_path / "f.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        read_fluorescence_csv(path, allow_missing=True)


def test_a_bad_cell_is_located_below_a_header_of_empty_cells_and_a_stray_quote_is_named(tmp_path):
    """A header line of empty cells (',,,') is the header, not a blank line, when the bad cell is
    located; a stray quote opening a field longer than the csv module reads gives an error, not a
    traceback."""
    path = tmp_path / "f.csv"
    path.write_text(",,,\n1.5,abc,3.5,4.5\n1.5,2.5,3.5,4.5\n")
    with pytest.raises(InputError, match="line 2, column 2: 'abc' is not a number"):
        read_fluorescence_csv(path, TableLayout(header=True), allow_missing=True)
    line = "1.5,1.5,1.5,1.5,1.5,1.5\n"
    path.write_text(
        line * 5 + '1.5,"abc,1.5,1.5,1.5,1.5\n' + line * 30_000 + '1.5,1.5,abc",1.5,1.5,1.5\n' + line
    )
    with pytest.raises(InputError, match="field larger than field limit .* check for a stray quote"):
        read_fluorescence_csv(path, allow_missing=True)


def _frames(n_frames: int = 60, n_neurons: int = 4, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        1000 + rng.normal(0, 10, (n_frames, n_neurons)).round(2),
        columns=[f"cell{i}" for i in range(n_neurons)],
    )


@pytest.mark.parametrize(
    ("write", "orientation", "message"),
    [
        (  # pandas to_csv(index=False) of a frame column, a time column and the cells
            lambda f: (
                f.assign(time_s=np.arange(len(f)) / 10)[["time_s", *f.columns]].rename_axis("frame").to_csv()
            ),
            "auto",
            r"column 2 \('time_s'\) names a time or a frame",
        ),
        (  # a long ("tidy") table: one line per frame and neuron
            lambda f: (
                f.melt(var_name="neuron", value_name="F")
                .assign(frame=lambda d: d.groupby("neuron").cumcount())[["frame", "neuron", "F"]]
                .to_csv(index=False)
            ),
            "auto",
            r"column 2 \('neuron'\) names neurons: this looks like a long table",
        ),
        (  # pandas' index kept beside a time column
            lambda f: f.assign(time=np.arange(len(f)) / 10)[["time", *f.columns]].to_csv(),
            "frames_x_neurons",
            r"column 2 \('time'\) names a time",
        ),
        (  # R write.csv with a time column
            lambda f: (
                f.assign(time=np.arange(len(f)) / 10)[["time", *f.columns]]
                .set_axis(range(1, len(f) + 1))
                .to_csv(quoting=csv.QUOTE_NONNUMERIC)
            ),
            "frames_x_neurons",
            r"column 2 \('time'\) names a time",
        ),
        (  # the time column last
            lambda f: f.assign(time_s=np.arange(len(f)) / 10).to_csv(index=False),
            "frames_x_neurons",
            r"column 5 \('time_s'\) names a time",
        ),
        (  # ImageJ Multi Measure with Area, Min, Max beside Mean
            lambda f: pd.DataFrame(
                {"Area1": 42.0, "Mean1": f.cell0, "Min1": f.cell0 - 30, "Max1": f.cell0 + 30},
                index=pd.RangeIndex(1, len(f) + 1, name=" "),
            ).to_csv(),
            "frames_x_neurons",
            r"column 2 \('Area1'\) is an ImageJ measurement",
        ),
    ],
    ids=["frame and time columns", "long table", "pandas index and time", "R time", "time last", "imagej"],
)
def test_columns_that_are_not_neurons_are_refused(tmp_path, write, orientation, message):
    """With one line per frame every column after the first is a neuron: a second time column, a
    long table's neuron column or ImageJ's other measurements were read as neurons (a "neuron"
    holding the time ramp got most of the session's spikes)."""
    path = tmp_path / "f.csv"
    path.write_text(write(_frames()))
    with pytest.raises(InputError, match=message):
        probe_input(path, InputSettings(layout=TableLayout(orientation=orientation)))


@pytest.mark.parametrize(
    ("header", "unit"),
    [("Time (s)", 1.0), ("time [ms]", 1e-3), ("Time(s)", 1.0)],
)
def test_a_time_column_in_any_spelling_is_the_clock_and_is_checked_against_the_rate(tmp_path, header, unit):
    """A time column named 'Time (s)' was taken for an index and dropped: never checked against the
    sheet's frame rate, its start lost. (An unnamed one still is: nothing tells its unit, and real
    time stamps may pause between trials.)"""
    from calcium.input.ingest import recording_start_s

    frames = _frames()
    times = 5.0 + np.arange(len(frames)) / 8.0  # an 8 Hz recording starting at 5 s
    table = frames.assign(t=np.round(times / unit, 6))[["t", *frames.columns]]
    path = tmp_path / "f.csv"
    if header is None:
        table.to_csv(path, index=False, header=False)
    else:
        table.rename(columns={"t": header}).to_csv(path, index=False)
    settings = InputSettings(layout=TableLayout(orientation="frames_x_neurons" if header is None else "auto"))
    shape = probe_input(path, settings)
    assert (shape.n_neurons, shape.n_frames) == (4, 60)
    assert recording_start_s(shape, 8.0, str(path)) == pytest.approx(5.0)
    with pytest.raises(InputError, match="its time column steps by 0.125 s per frame"):
        recording_start_s(shape, 30.0, str(path))


@pytest.mark.parametrize("prefix", ["roi_", "cell", "Mean", "C0"])
def test_a_header_naming_neurons_means_one_line_per_frame(tmp_path, prefix):
    """320 frames of 700 neurons with a header of neuron names were read as 320 neurons of 700
    frames (at least twice as many cells per line as lines: one line per neuron was assumed)."""
    rng = np.random.default_rng(1)
    table = pd.DataFrame(
        1000 + rng.normal(0, 10, (320, 700)).round(2), columns=[f"{prefix}{i}" for i in range(700)]
    )
    path = tmp_path / "f.csv"
    table.to_csv(path, index=False)
    shape = probe_input(path, InputSettings(layout=TableLayout(orientation="auto")))
    assert (shape.n_neurons, shape.n_frames) == (700, 320)
    generic = tmp_path / "generic.csv"  # R's V1, V2, ... name nothing: the auto rule, as before
    table.set_axis([f"V{i + 1}" for i in range(700)], axis=1).to_csv(generic, index=False)
    shape = probe_input(generic, InputSettings(layout=TableLayout(orientation="auto")))
    assert (shape.n_neurons, shape.n_frames) == (320, 700)


@pytest.mark.parametrize("index", ["time_s,", "frame,", ""])
def test_empty_rows_below_the_data_are_named_as_such(tmp_path, index):
    """Excel leaves lines of empty cells (',,,') below the data: they were reported as missing
    values to interpolate, and interpolated. A frame of missing values inside the data (a dropped
    frame written as NaN) is still interpolated with input.missing_values: interpolate."""
    path = tmp_path / "f.csv"
    body = "".join(f"{k / 10 if index else 'x'},1.5,2.5,3.5\n".replace("x,", "") for k in range(30))
    header = f"{index}a,b,c\n"
    path.write_text(header + body + ("," * (3 if index else 2) + "\n") * 2)
    with pytest.raises(InputError, match="empty rows?, as spreadsheets leave below the data"):
        read_fluorescence_csv(path, TableLayout(orientation="frames_x_neurons"), allow_missing=True)
    dropped = tmp_path / "dropped.csv"
    lines = (header + body).splitlines()
    lines[5] = ("0.4," if index else "") + "NaN,NaN,NaN"
    dropped.write_text("\n".join(lines) + "\n")
    table = read_fluorescence_csv(dropped, TableLayout(orientation="frames_x_neurons"), allow_missing=True)
    assert table.traces.shape == (3, 30) and np.isnan(table.traces[:, 4]).all()


@pytest.mark.parametrize("corner", ["Time (s)", "time [s]", "frame_number"])
def test_text_labels_in_the_first_column_mean_one_line_per_neuron_whatever_the_corner(tmp_path, corner):
    """A transposed table whose corner cell names the time axis ('Time (s)' above the frame times,
    neuron labels below) was read as one line per frame."""
    rng = np.random.default_rng(2)
    table = pd.DataFrame(
        1000 + rng.normal(0, 10, (10, 200)).round(2),
        index=[f"cell{i}" for i in range(10)],
        columns=[f"{k / 10:.1f}" for k in range(200)],
    ).rename_axis(corner)
    path = tmp_path / "f.csv"
    table.to_csv(path)
    settings = InputSettings(layout=TableLayout(orientation="auto", header=True))
    shape = probe_input(path, settings)
    assert (shape.n_neurons, shape.n_frames) == (10, 200)


def test_r_column_names_x1_are_neurons_not_imagej_measurements(tmp_path):
    """R names a data frame's columns X1, X2, ...; ImageJ's X1 (a centroid) is not what they are."""
    path = tmp_path / "f.csv"
    _frames(50, 5).set_axis([f"X{i + 1}" for i in range(5)], axis=1).to_csv(path)
    shape = probe_input(path, InputSettings(layout=TableLayout(orientation="frames_x_neurons")))
    assert (shape.n_neurons, shape.n_frames) == (5, 50)


def test_text_frame_labels_under_a_frame_or_time_name_stay_one_line_per_frame(tmp_path):
    """Frames labelled 'frame_0000' under an index named 'frame', with a header of neuron names,
    were read transposed (300 neurons named frame_0000...) by the rule for text labels."""
    rng = np.random.default_rng(4)
    table = pd.DataFrame(
        1000 + rng.normal(0, 10, (300, 700)).round(1),
        index=pd.Index([f"frame_{k:04d}" for k in range(300)], name="frame"),
        columns=[f"roi_{i}" for i in range(700)],
    )
    path = tmp_path / "f.csv"
    table.to_csv(path)
    shape = probe_input(path, InputSettings(layout=TableLayout(orientation="auto")))
    assert (shape.n_neurons, shape.n_frames) == (700, 300)


def test_a_few_roi_ids_in_front_of_the_traces_are_not_taken_for_a_frame(tmp_path):
    """Five neurons labelled 3, 7, 12, 15, 20 (pandas to_csv(header=False)): the ids became frame 0
    (values 3, 7, ... in front of traces near 1000); fewer lines than the ordered-column rule needs."""
    rng = np.random.default_rng(5)
    traces = pd.DataFrame(1000 + rng.normal(0, 10, (5, 200)).round(2), index=[3, 7, 12, 15, 20])
    path = tmp_path / "f.csv"
    traces.to_csv(path, header=False)
    with pytest.raises(InputError, match="far below the other values of their lines .*input.index_column"):
        probe_input(path, InputSettings(layout=TableLayout(orientation="auto")))
    whole = tmp_path / "whole.csv"  # a first frame of whole numbers like the rest (integer F): data
    values = 1000 + rng.normal(0, 10, (5, 200)).round(2)
    values[:, 0] = [990, 995, 1001, 1004, 1010]
    pd.DataFrame(values).to_csv(whole, header=False, index=False)
    shape = probe_input(whole, InputSettings(layout=TableLayout(orientation="auto")))
    assert (shape.n_neurons, shape.n_frames) == (5, 200)


def _inscopix(path, values, statuses, start_s=2.0, rate_hz=20.0):
    """A cell-trace CSV as Inscopix IDPS exports it: cell names, a line of cell statuses, then one
    line per frame led by its time in seconds (cells padded with a space, NaN as ' nan')."""
    lines = [" ," + ",".join(f" C{i:02d}" for i in range(values.shape[1]))]
    lines.append("Time(s)/Cell Status," + ",".join(f" {s}" for s in statuses))
    for k, row in enumerate(values):
        cells = ",".join(" nan" if np.isnan(v) else f" {v:.6f}" for v in row)
        lines.append(f"{start_s + k / rate_hz:.2f},{cells}")
    path.write_text("\n".join(lines) + "\n")


def test_inscopix_cell_statuses_are_read_rejected_cells_left_out_and_the_times_are_the_clock(tmp_path):
    """Inscopix's second header line (cell statuses) made the first column 'mix text and numbers',
    and the advice (input.index_column: true) did not read the file."""
    from calcium.input.ingest import recording_start_s

    rng = np.random.default_rng(2)
    values = rng.normal(1.0, 0.1, (200, 5))
    values[7, 3] = np.nan
    statuses = ["accepted", "rejected", "accepted", "undecided", "accepted"]
    path = tmp_path / "traces.csv"
    _inscopix(path, values, statuses)
    layout = TableLayout(orientation="auto")
    shape = probe_input(path, InputSettings(layout=layout, missing_values="interpolate"))
    assert (shape.n_neurons, shape.n_frames) == (4, 200)
    assert recording_start_s(shape, 20.0, str(path)) == pytest.approx(2.0)
    with pytest.raises(InputError, match="time column steps by 0.05 s per frame"):
        recording_start_s(shape, 10.0, str(path))
    table = read_fluorescence_csv(path, layout, allow_missing=True)
    kept = [0, 2, 3, 4]
    np.testing.assert_allclose(table.traces, values[:, kept].T.astype(np.float32), rtol=1e-6)
    assert table.neuron_labels == ["C00", "C02", "C03", "C04"]
    assert table.layout["cell_statuses"] == {"accepted": 3, "rejected": 1, "undecided": 1}
    with pytest.raises(InputError, match=r"line 10, column 5 is empty, NaN"):
        read_fluorescence_csv(path, layout)
    _inscopix(path, values, ["rejected"] * 5)
    with pytest.raises(InputError, match="marks every cell 'rejected'"):
        probe_input(path, InputSettings(layout=layout))


def test_inscopix_rejected_cells_are_not_checked_and_places_are_the_files(tmp_path):
    """Review findings: a missing value in a rejected cell refused the file; a blank line under the
    header read the status line as data; index_column false crashed the reader; an over-long
    name was placed by its kept column."""
    rng = np.random.default_rng(3)
    values = rng.normal(1.0, 0.1, (40, 4))
    values[:, 1] = np.nan  # the rejected cell's trace is empty
    path = tmp_path / "traces.csv"
    _inscopix(path, values, ["accepted", "rejected", "accepted", "accepted"])
    layout = TableLayout(orientation="auto")
    table = read_fluorescence_csv(path, layout)
    np.testing.assert_allclose(table.traces, values[:, [0, 2, 3]].T.astype(np.float32), rtol=1e-6)
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], "", *lines[1:]]) + "\n")  # a blank line under the header
    assert read_fluorescence_csv(path, layout).traces.shape == (3, 40)
    with pytest.raises(InputError, match=r"line 3 holds Inscopix's cell statuses.*index_column: auto"):
        probe_input(path, InputSettings(layout=TableLayout(orientation="auto", index_column=False)))
    long = "X" * 201
    path.write_text("\n".join([lines[0].replace("C03", long), *lines[1:]]) + "\n")
    with pytest.raises(InputError, match="line 1, column 5: a neuron label of 201 characters"):
        read_fluorescence_csv(path, layout)
    bad = [*lines[:5], lines[5].replace(lines[5].split(",")[2], "abc"), *lines[6:]]  # in the rejected cell
    bad[9] = bad[9].replace(bad[9].split(",")[3], "xyz")  # in an accepted one
    path.write_text("\n".join(bad) + "\n")
    with pytest.raises(InputError, match="line 10, column 4: 'xyz' is not a number"):
        read_fluorescence_csv(path, layout)
    path.write_text(
        "\n".join([lines[0], lines[1].replace("undecided", "maybe").replace("rejected", "maybe"), *lines[2:]])
    )
    with pytest.raises(InputError, match="line 2 looks like Inscopix's cell statuses"):
        probe_input(path, InputSettings(layout=layout))


@pytest.mark.parametrize(
    ("above", "header", "lines"),
    [
        (["Fluorescence exported by ImageJ"], True, "lines 1-2"),
        (["Session A: mouse 3", ""], True, "lines 1-3"),
        (["My recording,,,"], True, "lines 1-2"),  # a spreadsheet's title, padded with commas
        (["My recording,,,"], False, "line 1"),  # ... straight above the numbers
        ([",Fluorescence traces,,"], False, "line 1"),  # ... in another cell (it became the index)
    ],
)
def test_a_title_line_above_the_data_is_named_as_such(tmp_path, above, header, lines):
    """A title above the header gave 'the first column mixes text and numbers ... set
    input.index_column: true', which does not read the file."""
    frames = _frames()
    path = tmp_path / "f.csv"
    path.write_text("\n".join(above) + "\n" + frames.to_csv(index=False, header=header))
    with pytest.raises(InputError, match=rf"{lines} \(.*\) above the data hold text and no number: a title"):
        probe_input(path, InputSettings(layout=TableLayout(orientation="auto")))


_ROWS = "\n".join(f"f{k},{100 + k},{101 + k},{102 + k}" for k in range(1, 61))


@pytest.mark.parametrize(
    ("text", "layout", "shape"),
    [
        (
            ",roi_0\n" + "\n".join(f"{k},{99 + k % 3}" for k in range(50)),
            dict(orientation="frames_x_neurons"),
            (1, 50),
        ),
        ("frame,roi_0,roi_1,roi_2\nf0,NA,NA,NA\n" + _ROWS, dict(orientation="auto"), (3, 61)),
        (
            "roi_x" + ",NA" * 40 + "\n" + "\n".join(f"roi_{k}," + ",".join(["1.5"] * 40) for k in range(5)),
            dict(orientation="auto"),
            (6, 40),
        ),
        (
            "time_s,,,\n" + "\n".join(f"{k / 10},1,2,3" for k in range(50)),
            dict(header=True, orientation="auto"),
            (3, 50),
        ),
    ],
    ids=[
        "pandas one column",
        "a first frame of NA under a text label",
        "a first neuron of NA, no header",
        "time_s,,,",
    ],
)
def test_tables_with_few_names_or_an_empty_first_line_are_not_titles(tmp_path, text, layout, shape):
    """Review finding: the title rule refused these legitimate tables (650 of 7365 generated layouts
    read before were refused), whatever input.header and input.index_column said."""
    path = tmp_path / "f.csv"
    path.write_text(text + "\n")
    assert read_fluorescence_csv(path, TableLayout(**layout), allow_missing=True).traces.shape == shape


def test_a_mistyped_number_below_the_header_is_named_as_a_bad_cell_not_a_title(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("roi_0,roi_1,roi_2\n\u22121.0,\u22122.0,\u22120.5\n" + "0.7,0.3,1.9\n" * 30)
    with pytest.raises(InputError, match="mixes text .* fix that cell"):
        probe_input(path, InputSettings(layout=TableLayout(orientation="auto")))


@pytest.mark.parametrize("header", [False, True], ids=["above numbers", "above a header of frame times"])
def test_a_one_cell_title_is_not_taken_for_a_header(tmp_path, header):
    """Review finding: a one-cell title above the data was taken for a header of one name (three
    neurons, one label), or, above a header of frame times, that header became a neuron (the time
    ramp)."""
    rng = np.random.default_rng(6)
    path = tmp_path / "f.csv"
    if header:
        table = pd.DataFrame(rng.normal(100, 5, (3, 60)).round(2), columns=np.arange(60) / 10.0)
        text = table.rename_axis("neuron").to_csv()
    else:
        text = pd.DataFrame(rng.normal(100, 5, (60, 3)).round(2)).to_csv(index=False, header=False)
    path.write_text("Fluorescence exported by ImageJ\n" + text)
    with pytest.raises(InputError, match="line 1 holds 1 cells but the data lines"):
        probe_input(path, InputSettings(layout=TableLayout(orientation="auto")))
