#!/usr/bin/env python3
"""Size and opening time of the session browser for a large generated session.

    .venv/bin/python benchmarks/browser_size.py                          # 10,000 x 100,000 at 30 Hz
    .venv/bin/python benchmarks/browser_size.py --neurons 1000 --frames 50000

Builds the page with the library (calcium.outputs.browser.build_page) from seeded random arrays
generated block by block (Poisson spikes through a GCaMP-like AR(1) kernel plus noise; no
workflow run), with event and spike tables at the rates of the bundled example (2.3 events and
4 spikes per neuron per minute). Writes the page to --out and reports its size, the build time
and the peak memory; then, if Chromium is installed, opens it headless and reports the time
until the page is ready, to switch neuron, and to draw the raster.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.signal import lfilter

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "tests"))

from calcium.outputs.browser import DenseTrace, SessionData, build_page  # noqa: E402

ASSETS = REPO / "workflow" / "resources" / "browser"


class GeneratedRows:
    """(neurons, frames) rows made on demand, the same for the same rows (seeded per block)."""

    def __init__(self, source: BlockSource, key: str):
        self.source, self.key = source, key
        self.shape = (source.n_neurons, source.n_frames)

    def __getitem__(self, rows: slice) -> np.ndarray:
        return self.source.block(rows)[self.key]


class BlockSource:
    def __init__(self, n_neurons: int, n_frames: int, fs: float, seed: int):
        self.n_neurons, self.n_frames, self.fs, self.seed = n_neurons, n_frames, fs, seed
        self._cached: tuple[tuple[int, int], dict] | None = None

    def block(self, rows: slice) -> dict[str, np.ndarray]:
        start, stop, _ = rows.indices(self.n_neurons)
        if self._cached and self._cached[0] == (start, stop):
            return self._cached[1]
        rng = np.random.default_rng([self.seed, start])
        n, t = stop - start, self.n_frames
        spikes = (rng.random((n, t), dtype=np.float32) < 0.3 / self.fs).astype(np.float32)
        g = np.exp(-1 / (1.25 * self.fs))  # GCaMP6s decay 1.25 s
        calcium = lfilter([1.0], [1.0, -g], spikes, axis=1).astype(np.float32)
        noise = rng.normal(0, 0.1, (n, t)).astype(np.float32)
        drift = np.linspace(0, rng.uniform(-0.2, 0.2, (n, 1)), t, axis=1).astype(np.float32)[..., 0]
        dff = calcium + noise + drift
        f0 = rng.uniform(200, 2000, (n, 1)).astype(np.float32)
        out = {
            "raw": f0 * (1 + dff),
            "dff": dff,
            "detrended": dff - drift,
            "denoised": calcium + 0.3 * noise,
            "calcium": calcium,
            "spikes": spikes,
        }
        self._cached = ((start, stop), out)
        return out


def sparse_table(rng, n_neurons, n_frames, per_minute, fs):
    counts = rng.poisson(per_minute * n_frames / fs / 60, n_neurons)
    neuron = np.repeat(np.arange(n_neurons), counts)
    frame = rng.integers(0, n_frames - 10, neuron.size)
    return neuron, frame


def build(args) -> tuple[Path, dict]:
    rng = np.random.default_rng(args.seed)
    n, t, fs = args.neurons, args.frames, args.rate
    source = BlockSource(n, t, fs, args.seed)
    labels = {"raw": ("raw F", "F (a.u.)"), "dff": ("ΔF/F", "ΔF/F"), "detrended": ("detrended ΔF/F", "ΔF/F")}
    labels |= {"denoised": ("wavelet-denoised ΔF/F", "ΔF/F"), "calcium": ("OASIS calcium c", "ΔF/F")}
    labels |= {"spikes": ("OASIS spike amplitude s", "s (ΔF/F)")}
    traces = [DenseTrace(k, lab, unit, GeneratedRows(source, k)) for k, (lab, unit) in labels.items()]
    neuron, onset = sparse_table(rng, n, t, 2.3, fs)
    rise = rng.integers(1, int(0.3 * fs) + 2, neuron.size)
    events = pd.DataFrame(
        {
            "neuron": neuron,
            "onset_frame": onset,
            "peak_frame": onset + rise,
            "end_frame": np.minimum(onset + rise + rng.integers(2, int(3 * fs), neuron.size), t - 1),
            "amplitude_dff": rng.gamma(2, 0.5, neuron.size),
            "fwhm_s": rng.gamma(3, 0.4, neuron.size),
            "exceeds_max_fwhm": rng.random(neuron.size) < 0.02,
        }
    )
    spike_neuron, spike_frame = sparse_table(rng, n, t, 4.0, fs)
    features = pd.DataFrame({"neuron": np.arange(n), "event_count": np.bincount(neuron, minlength=n)})
    for column in (
        "event_rate_per_min",
        "mean_amplitude_dff",
        "mean_fwhm_s",
        "iei_cv",
        "population_coupling",
    ):
        features[column] = rng.random(n)
    bins = int(t / fs / 0.5)
    data = SessionData(
        session=f"generated_{n}x{t}",
        frame_rate_hz=fs,
        start_time_s=0.0,
        traces=traces,
        labels=[f"roi_{i}" for i in range(n)],
        spikes=pd.DataFrame({"neuron": spike_neuron, "frame": spike_frame}),
        events=events,
        f0=rng.uniform(200, 2000, n),
        neuron_tables={"features": features},
        roles={
            "events": "detrended",
            "stimulus": "detrended",
            "deconvolution": "detrended",
            "event_time": "onset",
        },
        coactivity=rng.poisson(3, bins),
        coactivity_start_s=np.arange(bins) * 0.5,
        coactivity_bin_s=0.5,
        coactivity_threshold=12.0,
    )
    read = lambda name: (ASSETS / name).read_text(encoding="utf-8")  # noqa: E731
    assets = {
        "style": read("uPlot.min.css") + read("browser.css"),
        "script": read("uPlot.iife.min.js") + "\n" + read("browser.js"),
    }
    began = time.perf_counter()
    html, info = build_page(data, read("page.html"), assets, max_bytes=int(args.max_mb * 1e6))
    build_s = time.perf_counter() - began
    path = args.out / f"browser_{n}x{t}.html"
    path.write_text(html, encoding="utf-8")
    res = info["resolution"]
    facts = {
        "neurons": n,
        "frames": t,
        "frame_rate_hz": fs,
        "events": int(len(events)),
        "spikes": int(spike_neuron.size),
        "page_mb": round(path.stat().st_size / 1e6, 2),
        "tables_mb": round(info["tables_page_bytes"] / 1e6, 2),
        "traces_mb": round(info["traces_page_bytes"] / 1e6, 2),
        "traces_raw_mb": round(info["traces_raw_bytes"] / 1e6, 2),
        "frames_per_column": res.frames_per_column,
        "columns": res.n_slots // 2 if res.frames_per_column > 1 else None,
        "dtype": res.dtype,
        "build_s": round(build_s, 1),
        "build_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    return path, facts


def open_in_chromium(path: Path) -> dict:
    from cdp import Chromium, find_chromium

    executable = find_chromium()
    if executable is None:
        return {"chromium": "not installed"}
    with Chromium(executable, width=1600, height=1200, timeout_s=300) as browser:
        began = time.perf_counter()
        browser.open(path.resolve().as_uri())
        browser.wait_for("window.sessionBrowser && (sessionBrowser.ready || sessionBrowser.error)", 300, 0.02)
        ready_s = time.perf_counter() - began
        error = browser.evaluate("sessionBrowser.error")
        load_ms = browser.evaluate("sessionBrowser.load_ms")
        switch_ms = browser.evaluate(
            "(() => { const t = performance.now(); sessionBrowser.selectNeuron(4321);"
            " return performance.now() - t; })()"
        )
        browser.evaluate("sessionBrowser.showView('raster')")
        raster_ms = browser.wait_for("sessionBrowser.raster_draw_ms", 60, 0.02)
        browser.screenshot(path.with_suffix(".raster.png"), full_page=False)
        browser.evaluate("sessionBrowser.showView('traces')")
        browser.screenshot(path.with_suffix(".traces.png"), full_page=False)
        heap = browser.evaluate("performance.memory ? performance.memory.usedJSHeapSize / 1e6 : null")
        return {
            "open_until_ready_s": round(ready_s, 2),
            "decode_and_first_draw_ms": round(load_ms),
            "switch_neuron_ms": round(switch_ms),
            "raster_draw_ms": round(raster_ms),
            "js_heap_mb": round(heap) if heap else None,
            "errors": browser.errors() + ([error] if error else []),
        }


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--neurons", type=int, default=10_000)
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=30.0, help="frame rate (Hz)")
    parser.add_argument("--max-mb", type=float, default=95.0, help="browser.max_mb")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out-browser")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    path, facts = build(args)
    print(json.dumps(facts, indent=1), flush=True)
    facts |= open_in_chromium(path)
    print(json.dumps(facts, indent=1))
    (args.out / f"browser_{args.neurons}x{args.frames}.json").write_text(json.dumps(facts, indent=1) + "\n")


if __name__ == "__main__":
    main()
