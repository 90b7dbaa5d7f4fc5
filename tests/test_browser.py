"""The session browser: decimation, packing, the size rule, and the page in headless Chromium."""

from __future__ import annotations

import base64
import json
import os
import zipfile
import zlib

import numpy as np
import pandas as pd
import pytest
import yaml
from cdp import Chromium, find_chromium
from conftest import REPO, snakemake
from matplotlib.colors import to_rgb

from calcium.outputs.browser import DenseTrace, SessionData, build_page, render_page
from calcium.outputs.browser_encoding import (
    MISSING_INT16,
    MISSING_UINT8,
    choose_resolution,
    delta_decode,
    delta_encode,
    dense_bytes,
    dequantise,
    min_max_envelope,
    pack,
    packed_size_bound,
    quantise,
    slot_frames,
    unpack,
)
from calcium.outputs.palette import ensemble_colour
from calcium.population.coactivity import window_frames
from calcium.population.steps import effective_thresholds
from calcium.signal.dff import baseline_f0
from calcium.stimulus.trial_responses import peri_stimulus

ASSETS = REPO / "workflow" / "resources" / "browser"


# ---------------------------------------------------------------- library


def spiky_traces(rng, n_neurons, n_frames, rate=0.01):
    """Noise with sparse, tall single-frame spikes; returns (traces, spike mask)."""
    traces = rng.normal(0, 0.1, (n_neurons, n_frames))
    spikes = rng.random((n_neurons, n_frames)) < rate
    traces[spikes] += rng.uniform(1, 5, spikes.sum())
    return traces, spikes


def test_envelope_keeps_every_spike_peak_and_column_extremes():
    rng = np.random.default_rng(0)
    traces, spikes = spiky_traces(rng, 5, 10_007)
    k = 13
    env = min_max_envelope(traces, k)
    n_cols = -(-10_007 // k)
    assert env.shape == (5, 2 * n_cols)
    columns = np.pad(traces, ((0, 0), (0, n_cols * k - 10_007)), mode="edge").reshape(5, n_cols, k)
    pairs = env.reshape(5, n_cols, 2)
    np.testing.assert_array_equal(pairs.max(axis=2), columns.max(axis=2))
    np.testing.assert_array_equal(pairs.min(axis=2), columns.min(axis=2))
    neuron, frame = np.nonzero(spikes)
    # every spike is at most the maximum drawn in its column, and the tallest one is drawn exactly
    assert np.all(pairs.max(axis=2)[neuron, frame // k] >= traces[neuron, frame])
    tallest = traces[neuron, frame] == columns.max(axis=2)[neuron, frame // k]
    assert tallest.sum() > 0.9 * frame.size
    # the two values keep their temporal order
    low_first = columns.argmin(axis=2) <= columns.argmax(axis=2)
    np.testing.assert_array_equal(
        pairs[..., 0] == columns.min(axis=2), low_first | (pairs[..., 0] == pairs[..., 1])
    )


def test_envelope_is_exact_when_not_decimated_and_handles_nan():
    rng = np.random.default_rng(1)
    traces = rng.normal(size=(3, 50))
    np.testing.assert_array_equal(min_max_envelope(traces, 1), traces)
    traces[0, :10] = np.nan
    env = min_max_envelope(traces, 10)
    assert np.isnan(env[0, :2]).all() and np.isfinite(env[0, 2:]).all()
    np.testing.assert_allclose(slot_frames(50, 1), np.arange(50))
    at = slot_frames(23, 10)  # columns of 10, 10 and 3 frames
    np.testing.assert_allclose(at, [2.25, 6.75, 12.25, 16.75, 20.5, 21.5])


@pytest.mark.parametrize("dtype, levels", [("int16", 65534), ("uint8", 254)])
def test_quantisation_error_is_half_a_step_and_missing_values_survive(dtype, levels):
    rng = np.random.default_rng(2)
    values = rng.normal(0, [[1], [100], [1e-3]], (3, 1000))
    values[1, 5] = np.nan
    constant = np.full((1, 10), 3.5)
    codes, offset, scale = quantise(values, dtype)
    assert codes.dtype == np.dtype(dtype)
    back = dequantise(codes, offset, scale)
    span = np.nanmax(values, axis=1) - np.nanmin(values, axis=1)
    np.testing.assert_allclose(scale, span / levels)
    assert np.isnan(back[1, 5]) and codes[1, 5] == (MISSING_INT16 if dtype == "int16" else MISSING_UINT8)
    error = np.abs(np.nan_to_num(back - values))
    assert np.all(error <= scale[:, None] / 2 * (1 + 1e-9))
    codes, offset, scale = quantise(constant, dtype)
    np.testing.assert_array_equal(dequantise(codes, offset, scale), constant)


def test_pack_round_trip_keeps_every_dtype_aligned():
    rng = np.random.default_rng(3)
    parts = {
        "u8": rng.integers(0, 255, 17).astype(np.uint8),
        "i16": rng.integers(-30000, 30000, (3, 5)).astype(np.int16),
        "u16": rng.integers(0, 65535, 9).astype(np.uint16),
        "i32": rng.integers(-(2**31), 2**31 - 1, 4).astype(np.int32),
        "u32": rng.integers(0, 2**32 - 1, 3).astype(np.uint32),
        "f32": rng.normal(size=7).astype(np.float32),
        "f64": rng.normal(size=(2, 3)),
        "json": '{"é":[1,null]}'.encode(),
        "empty": np.zeros(0, dtype=np.int32),
    }
    index, payload, raw = pack(parts)
    assert all(entry["offset"] % 8 == 0 for entry in index.values())
    assert raw == max(e["offset"] + e["nbytes"] for e in index.values())
    back = unpack(index, payload)
    for name, part in parts.items():
        if isinstance(part, bytes):
            assert back[name] == part
        else:
            assert back[name].dtype == part.dtype
            np.testing.assert_array_equal(back[name], part)
    with pytest.raises(ValueError, match="cannot be packed"):
        pack({"bad": np.zeros(2, dtype=np.complex64)})


def test_delta_coding_round_trip():
    counts = np.array([3, 0, 2, 4, 0])
    frames = np.array([5, 5, 90, 0, 70_000, 1, 2, 3, 200_000])
    deltas = delta_encode(frames, counts)
    assert deltas.dtype == np.uint32  # 70,000 and 199,997 do not fit 16 bits
    np.testing.assert_array_equal(delta_decode(deltas, counts), frames)
    small = delta_encode(np.array([10, 20, 7]), np.array([2, 1]))
    assert small.dtype == np.uint16
    np.testing.assert_array_equal(small, [10, 10, 7])
    with pytest.raises(ValueError, match="sorted"):
        delta_encode(np.array([5, 3]), np.array([2]))


def test_packed_size_bound_holds_for_incompressible_data():
    rng = np.random.default_rng(4)
    for n in (0, 1, 1000, 100_000, 1_000_000):
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        assert len(base64.b64encode(zlib.compress(data, 6))) <= packed_size_bound(n)


def test_size_rule_picks_the_finest_storage_that_fits():
    # fits at 16 bits per frame
    full = choose_resolution(80, 3000, 6, dense_bytes(80, 6, 3000, "int16"))
    assert (full.frames_per_column, full.n_slots, full.dtype) == (1, 3000, "int16")
    # one byte less: every frame at 8 bits
    assert choose_resolution(80, 3000, 6, dense_bytes(80, 6, 3000, "int16") - 1).dtype == "uint8"
    # 10,000 neurons x 100,000 frames x 6 traces into 50 MB: an envelope, the widest that fits
    budget = 50_000_000
    res = choose_resolution(10_000, 100_000, 6, budget, shared_rows=3)
    assert res.frames_per_column > 1 and res.dtype == "uint8"
    assert dense_bytes(10_000, 6, res.n_slots, "uint8", 3) <= budget
    columns_fitting = (budget - 16 * 60_000) // (60_000 + 12) // 2
    assert res.n_slots // 2 <= columns_fitting
    assert res.frames_per_column == -(-100_000 // columns_fitting)
    with pytest.raises(ValueError, match="browser.max_mb"):
        choose_resolution(10_000, 100_000, 6, 1_000_000)


def test_render_page_fills_placeholders_and_refuses_script_breaks():
    page = render_page("<title>/*@A@*/</title><p>/*@B@*/</p>", {"A": "x /*@B@*/", "B": "y"})
    assert page == "<title>x /*@B@*/</title><p>y</p>"  # inserted text is not searched again
    with pytest.raises(ValueError, match="placeholders"):
        render_page("/*@A@*/", {})
    with pytest.raises(ValueError, match="script"):
        render_page("/*@A@*/", {"A": "</script><script>alert(1)"})


def page_assets():
    read = lambda name: (ASSETS / name).read_text(encoding="utf-8")  # noqa: E731
    return read("page.html"), {
        "style": read("uPlot.min.css") + read("browser.css"),
        "script": read("uPlot.iife.min.js") + "\n" + read("browser.js"),
    }


def synthetic_session(rng, n_neurons, n_frames, fs=20.0, noise=0.1):
    """Arrays and tables shaped like the workflow's outputs (no workflow run)."""
    dff, spikes = spiky_traces(rng, n_neurons, n_frames)
    dff *= noise / 0.1
    raw = 500 * (1 + dff)
    neuron, frame = np.nonzero(spikes)
    events = pd.DataFrame(
        {
            "neuron": neuron,
            "onset_frame": np.maximum(frame - 1, 0),
            "peak_frame": frame,
            "end_frame": np.minimum(frame + 3, n_frames - 1),
            "amplitude_dff": dff[neuron, frame],
            "fwhm_s": rng.uniform(0.1, 2, neuron.size),
            "exceeds_max_fwhm": rng.random(neuron.size) < 0.2,
            "below_min_fwhm": rng.random(neuron.size) < 0.2,
        }
    )
    traces = [
        DenseTrace("raw", "raw F", "F (a.u.)", raw),
        DenseTrace("dff", "ΔF/F", "ΔF/F", dff),
        DenseTrace("detrended", "detrended ΔF/F", "ΔF/F", dff - 0.01),
        DenseTrace("denoised", "wavelet-denoised ΔF/F", "ΔF/F", dff * 0.9),
        DenseTrace("calcium", "OASIS calcium c", "ΔF/F", np.maximum(dff, 0)),
        DenseTrace("spikes", "OASIS spike amplitude s", "s (ΔF/F)", np.where(spikes, dff, 0.0)),
    ]
    data = SessionData(
        session="synthetic",
        frame_rate_hz=fs,
        start_time_s=0.0,
        traces=traces,
        labels=[f"roi_{i}" for i in range(n_neurons)],
        spikes=pd.DataFrame({"neuron": neuron, "frame": frame}),
        events=events,
        f0=np.full(n_neurons, 500.0),
        neuron_tables={
            "features": pd.DataFrame({"neuron": np.arange(n_neurons), "event_count": spikes.sum(1)})
        },
        roles={
            "events": "detrended",
            "stimulus": "detrended",
            "deconvolution": "detrended",
            "event_time": "onset",
        },
    )
    return data


def page_parts(html, group):
    """The arrays a page carries in one of its groups (decoded as the page does)."""
    manifest = json.loads(html.split('id="manifest">')[1].split("</script>")[0])
    return unpack(manifest["groups"][group], html.split(f'id="data-{group}">')[1].split("</script>")[0])


def test_session_without_events_spikes_or_ensembles_builds():
    rng = np.random.default_rng(7)
    data = synthetic_session(rng, 3, 500)
    data.events = data.events.iloc[:0]
    data.spikes = data.spikes.iloc[:0]
    data.ensembles = pd.DataFrame(columns=["ensemble", "n_events", "n_members", "members"])
    template, assets = page_assets()
    html, info = build_page(data, template, assets)
    parts = page_parts(html, "tables")
    np.testing.assert_array_equal(parts["event_counts"], [0, 0, 0])
    np.testing.assert_array_equal(parts["spike_counts"], [0, 0, 0])


def test_same_session_gives_the_same_page():
    template, assets = page_assets()
    first, _ = build_page(synthetic_session(np.random.default_rng(8), 4, 3000), template, assets)
    again, _ = build_page(synthetic_session(np.random.default_rng(8), 4, 3000), template, assets)
    assert first == again
    # Blocks of neurons decimated on several threads: the same page.
    threaded, _ = build_page(
        synthetic_session(np.random.default_rng(8), 4, 3000), template, assets, block_neurons=1, workers=3
    )
    assert threaded == first


def test_page_stays_under_max_bytes_even_for_incompressible_traces():
    rng = np.random.default_rng(5)
    data = synthetic_session(rng, 40, 30_000)
    for trace in data.traces:  # white noise: nothing to compress
        trace.rows = rng.uniform(-1, 1, trace.rows.shape)
    template, assets = page_assets()
    html, info = build_page(data, template, assets, max_bytes=3_000_000)
    assert len(html.encode()) <= 3_000_000
    assert info["resolution"].frames_per_column > 1
    # the same session with room to spare is stored frame by frame
    html, info = build_page(data, template, assets, max_bytes=30_000_000)
    assert info["resolution"].full and info["resolution"].dtype == "int16"


# ---------------------------------------------------------------- in a real browser


@pytest.fixture
def chromium_path():
    found = find_chromium()
    if found is None:
        if os.environ.get("CI_REQUIRE_BROWSER") == "1":
            pytest.fail("CI_REQUIRE_BROWSER=1 but no Chromium found (apt-get install chromium)")
        pytest.skip("headless Chromium not installed (apt-get install chromium); CI installs it")
    return found


READY = "window.sessionBrowser && (sessionBrowser.ready || sessionBrowser.error)"


def open_page(browser, path):
    browser.open(path.resolve().as_uri())
    browser.wait_for(READY, timeout_s=60)
    assert browser.evaluate("sessionBrowser.error") is None


def type_neuron(browser, neuron):
    """Select a neuron as a user does: type its number into the box and press Enter."""
    browser.evaluate(
        "(() => { const box = document.getElementById('neuron-number'); box.focus(); box.select(); })()"
    )
    browser.send("Input.insertText", text=str(neuron))
    browser.key("Enter", key_code=13)
    browser.wait_for(f"sessionBrowser.state().neuron === {neuron}", timeout_s=10)


def chart(state, key):
    return next(c for c in state["charts"] if c["key"] == key)


def series(state, key, label_start):
    return np.array(
        [
            np.nan if v is None else v
            for v in next(s for s in chart(state, key)["series"] if s["label"].startswith(label_start))[
                "values"
            ]
        ],
        dtype=float,
    )


def assert_drawn(drawn, expected, dtype="int16"):
    """Drawn values equal the arrays up to the page's quantisation (half a step)."""
    expected = np.asarray(expected, dtype=float)
    levels = 65534 if dtype == "int16" else 254
    step = (expected.max() - expected.min()) / levels
    assert drawn.shape == expected.shape
    np.testing.assert_allclose(drawn, expected, atol=step / 2 * 1.001 + 1e-12, rtol=0)


def test_envelope_page_in_chromium_draws_the_decimated_arrays(chromium_path, tmp_path):
    rng = np.random.default_rng(6)
    data = synthetic_session(rng, 8, 20_000)
    lags = np.linspace(0.05, 0.4, 8)  # each neuron's timing correction (deconvolution.tsv lag_s)
    data.neuron_tables["deconvolution"] = pd.DataFrame({"neuron": np.arange(8), "lag_s": lags})
    template, assets = page_assets()
    html, info = build_page(data, template, assets, max_bytes=700_000)
    res = info["resolution"]
    assert res.frames_per_column > 1
    page = tmp_path / "envelope.html"
    page.write_text(html, encoding="utf-8")
    with Chromium(chromium_path) as browser:
        open_page(browser, page)
        type_neuron(browser, 5)
        state = browser.evaluate("sessionBrowser.state()")
        np.testing.assert_allclose(
            chart(state, "dff")["x"], slot_frames(20_000, res.frames_per_column) / 20.0
        )
        for trace in data.traces:
            if trace.key == "calcium":
                drawn = series(state, "calcium", "calcium c")
            elif trace.key == "spikes":
                drawn = series(state, "spikes", "spike amplitude")
            else:
                drawn = series(state, trace.key, trace.label)
            assert_drawn(drawn, min_max_envelope(trace.rows[5:6], res.frames_per_column)[0], "uint8")
        # every spike of neuron 5 is marked in its column at the top of the drawn envelope
        spike_frames = np.sort(data.spikes.frame[data.spikes.neuron == 5].to_numpy())
        assert state["spikes"] == spike_frames.tolist()
        marks = state["spike_marks"]
        s_drawn = series(state, "spikes", "spike amplitude")
        columns = spike_frames // res.frames_per_column
        assert marks["lag"] == pytest.approx(lags[5])
        np.testing.assert_allclose(marks["time"], spike_frames / 20.0 - lags[5])
        assert np.all(np.nanmax(s_drawn.reshape(-1, 2)[columns], axis=1) == np.asarray(marks["value"]))
        # amplitudes hidden from the legend: the markers stay on a y scale that spans them (it lost
        # its data and the markers went off the chart)
        assert browser.evaluate('sessionBrowser.showSeries("spikes", "spike amplitude", false)')
        hidden = chart(browser.evaluate("sessionBrowser.state()"), "spikes")
        assert hidden["shown"][0] is False
        # the markers' series is their legend entry only: no value at a frame (the hover shows none)
        assert np.isnan(series(state, "spikes", "spike times")).all()
        assert hidden["y_scale"][0] <= min(marks["value"]) and max(marks["value"]) <= hidden["y_scale"][1]
        browser.evaluate('sessionBrowser.showSeries("spikes", "spike amplitude", true)')
        # flagged events are drawn as their own series
        detrended = chart(state, "detrended")
        labels = [s["label"] for s in detrended["series"]]
        assert any("too wide" in label for label in labels) and any("too narrow" in label for label in labels)
        browser.screenshot(tmp_path / "envelope.png")
        assert browser.errors() == []


def test_session_browser_of_the_workflow_in_chromium(default_run, chromium_path, tmp_path):
    results = default_run / "results" / "s1"
    page = results / "browser.html"
    assert page.stat().st_size < 20e6
    neuron = 7
    with Chromium(chromium_path) as browser:
        open_page(browser, page)
        type_neuron(browser, neuron)
        state = browser.evaluate("sessionBrowser.state()")
        assert state["resolution"]["frames_per_column"] == 1  # the example is small: every frame
        raw = np.load(results / "ingest" / "fluorescence.npy")
        fs = 5.0
        np.testing.assert_allclose(chart(state, "raw")["x"], np.arange(raw.shape[1]) / fs)
        assert_drawn(series(state, "raw", "raw F"), raw[neuron])
        f0 = baseline_f0(raw[neuron : neuron + 1], 25.0)[0, 0]
        np.testing.assert_allclose(series(state, "raw", "F0"), f0, rtol=1e-6)
        for key in ("dff", "detrended", "denoised"):
            expected = np.load(results / f"{key}.npy")[neuron]
            label = {"dff": "ΔF/F", "detrended": "detrended", "denoised": "wavelet"}[key]
            assert_drawn(series(state, key, label), expected)
        assert_drawn(series(state, "calcium", "calcium c"), np.load(results / "calcium.npy")[neuron])
        assert_drawn(series(state, "spikes", "spike amplitude"), np.load(results / "spikes.npy")[neuron])
        spikes = pd.read_csv(results / "spike_times.csv")
        assert state["spikes"] == sorted(spikes.frame[spikes.neuron == neuron].tolist())
        # marked at the tables' times (the frame's, lag_s earlier), not at their frames'
        mine = spikes[spikes.neuron == neuron].sort_values("frame")
        np.testing.assert_allclose(state["spike_marks"]["time"], mine.time_s, atol=1e-9)
        assert state["spike_marks"]["lag"] > 0
        events = pd.read_csv(results / "events" / "events.csv")
        mine = events[events.neuron == neuron].sort_values("onset_frame")
        assert [e["onset"] for e in state["events"]] == mine.onset_frame.tolist()
        assert [e["peak"] for e in state["events"]] == mine.peak_frame.tolist()
        assert [e["end"] for e in state["events"]] == mine.end_frame.tolist()
        peaks = series(state, "detrended", "event peak")
        wide = series(state, "detrended", "peak, too wide")
        assert np.isfinite(peaks).sum() + np.isfinite(wide).sum() == len(mine)
        # the regression fit drawn is intercept + sum of coefficient x regressor
        regression = pd.read_csv(results / "stimulus" / "regression.csv").set_index("neuron").loc[neuron]
        regressors = pd.read_csv(results / "stimulus" / "regressors.csv")
        names = [c.removeprefix("regressor_") for c in regressors.columns if c.startswith("regressor_")]
        fit = regression.intercept_dff + sum(
            regression[f"coef_{name}"] * regressors[f"regressor_{name}"].to_numpy() for name in names
        )
        stimulus_trace = yaml.safe_load((REPO / "config.yaml").read_text())["stimulus"]["input"]
        np.testing.assert_allclose(series(state, stimulus_trace, "regression fit"), fit, atol=1e-5)
        assert "response_type" in state["side_text"] and "event_count" in state["side_text"]
        browser.screenshot(tmp_path / "traces.png")

        browser.evaluate("document.activeElement.blur()")
        browser.key("ArrowRight", key_code=39)
        browser.wait_for(f"sessionBrowser.state().neuron === {neuron + 1}", timeout_s=10)

        browser.evaluate("document.getElementById('tab-raster').click()")
        browser.wait_for("sessionBrowser.view === 'raster'")
        target = 12
        at = browser.evaluate(f"sessionBrowser.rasterRowCentre({target})")
        browser.screenshot(tmp_path / "raster.png")
        browser.send("Input.dispatchMouseEvent", type="mouseMoved", x=at["x"], y=at["y"])
        browser.click(at["x"], at["y"])
        opened = f"sessionBrowser.view === 'traces' && sessionBrowser.state().neuron === {target}"
        browser.wait_for(opened, timeout_s=10)

        # the trial view: each presentation's window, mean ± SEM, and the per-trial amplitudes
        browser.evaluate("document.getElementById('tab-trials').click()")
        browser.wait_for("sessionBrowser.view === 'trials'")
        shown = browser.evaluate("sessionBrowser.trialState()")
        selected = browser.evaluate("sessionBrowser.state().neuron")  # the neuron the raster opened
        assert shown["neuron"] == selected
        trials = pd.read_csv(results / "stimulus" / "trial_responses.csv")
        mine = trials[trials.neuron == selected]
        window = yaml.safe_load((REPO / "config.yaml").read_text())["stimulus"]["trial_window_s"]
        dff = np.load(results / f"{stimulus_trace}.npy")[selected : selected + 1]
        assert [s["name"] for s in shown["stimuli"]] == list(dict.fromkeys(mine.stimulus))
        for stimulus in shown["stimuli"]:
            rows = mine[mine.stimulus == stimulus["name"]]
            assert [r["trial"] for r in stimulus["rows"]] == rows.trial.tolist()
            np.testing.assert_allclose(
                [r["response_dff"] for r in stimulus["rows"]], rows.response_dff, rtol=1e-6
            )
            np.testing.assert_allclose(
                [r["baseline_dff"] for r in stimulus["rows"]], rows.baseline_dff, rtol=1e-6
            )
            time_s, windows = peri_stimulus(dff, rows.onset_s.to_numpy(), fs, window)
            np.testing.assert_allclose(stimulus["time_s"], time_s, atol=1e-9)
            drawn = np.array([[np.nan if v is None else v for v in row] for row in stimulus["trials"]])
            step = (dff.max() - dff.min()) / 65534
            np.testing.assert_allclose(drawn, windows[0], atol=step, equal_nan=True)
            np.testing.assert_allclose(stimulus["mean"], np.nanmean(windows[0], axis=0), atol=step)
        browser.screenshot(tmp_path / "trials.png")

        # the bundled sessions are CSV traces: the ROI map says why it has nothing to show
        browser.evaluate("document.getElementById('tab-map').click()")
        roi_map = browser.evaluate("sessionBrowser.roiMap()")
        assert not roi_map["shown"] and "no ROI footprints" in roi_map["message"]

        # the null as the coactivity figure shows it: the tested statistic, each bin's threshold,
        # the pooled null distribution and each bin's P(null >= observed), from the tables
        browser.evaluate("document.getElementById('tab-raster').click()")
        bins = pd.read_csv(results / "population" / "coactivity.csv")
        null = json.loads((results / "population" / "null_threshold.json").read_text())
        histogram = pd.read_csv(results / "population" / "null_histogram.csv")
        shown = browser.evaluate("sessionBrowser.nullPanel()")
        np.testing.assert_allclose(shown["thresholds"], effective_thresholds(bins, null))
        pooled = histogram.groupby("n_active").n_bins.sum()
        np.testing.assert_allclose(shown["null_fraction"][: len(pooled)], pooled / pooled.sum())
        kinds = window_frames(bins.n_frames.to_numpy(), null["jitter_bins"])
        busiest = int(bins.n_active_window.idxmax())
        for b in (busiest, len(bins) // 2):
            observed = bins.n_active_window[b]
            same = histogram[histogram.frames == kinds[b]]
            expected = same.n_bins[same.n_active >= observed].sum() / same.n_bins.sum()
            assert shown["p"][b] == pytest.approx(expected)
            hovered = browser.evaluate(f"sessionBrowser.hoverCoactivityBin({b})")["hovered"]
            assert hovered["bin"] == b and hovered["n_active"] == observed
            assert hovered["p"] == pytest.approx(expected)
        assert shown["p"][busiest] < 0.01  # the busiest bin lies far out in the null's tail
        browser.screenshot(tmp_path / "null.png")

        # row orders: by ensemble (groups of members), by correlation, by response type
        browser.evaluate("document.getElementById('tab-raster').click()")
        members = pd.read_csv(results / "ensembles" / "ensemble_members.csv")
        regression_table = pd.read_csv(results / "stimulus" / "regression.csv")
        options = browser.evaluate("[...document.getElementById('raster-order').options].map(o => o.value)")
        assert options == ["neuron", "ensemble", "embedding", "response"]
        rows = {}
        for name in options:
            choose = "(() => { const s = document.getElementById('raster-order'); s.value = NAME;"
            choose += " s.dispatchEvent(new Event('change')); })()"
            browser.evaluate(choose.replace("NAME", json.dumps(name)))
            rows[name] = browser.evaluate("sessionBrowser.rasterRows()")
            assert sorted(rows[name]["neuronAt"]) == list(range(80)), name
        assert rows["neuron"]["neuronAt"] == list(range(80)) and rows["neuron"]["groups"] == []
        for group in rows["ensemble"]["groups"][:-1]:
            ensemble = int(group["label"].split()[-1])
            drawn = rows["ensemble"]["neuronAt"][group["first"] : group["first"] + group["count"]]
            mine = members[(members.ensemble == ensemble) & members.member].neuron
            assert set(drawn) <= set(mine)
        assert rows["ensemble"]["groups"][-1]["label"] == "no ensemble"
        for group in rows["response"]["groups"]:
            drawn = rows["response"]["neuronAt"][group["first"] : group["first"] + group["count"]]
            kinds = set(regression_table.set_index("neuron").response_type[drawn])
            assert kinds == {group["label"]}
            r2 = regression_table.set_index("neuron").r2[drawn].to_numpy()
            assert np.all(np.diff(r2) <= 0)  # best fits first
        assert rows["embedding"]["axis"] == "neuron (correlation order)"
        assert rows["embedding"]["neuronAt"] != list(range(80))
        browser.screenshot(tmp_path / "raster_by_response.png")

        # rows grouped by ensemble: a click still opens the neuron drawn in that row
        target = int(pd.read_csv(results / "ensembles" / "ensembles.csv").members.iloc[-1].split()[-1])
        browser.evaluate("document.getElementById('tab-raster').click()")
        browser.evaluate(
            "(() => { const s = document.getElementById('raster-order'); s.value = 'ensemble';"
            " s.dispatchEvent(new Event('change')); })()"
        )
        at = browser.evaluate(f"sessionBrowser.rasterRowCentre({target})")
        assert at["y"] < browser.evaluate("sessionBrowser.rasterRowCentre(79)")["y"] or target == 79
        browser.screenshot(tmp_path / "raster_by_ensemble.png")
        # ensembles in the colours of every figure (calcium.outputs.palette)
        swatches = browser.evaluate(
            "[...document.querySelectorAll('#ensemble-side h3 .swatch')].map(s => s.style.background)"
        )
        ids = pd.read_csv(results / "ensembles" / "ensembles.csv").ensemble
        expected = [
            "rgb({}, {}, {})".format(*(round(255 * c) for c in to_rgb(ensemble_colour(k)))) for k in ids
        ]
        assert swatches == expected
        # each ensemble's activations (n_events of them, ensemble_activation_times.csv) colour
        # its members' ticks; the side panel counts them as activations
        side = browser.evaluate("document.getElementById('ensemble-side').innerText")
        table = pd.read_csv(results / "ensembles" / "ensembles.csv")
        for k, n in zip(table.ensemble, table.n_events, strict=True):
            assert f"ensemble {k}: " in side.lower() and f"{n} activations" in side.lower()
        windows = pd.read_csv(results / "ensembles" / "ensemble_activation_times.csv")
        ticks = pd.DataFrame(browser.evaluate("sessionBrowser.rasterTicks()"))
        member_of = members[members.member].groupby("neuron").ensemble.apply(set)
        inside = {
            (k, n): (
                (w.start_s.to_numpy()[:, None] <= t.to_numpy()) & (t.to_numpy() < w.end_s.to_numpy()[:, None])
            ).any(axis=0)
            for k, w in windows.groupby("ensemble")
            for n, t in ticks.groupby("neuron").time
            if k in member_of.get(n, set())
        }
        coloured = ticks[ticks.colour >= 0]
        assert len(coloured) > 0
        for n, tick in ticks.groupby("neuron"):
            hits = [inside[(k, n)] for k in sorted(member_of.get(n, set())) if (k, n) in inside]
            expected = np.any(hits, axis=0) if hits else np.zeros(len(tick), bool)
            assert np.array_equal(tick.colour.to_numpy() >= 0, expected), n
        browser.send("Input.dispatchMouseEvent", type="mouseMoved", x=at["x"], y=at["y"])
        browser.click(at["x"], at["y"])
        opened = f"sessionBrowser.view === 'traces' && sessionBrowser.state().neuron === {target}"
        browser.wait_for(opened, timeout_s=10)
        assert browser.errors() == []


def test_report_links_and_zip_report_holds_the_browser(default_run, default_report, tmp_path):
    """The single-file report links each session's page; the zip report carries the page itself."""
    result = snakemake(default_run, "--report", str(tmp_path / "report.zip"), timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    html = default_report.read_text(errors="replace")
    assert "6. Session browser" in html
    for session in ("s1", "s2"):
        assert f'href=\\"results/{session}/browser.html\\"' in html
    with zipfile.ZipFile(tmp_path / "report.zip") as archive:
        pages = [n for n in archive.namelist() if n.endswith("/browser.html")]
        assert len(pages) == 2
        inside = {archive.read(n) for n in pages}
    assert inside == {(default_run / "results" / s / "browser.html").read_bytes() for s in ("s1", "s2")}


def footprints_of(n_neurons, height=40, width=60):
    """Disk-shaped ROIs on a field with a mean image; ROI k centred at a known pixel."""
    from calcium.input.footprints import Footprints

    yy, xx = np.mgrid[0:height, 0:width]
    roi, y, x, weight = [], [], [], []
    for k in range(n_neurons):
        cy, cx = 8 + 12 * (k // 4), 8 + 14 * (k % 4)
        inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= 16
        roi.append(np.full(inside.sum(), k))
        y.append(yy[inside])
        x.append(xx[inside])
        weight.append(1.0 / (1 + (yy[inside] - cy) ** 2 + (xx[inside] - cx) ** 2))
    mean_image = (np.sin(yy / 5.0) + np.cos(xx / 7.0)).astype(np.float32)
    return Footprints(
        np.concatenate(roi).astype(np.int32),
        np.concatenate(y).astype(np.int32),
        np.concatenate(x).astype(np.int32),
        np.concatenate(weight).astype(np.float32),
        (height, width),
        mean_image,
        "suite2p",
    )


def test_roi_map_click_selects_the_neuron_and_the_trial_view_shows_its_presentations(chromium_path, tmp_path):
    from calcium.outputs.palette import NO_ENSEMBLE
    from calcium.stimulus.trial_responses import peri_stimulus, trial_responses

    rng = np.random.default_rng(11)
    fs = 20.0
    data = synthetic_session(rng, 8, 4000, fs=fs)
    data.footprints = footprints_of(8)
    data.ensemble_members = pd.DataFrame(
        {
            "ensemble": [0, 0, 1],
            "neuron": [5, 2, 6],
            "participation": [0.5, 0.4, 0.6],
            "member": [True, True, True],
        }
    )
    data.stimuli = pd.DataFrame(
        {
            "stimulus": ["tone", "puff"] * 5,
            "onset_s": np.arange(10) * 18.0 + 5.0,
            "offset_s": np.arange(10) * 18.0 + 6.0,
        }
    )
    detrended = np.asarray(next(t for t in data.traces if t.key == "detrended").rows)
    data.trials = trial_responses(detrended, data.stimuli, fs, (0.0, 2.0), (-1.0, 0.0))
    data.trial_window_s = (-1.0, 3.0)
    template, assets = page_assets()
    html, info = build_page(data, template, assets)
    assert info["resolution"].frames_per_column == 1
    page = tmp_path / "map.html"
    page.write_text(html, encoding="utf-8")
    with Chromium(chromium_path) as browser:
        open_page(browser, page)
        browser.evaluate("document.getElementById('tab-map').click()")
        browser.wait_for("sessionBrowser.view === 'map'")
        shown = browser.evaluate("sessionBrowser.roiMap()")
        assert shown["shown"] and (shown["height"], shown["width"]) == (40, 60)
        assert shown["colours"][5] == ensemble_colour(0) and shown["colours"][6] == ensemble_colour(1)
        assert shown["colours"][0] == NO_ENSEMBLE
        at = browser.evaluate("sessionBrowser.roiClientPoint(5)")
        browser.send("Input.dispatchMouseEvent", type="mouseMoved", x=at["x"], y=at["y"])
        browser.click(at["x"], at["y"])
        browser.wait_for("sessionBrowser.state().neuron === 5", timeout_s=10)
        assert "selected: neuron 5" in browser.evaluate("sessionBrowser.roiMap()")["message"]
        browser.screenshot(tmp_path / "map.png")

        browser.evaluate("document.getElementById('tab-trials').click()")
        browser.wait_for("sessionBrowser.view === 'trials'")
        trials = browser.evaluate("sessionBrowser.trialState()")
        assert trials["neuron"] == 5
        mine = data.trials[data.trials.neuron == 5]
        for stimulus in trials["stimuli"]:
            rows = mine[mine.stimulus == stimulus["name"]]
            np.testing.assert_allclose(
                [r["response_dff"] for r in stimulus["rows"]], rows.response_dff, rtol=1e-6
            )
            np.testing.assert_allclose(
                [r["baseline_dff"] for r in stimulus["rows"]], rows.baseline_dff, rtol=1e-6
            )
            time_s, windows = peri_stimulus(detrended[5:6], rows.onset_s.to_numpy(), fs, (-1.0, 3.0))
            np.testing.assert_allclose(stimulus["time_s"], time_s, atol=1e-9)
            step = (detrended[5].max() - detrended[5].min()) / 65534
            np.testing.assert_allclose(stimulus["mean"], windows[0].mean(axis=0), atol=step)
        assert [s["name"] for s in trials["stimuli"]] == ["tone", "puff"]
        browser.screenshot(tmp_path / "trials.png")
        assert browser.errors() == []


def test_trial_amplitudes_that_would_crowd_out_the_traces_are_left_out_and_said_so():
    rng = np.random.default_rng(12)
    data = synthetic_session(rng, 8, 2000)
    n_presentations = 12_000  # 8 neurons x 12,000 x 8 bytes = 0.77 MB > a quarter of 2 MB
    data.trials = pd.DataFrame(
        {
            "neuron": np.repeat(np.arange(8), n_presentations),
            "stimulus": "tone",
            "trial": np.tile(np.arange(n_presentations), 8),
            "onset_s": np.tile(np.arange(n_presentations) * 0.01, 8),
            "response_dff": rng.normal(size=8 * n_presentations),
            "baseline_dff": 0.0,
        }
    )
    data.trial_window_s = (-1.0, 2.0)
    template, assets = page_assets()
    html, info = build_page(data, template, assets, max_bytes=2_000_000)
    manifest = json.loads(html.split('id="manifest">')[1].split("</script>")[0])
    parts = page_parts(html, "tables")
    assert "trial_response" not in parts and "per-trial amplitudes left out" in manifest["notes"]["trials"]
    presentations = json.loads(bytes(parts["tables"]))["trial_presentations"]
    assert len(presentations["trial"]) == n_presentations  # the trial view still draws the traces
    small, _ = build_page(data, template, assets, max_bytes=20_000_000)
    kept = page_parts(small, "tables")
    np.testing.assert_allclose(
        kept["trial_response"].reshape(8, n_presentations),
        data.trials.response_dff.to_numpy().reshape(8, -1),
        rtol=1e-6,
    )


def test_raw_traces_give_the_dff_stages_f0(tmp_path):
    """The page's F0 is the dff stage's: one value per neuron over the whole recording, or a
    sliding trace read a block of neurons at a time; input ΔF/F has none."""
    from calcium.outputs.browser_session import raw_traces
    from calcium.signal.dff import baseline_f0

    fluorescence = (100 + np.random.default_rng(3).gamma(2.0, 5.0, (7, 400))).astype(np.float32)
    fluorescence[2] += np.linspace(0, 50, 400, dtype=np.float32)  # a drift the sliding F0 follows
    path = tmp_path / "fluorescence.npy"
    np.save(path, fluorescence)
    traces, f0 = raw_traces(path, {"input_kind": "raw", "percentile": 10, "window_s": None}, 5.0)
    assert [t.key for t in traces] == ["raw"]
    np.testing.assert_array_equal(f0, baseline_f0(fluorescence, 10)[:, 0])
    traces, f0 = raw_traces(path, {"input_kind": "raw", "percentile": 10, "window_s": 20.0}, 5.0)
    assert f0 is None and [t.key for t in traces] == ["raw", "f0"]
    sliding = traces[1].rows[1:4]
    np.testing.assert_array_equal(sliding, baseline_f0(fluorescence[1:4], 10, 20.0, 5.0))
    assert sliding[1, -1] > sliding[1, 0] + 30  # follows the drift of neuron 2
    traces, f0 = raw_traces(path, {"input_kind": "dff", "percentile": 10, "window_s": None}, 5.0)
    assert f0 is None and [(t.key, t.unit) for t in traces] == [("raw", "ΔF/F")]


def test_a_session_with_trials_shows_each_trials_f0_and_its_gaps_as_breaks(tmp_path):
    """Cut into trials, the page's F0 is each trial's own (as the dff stage computes it), NaN in
    the gaps, whatever F0's window; the stages' arrays (0 in gaps) are read with the gaps blank."""
    from calcium.input.trial_structure import blank_gaps, frame_trials
    from calcium.io import NpyRows
    from calcium.outputs.browser_session import raw_traces
    from calcium.signal.dff import baseline_f0

    fluorescence = (100 + np.random.default_rng(4).gamma(2.0, 5.0, (3, 400))).astype(np.float32)
    fluorescence[:, 250:] += 80  # trial 1 brighter: its own F0
    path = tmp_path / "fluorescence.npy"
    np.save(path, fluorescence)
    bounds = np.array([[0, 200], [250, 400]])
    for window_s in (None, 10.0):
        traces, f0 = raw_traces(
            path, {"input_kind": "raw", "percentile": 10, "window_s": window_s}, 5.0, bounds
        )
        assert f0 is None and [t.key for t in traces] == ["raw", "f0"]
        shown = traces[1].rows[0:3]
        assert np.isnan(shown[:, 200:250]).all()
        for a, b in bounds:
            expected = np.broadcast_to(baseline_f0(fluorescence[:, a:b], 10, window_s, 5.0), (3, b - a))
            np.testing.assert_allclose(shown[:, a:b], expected, rtol=1e-6)
        assert shown[0, 300] > shown[0, 100] + 60
    dff = np.zeros((3, 400), dtype=np.float32)
    dff[:, :200], dff[:, 250:] = 0.5, -0.5
    np.save(tmp_path / "dff.npy", dff)
    gap = frame_trials(bounds, 400) < 0
    rows = NpyRows(tmp_path / "dff.npy", lambda block: blank_gaps(block, gap))[1:3]
    assert np.isnan(rows[:, 200:250]).all() and (rows[:, :200] == 0.5).all() and (rows[:, 250:] == -0.5).all()


TRIAL_BOUNDS = np.array([[0, 600], [700, 1200], [1200, 1900]])  # frames of a 2000-frame session


def trial_session(trials: bool):
    """A 100 s synthetic session (20 Hz) cut into three trials (TRIAL_BOUNDS): a 5 s gap at
    30-35 s, two trials read back to back (a boundary at 60 s, no gap) and a 5 s gap after the
    last (95-100 s); its traces NaN in the gaps, F0 each trial's own, as the workflow gives
    them; a stimulus with its regression. trials False: the same session continuous. No event
    in the gaps in either."""
    from calcium.input.trial_structure import blank_gaps, frame_trials, gap_spans_s
    from calcium.stimulus.trial_responses import trial_responses

    fs, n_frames = 20.0, 2000
    data = synthetic_session(np.random.default_rng(13), 6, n_frames, fs=fs)
    gap = frame_trials(TRIAL_BOUNDS, n_frames) < 0
    inside = ~(gap[data.events.onset_frame] | gap[data.events.end_frame])
    data.events = data.events[inside].reset_index(drop=True)
    data.spikes = data.spikes[~gap[data.spikes.frame]].reset_index(drop=True)
    onsets = np.array([10.0, 45.0, 58.5, 75.0])  # 58.5: the trial view's window crosses the boundary
    data.stimuli = pd.DataFrame({"stimulus": "tone", "onset_s": onsets, "offset_s": onsets + 1})
    data.regressors = {"tone": ((np.arange(n_frames) / fs % 35) < 3).astype(float)}
    data.regression = pd.DataFrame(
        {"neuron": np.arange(6), "intercept_dff": 0.1, "coef_tone": 0.5, "r2": 0.2}
    )
    data.coactivity = np.bincount(
        (data.events.onset_frame // fs).astype(int), minlength=int(n_frames / fs)
    ).astype(np.float32)
    data.coactivity_start_s = np.arange(data.coactivity.size, dtype=float)
    data.coactivity_bin_s = 1.0
    if trials:
        for trace in data.traces:
            trace.rows = blank_gaps(np.asarray(trace.rows), gap)
        data.f0 = None  # each trial's own F0: a trace, NaN in gaps (browser_session.raw_traces)
        f0 = np.where(gap, np.nan, np.where(np.arange(n_frames) < 700, 500.0, 520.0))
        data.traces.insert(1, DenseTrace("f0", "F0 (each trial's)", "F (a.u.)", np.tile(f0, (6, 1))))
        data.trial_gaps_s = gap_spans_s(TRIAL_BOUNDS, n_frames, fs, data.start_time_s)
        data.trial_bounds = TRIAL_BOUNDS
    detrended = np.asarray(next(t for t in data.traces if t.key == "detrended").rows)
    frame_trial = frame_trials(TRIAL_BOUNDS, n_frames) if trials else None
    data.trials = trial_responses(
        detrended, data.stimuli, fs, (0.0, 1.0), (-1.0, 0.0), frame_trial=frame_trial
    )
    data.trial_window_s = (-1.0, 3.0)
    return data


# The canvas pixels of a chart's plot down one column: (rows, 4) RGBA.
COLUMN = """((selector, k, x, top, height) => Array.from(document.querySelectorAll(selector)[k]
  .getContext('2d').getImageData(Math.round(x), Math.round(top), 1, Math.round(height)).data))"""


def column_greys(browser, selector, k, x, top, height):
    """Fraction of a column's pixels that are the gap band's (its fill and hatch greys), and
    that are darker greys (the boundary's dotted line)."""
    rgba = np.array(browser.evaluate(f"{COLUMN}({json.dumps(selector)}, {k}, {x}, {top}, {height})"))
    rgba = rgba.reshape(-1, 4).astype(float)
    alpha = rgba[:, 3:] / 255
    rgb = np.round(rgba[:, :3] * alpha + 255 * (1 - alpha))  # over the page's white
    grey = (rgb[:, 0] == rgb[:, 1]) & (rgb[:, 1] == rgb[:, 2])
    band = grey & (rgb[:, 0] >= 0xB0) & (rgb[:, 0] <= 0xF4)
    return band.mean(), (grey & (rgb[:, 0] < 0xC8)).mean()


def test_trial_gaps_and_boundaries_are_marked_on_every_time_axis(chromium_path, tmp_path):
    """As the figures (plot_style.mark_trial_gaps): the page stores gap_spans_s and draws a
    hatched grey band over each gap and a dotted line at the boundary on the traces, the raster
    and the coactivity, with a legend; a continuous session stores and draws none."""
    from calcium.input.trial_structure import frame_trials

    template, assets = page_assets()
    pages, data = {}, {}
    for trials in (True, False):
        data[trials] = trial_session(trials)
        html, _ = build_page(data[trials], template, assets)
        parts = page_parts(html, "tables")
        if trials:
            np.testing.assert_array_equal(parts["trial_gaps_s"], [30, 35, 60, 60, 95, 100])
        else:
            assert "trial_gaps_s" not in parts
        pages[trials] = tmp_path / f"trials_{trials}.html"
        pages[trials].write_text(html, encoding="utf-8")
    expected = [("gap", 30.0, 35.0), ("boundary", 60.0, 60.0), ("gap", 95.0, 100.0)]
    in_gap = frame_trials(TRIAL_BOUNDS, 2000) < 0
    with Chromium(chromium_path) as browser:
        found, greys = {}, {}
        for trials, page in pages.items():
            open_page(browser, page)
            browser.evaluate("sessionBrowser.showView('raster')")
            browser.evaluate("sessionBrowser.showView('traces')")
            marks = browser.evaluate("sessionBrowser.trialMarks()")
            state = browser.evaluate("sessionBrowser.state()")
            fit = series(state, "detrended", "regression fit")  # fitted within trials: none in gaps
            assert np.isnan(fit[in_gap]).all() == trials and np.isfinite(fit[~in_gap]).all()
            labels = [s["label"] for s in chart(state, "raw")["series"]]
            assert labels[1] == ("F0 (each trial's)" if trials else "F0 = 500")
            # the trial view: each window within its onset's trial only, as the figure draws it
            browser.evaluate("sessionBrowser.showView('trials')")
            (shown,) = browser.evaluate("sessionBrowser.trialState()")["stimuli"]
            drawn = np.array([[np.nan if v is None else v for v in row] for row in shown["trials"]])
            detrended = np.asarray(next(t for t in data[trials].traces if t.key == "detrended").rows)
            onsets = np.array([r["onset_s"] for r in shown["rows"]])
            _, windows = peri_stimulus(
                detrended[:1], onsets, 20.0, (-1.0, 3.0), frame_trials(TRIAL_BOUNDS, 2000) if trials else None
            )
            np.testing.assert_array_equal(np.isnan(drawn), np.isnan(windows[0]))
            assert np.isnan(drawn).any() == trials  # 58.5 s: the window reaches past the boundary
            browser.evaluate("sessionBrowser.showView('traces')")
            charts = [("#charts .uplot canvas", k, c["marks"]) for k, c in enumerate(marks["traces"])]
            charts += [("#raster-charts .uplot canvas", 0, marks["raster"])]
            charts += [("#raster-charts .uplot canvas", 1, marks["coactivity"])]
            assert len(charts) == 8  # raw, ΔF/F, detrended, denoised, calcium, spikes; raster; coactivity
            found[trials], greys[trials] = [], []
            for selector, k, drawn in charts:
                if not trials:
                    assert drawn == []
                    drawn = found[True][len(found[False])]  # the same places on the continuous page
                else:
                    assert [(m["kind"], m["start_s"], m["stop_s"]) for m in drawn] == expected
                    assert drawn[0]["x1"] - drawn[0]["x0"] > 10  # 5 s of a ~1000-pixel 100 s axis
                gap, boundary = drawn[0], drawn[1]
                band, _ = column_greys(
                    browser, selector, k, (gap["x0"] + gap["x1"]) / 2, gap["top"] + 2, gap["height"] * 0.8
                )
                line = max(  # a 1-pixel line at a fractional x: spread over the two columns
                    column_greys(browser, selector, k, x, boundary["top"], boundary["height"])[1]
                    for x in (np.floor(boundary["x0"]), np.floor(boundary["x0"]) + 1)
                )
                found[trials].append(drawn)
                greys[trials].append((band, line))
            legend = " ".join(marks["legend"])
            if trials:
                assert legend.count("gap between trials (2)") == 2 and legend.count("trial boundary (1)") == 2
                browser.screenshot(tmp_path / "trial_marks.png")
            else:
                assert marks["spans"] == [] and legend == ""
        # (the test's own pixel reads make Chromium suggest willReadFrequently)
        assert [e for e in browser.errors() if "willReadFrequently" not in e] == []
    # in every chart: the gap's column all band greys, the boundary's a dotted line (ticks and
    # traces crossing those columns are on both pages)
    for (band, line), (band_off, line_off) in zip(greys[True], greys[False], strict=True):
        assert band > 0.9 and band_off < 0.2, (band, band_off)
        assert line - line_off > 0.3, (line, line_off)
