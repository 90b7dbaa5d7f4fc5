/* Session browser: decodes the page's inline data and draws it with uPlot.
 *
 * Data: a JSON manifest and two base64 payloads (zlib-deflated buffers of typed arrays and JSON,
 * written by scripts/calcium/outputs/browser.py). Charts: uPlot (vendored, MIT). The only drawing done
 * here by hand is annotation inside uPlot's draw hooks (stimulus bands, event spans, the marks of
 * the gaps between a session's trials, and the raster's bitmap of event ticks, which stays fast for
 * millions of events).
 *
 * Test hook: window.sessionBrowser (ready, error, selectNeuron, showView, state(), trialMarks()).
 */
"use strict";
(function () {
  const M = JSON.parse(document.getElementById("manifest").textContent);
  const TYPES = {
    uint8: Uint8Array, int8: Int8Array, uint16: Uint16Array, int16: Int16Array,
    uint32: Uint32Array, int32: Int32Array, float32: Float32Array, float64: Float64Array,
  };
  // One palette with the figures (scripts/calcium/outputs/palette.py, in the manifest).
  const STIMULUS_COLOURS = M.palette.stimuli;
  const ENSEMBLE_COLOURS = M.palette.ensembles;
  const api = { ready: false, error: null };
  window.sessionBrowser = api;

  const $ = (id) => document.getElementById(id);
  const fs = M.frame_rate_hz;
  const t0 = M.start_time_s;
  const N = M.n_neurons;
  const R = M.resolution;
  const frameTime = (f) => t0 + f / fs;

  function fail(error) {
    api.error = String(error && error.stack ? error.stack : error);
    const status = $("status");
    status.textContent = "The browser could not start: " + (error && error.message ? error.message : error);
    status.className = "status error";
    console.error(error);
  }

  async function inflate(text) {
    text = text.trim();
    let bytes;
    if (typeof Uint8Array.fromBase64 === "function") {
      bytes = Uint8Array.fromBase64(text);
    } else {
      const binary = atob(text);
      bytes = new Uint8Array(binary.length);
      for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    }
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
    return await new Response(stream).arrayBuffer();
  }

  function unpack(buffer, index) {
    const out = {};
    for (const [name, e] of Object.entries(index)) {
      if (e.dtype === "bytes") {
        out[name] = new TextDecoder().decode(new Uint8Array(buffer, e.offset, e.nbytes));
      } else {
        const T = TYPES[e.dtype];
        out[name] = new T(buffer, e.offset, e.nbytes / T.BYTES_PER_ELEMENT);
      }
    }
    return out;
  }

  /* Per-neuron frame lists stored as counts + deltas: start offsets and absolute frames. */
  function frameLists(counts, deltas) {
    const start = new Int32Array(counts.length + 1);
    for (let i = 0; i < counts.length; i++) start[i + 1] = start[i] + counts[i];
    const frames = new Int32Array(deltas.length);
    for (let i = 0; i < counts.length; i++) {
      let f = 0;
      for (let j = start[i]; j < start[i + 1]; j++) {
        f = j === start[i] ? deltas[j] : f + deltas[j];
        frames[j] = f;
      }
    }
    return { start, frames };
  }

  function columnOf(table, name) {
    if (!table) return null;
    const j = table.columns.indexOf(name);
    return j < 0 ? null : table.data[j];
  }

  function fmt(value) {
    if (value === null || value === undefined) return "–";
    if (typeof value === "boolean") return value ? "yes" : "no";
    if (typeof value === "number") {
      if (Number.isInteger(value)) return String(value);
      const a = Math.abs(value);
      return a !== 0 && (a < 1e-3 || a >= 1e5) ? value.toExponential(3) : value.toPrecision(4).replace(/\.?0+$/, "");
    }
    return String(value);
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // ---------------------------------------------------------------- data
  const D = {};

  async function load() {
    const [tablesBuffer, tracesBuffer] = await Promise.all([
      inflate($("data-tables").textContent),
      inflate($("data-traces").textContent),
    ]);
    $("data-tables").textContent = "";
    $("data-traces").textContent = "";
    const P = unpack(tablesBuffer, M.groups.tables);
    D.traces = unpack(tracesBuffer, M.groups.traces);
    D.tables = JSON.parse(P.tables);
    D.labels = D.tables.labels;
    D.spikes = frameLists(P.spike_counts, P.spike_frames);
    const ev = frameLists(P.event_counts, P.event_onset);
    D.events = {
      start: ev.start, onset: ev.frames, rise: P.event_rise, fall: P.event_fall,
      amplitude: P.event_amplitude_dff, fwhm: P.event_fwhm_s, flags: P.event_flags,
    };
    D.f0 = P.f0 || null;
    D.trialSpans = trialSpans(P.trial_gaps_s || null);
    D.coactivity = P.coactivity || null;
    D.coactivityStart = P.coactivity_start_s || null;
    D.coactivityThresholds = P.coactivity_thresholds || null;
    D.coactivityP = P.coactivity_p || null;
    D.nullFraction = P.null_fraction || null;
    D.roiLabel = P.roi_label || null;
    D.meanImage = P.mean_image || null;
    D.trialResponse = P.trial_response || null;
    D.trialBaseline = P.trial_baseline || null;
    D.orders = {};
    for (const name of Object.keys(D.tables.raster_orders || {})) if (P["order_" + name]) D.orders[name] = P["order_" + name];
    D.x = slotTimes();
    D.stimuli = stimulusBands();
    D.members = membership();
  }

  /* Times (s) at which the stored values are drawn (see calcium.outputs.browser.slot_frames). */
  function slotTimes() {
    const k = R.frames_per_column, T = M.n_frames;
    const x = new Float64Array(R.n_slots);
    if (k === 1) {
      for (let j = 0; j < T; j++) x[j] = frameTime(j);
    } else {
      for (let c = 0, a = 0; a < T; c++, a += k) {
        const m = Math.min(k, T - a);
        x[2 * c] = frameTime(a + (m - 1) / 4);
        x[2 * c + 1] = frameTime(a + (3 * (m - 1)) / 4);
      }
    }
    return x;
  }

  /* Decoded values of trace `key` of neuron i (null where missing). */
  function traceValues(key, i) {
    const codes = D.traces["trace_" + key];
    const offset = D.traces["trace_" + key + "_offset"][i];
    const scale = D.traces["trace_" + key + "_scale"][i];
    const S = R.n_slots;
    const out = new Array(S);
    for (let j = 0, b = i * S; j < S; j++) {
      const c = codes[b + j];
      out[j] = c === R.missing ? null : offset + scale * c;
    }
    return out;
  }

  /* Slot where a marker for frame f goes: the frame itself, or in an envelope the higher
   * (peaks, spikes) or lower (onsets, ends) of the two values of its column. */
  function slotOf(f, values, high) {
    if (R.frames_per_column === 1) return f;
    const s = 2 * Math.floor(f / R.frames_per_column);
    const a = values[s], b = values[s + 1];
    if (a === null) return s + 1;
    if (b === null) return s;
    return (high ? b > a : b < a) ? s + 1 : s;
  }

  /* A session cut into trials (docs/trials.md): its gaps between trials and its boundaries with no
   * gap, as the page stores them (calcium.input.trial_structure.gap_spans_s: [start, stop) s;
   * start == stop at a boundary). A continuous session stores none: nothing is drawn. */
  function trialSpans(flat) {
    const out = [];
    if (!flat) return out;
    for (let k = 0; k + 1 < flat.length; k += 2) {
      out.push({ kind: flat[k + 1] > flat[k] ? "gap" : "boundary", start_s: flat[k], stop_s: flat[k + 1] });
    }
    return out;
  }

  /* The marks as the figures draw them (calcium.outputs.plot_style.mark_trial_gaps): a light grey
   * hatched band over each gap, a thin grey dotted line at each boundary, the plot's full height,
   * behind the data (uPlot's drawClear hook: before grid and series). Each chart keeps what it
   * drew (u.trialMarks: canvas pixels) for the test hook. */
  const GAP_FILL = "#f0f0f0", GAP_HATCH = "#b8b8b8", BOUNDARY_COLOUR = "#666666";
  const hatches = new Map(); // pixel ratio -> pattern tile

  function hatchTile(dpr) {
    if (!hatches.has(dpr)) {
      const n = Math.max(4, Math.round(8 * dpr)), tile = document.createElement("canvas");
      tile.width = n; tile.height = n;
      const c = tile.getContext("2d");
      c.fillStyle = GAP_FILL; c.fillRect(0, 0, n, n);
      c.strokeStyle = GAP_HATCH; c.lineWidth = dpr;
      c.beginPath();  // "///": up to the right, continued across the tile's corners
      for (const d of [-n, 0, n]) { c.moveTo(d, n); c.lineTo(d + n, 0); }
      c.stroke();
      hatches.set(dpr, tile);
    }
    return hatches.get(dpr);
  }

  function drawTrialMarks(u) {
    const drawn = [];
    u.trialMarks = drawn;
    if (!D.trialSpans.length) return;
    const ctx = u.ctx, { left, top, width, height } = u.bbox, dpr = uPlot.pxRatio || 1;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, width, height);
    ctx.clip();
    const pattern = ctx.createPattern(hatchTile(dpr), "repeat");
    for (const s of D.trialSpans) {
      const x0 = u.valToPos(s.start_s, "x", true), x1 = u.valToPos(s.stop_s, "x", true);
      if (x1 < left || x0 > left + width) continue;
      if (s.kind === "gap") {
        ctx.fillStyle = pattern;
        ctx.fillRect(x0, top, Math.max(1, x1 - x0), height);
      } else {
        ctx.strokeStyle = BOUNDARY_COLOUR; ctx.lineWidth = Math.max(1, dpr);
        ctx.setLineDash([2 * dpr, 2 * dpr]);
        ctx.beginPath(); ctx.moveTo(x0, top); ctx.lineTo(x0, top + height); ctx.stroke();
        ctx.setLineDash([]);
      }
      drawn.push({ kind: s.kind, start_s: s.start_s, stop_s: s.stop_s, x0, x1, top, height });
    }
    ctx.restore();
  }

  /* What the legends say about the marks (nothing in a continuous session). */
  function trialLegend(node) {
    const gaps = D.trialSpans.filter((s) => s.kind === "gap").length, bounds = D.trialSpans.length - gaps;
    if (!D.trialSpans.length) return;
    const line = el("div", { class: "trial-legend" });
    if (gaps) {
      line.append(el("span", { class: "swatch gap-swatch" }),
        "gap between trials (" + gaps + "): outside every trial, not analysed (the analysed traces break there)");
    }
    if (bounds) {
      line.append(el("span", { class: "swatch boundary-swatch" }),
        "trial boundary (" + bounds + "): two trials with no frame between them");
    }
    node.append(line);
  }

  function stimulusBands() {
    const table = D.tables.stimuli;
    if (!table) return { bands: [], colours: {} };
    const names = columnOf(table, "stimulus"), on = columnOf(table, "onset_s"), off = columnOf(table, "offset_s");
    const colours = {};
    const bands = [];
    for (let r = 0; r < names.length; r++) {
      if (!(names[r] in colours)) colours[names[r]] = STIMULUS_COLOURS[Object.keys(colours).length % STIMULUS_COLOURS.length];
      bands.push({ name: names[r], start: on[r], end: off[r], colour: colours[names[r]] });
    }
    return { bands, colours };
  }

  function membership() {
    const table = D.tables.ensemble_members;
    const ofNeuron = new Map(); // neuron -> [{ensemble, participation, member}]
    if (!table) return ofNeuron;
    const ens = columnOf(table, "ensemble"), neu = columnOf(table, "neuron");
    const part = columnOf(table, "participation"), mem = columnOf(table, "member");
    for (let r = 0; r < ens.length; r++) {
      if (!ofNeuron.has(neu[r])) ofNeuron.set(neu[r], []);
      ofNeuron.get(neu[r]).push({ ensemble: ens[r], participation: part ? part[r] : null, member: mem ? !!mem[r] : true });
    }
    return ofNeuron;
  }

  function neuronEvents(i) {
    const E = D.events, out = [];
    for (let j = E.start[i]; j < E.start[i + 1]; j++) {
      const onset = E.onset[j], peak = onset + E.rise[j], end = peak + E.fall[j];
      out.push({ onset, peak, end, amplitude: E.amplitude[j], fwhm: E.fwhm[j], flags: E.flags[j] });
    }
    return out;
  }

  function neuronSpikes(i) {
    return Array.from(D.spikes.frames.subarray(D.spikes.start[i], D.spikes.start[i + 1]));
  }

  function tableRow(name, i) {
    const table = D.tables.neuron_tables[name];
    if (!table) return null;
    const row = {};
    table.columns.forEach((c, j) => { row[c] = table.data[j][i]; });
    return row;
  }

  // ---------------------------------------------------------------- traces view
  const charts = []; // {u, title}
  let current = 0;
  let xRange = null; // shared zoom [min, max] or null
  let syncing = false;

  function traceMeta(key) { return M.traces.find((t) => t.key === key) || null; }

  function bandsHook(extra) {
    return (u) => {
      const ctx = u.ctx, { top, height } = u.bbox;
      ctx.save();
      ctx.beginPath();
      ctx.rect(u.bbox.left, top, u.bbox.width, height);
      ctx.clip();
      for (const b of D.stimuli.bands) {
        const x0 = u.valToPos(b.start, "x", true), x1 = u.valToPos(b.end, "x", true);
        ctx.fillStyle = b.colour + "33";
        ctx.fillRect(x0, top, Math.max(1, x1 - x0), height);
      }
      if (extra) extra(u, ctx);
      ctx.restore();
    };
  }

  function eventSpans(events) {
    return (u, ctx) => {
      const { top, height } = u.bbox;
      for (const e of events) {
        const x0 = u.valToPos(frameTime(e.onset), "x", true), x1 = u.valToPos(frameTime(e.end), "x", true);
        ctx.fillStyle = e.flags & M.flags.exceeds_max_fwhm ? "rgba(230,120,0,0.16)"
          : e.flags & M.flags.below_min_fwhm ? "rgba(123,31,162,0.16)" : "rgba(200,30,30,0.08)";
        ctx.fillRect(x0, top, Math.max(1, x1 - x0), height);
      }
    };
  }

  /* Spike-time markers at their own times (not on the frame grid the series share). */
  function spikeMarks(marks) {
    return (u, ctx) => {
      const legend = u.series.find((x) => String(x.label).startsWith("spike times"));
      if (legend && !legend.show) return;  // hidden from the legend
      ctx.fillStyle = "#9467bd";
      for (let k = 0; k < marks.time.length; k++) {
        if (marks.value[k] === null || marks.value[k] === undefined) continue;
        const x = u.valToPos(marks.time[k], "x", true), y = u.valToPos(marks.value[k], "y", true);
        ctx.beginPath();
        ctx.arc(x, y, 3 * (window.devicePixelRatio || 1), 0, 2 * Math.PI);
        ctx.fill();
      }
    };
  }

  function markerSeries(label, colour, size, hollow) {
    return {
      label, stroke: colour, fill: hollow ? "#fff" : colour, width: 0, paths: () => null,
      points: { show: true, size, width: hollow ? 2 : 1, stroke: colour, fill: hollow ? "#fff" : colour },
    };
  }

  function lineSeries(label, colour, width, dash) {
    const s = { label, stroke: colour, width: width || 1, points: { show: false } };
    if (dash) s.dash = dash;
    return s;
  }

  /* The panels of neuron i: [{title, unit, series: [uPlot series], values: [arrays], extra}]. */
  function panelsFor(i) {
    const panels = [];
    const roles = M.roles || {};
    const events = neuronEvents(i);
    const regression = tableRow("regression", i);
    const deconv = tableRow("deconvolution", i);
    for (const meta of M.traces) {
      const key = meta.key;
      if (key === "f0" || key === "calcium" || key === "spikes") continue;
      const values = traceValues(key, i);
      const panel = { key, title: meta.label, unit: meta.unit, series: [lineSeries(meta.label, "#333", 1)], values: [values], extra: null };
      if (key === "raw" && (D.f0 || traceMeta("f0"))) {
        const f0 = D.f0 ? new Array(R.n_slots).fill(D.f0[i]) : traceValues("f0", i);
        panel.series.push(lineSeries(D.f0 ? "F0 = " + fmt(D.f0[i]) : traceMeta("f0").label, "#e15759", 2, [6, 4]));
        panel.values.push(f0);
      }
      if (key === roles.stimulus && regression && M.regressors.length) {
        const fit = new Array(R.n_slots).fill(regression.intercept_dff || 0);
        for (const name of M.regressors) {
          const coef = regression["coef_" + name];
          const r = D.traces["regressor_" + name];
          if (coef === null || coef === undefined || !r) continue;
          for (let j = 0; j < fit.length; j++) fit[j] += coef * r[j];
        }
        for (let j = 0; j < fit.length; j++) if (values[j] === null) fit[j] = null;  // no fit where the trace is blank (gaps)
        panel.series.push(lineSeries("regression fit (R² " + fmt(regression.r2) + ")", "#1f77b4", 2));
        panel.values.push(fit);
        panel.title += ", stimulus regression fit";
      }
      if (key === roles.events) {
        const marks = {
          onset: new Array(R.n_slots).fill(null), peak: new Array(R.n_slots).fill(null),
          wide: new Array(R.n_slots).fill(null), narrow: new Array(R.n_slots).fill(null), end: new Array(R.n_slots).fill(null),
        };
        for (const e of events) {
          let s = slotOf(e.onset, values, false); marks.onset[s] = values[s];
          s = slotOf(e.end, values, false); marks.end[s] = values[s];
          s = slotOf(e.peak, values, true);
          const kind = e.flags & M.flags.exceeds_max_fwhm ? "wide" : e.flags & M.flags.below_min_fwhm ? "narrow" : "peak";
          marks[kind][s] = values[s];
        }
        panel.series.push(markerSeries("event onset", "#2ca02c", 6, false));
        panel.values.push(marks.onset);
        panel.series.push(markerSeries("event peak", "#d62728", 7, false));
        panel.values.push(marks.peak);
        panel.series.push(markerSeries("peak, too wide (FWHM > max)", "#e67e00", 9, true));
        panel.values.push(marks.wide);
        if (M.has_below_min_fwhm) {
          panel.series.push(markerSeries("peak, too narrow (FWHM < min)", "#7b1fa2", 9, true));
          panel.values.push(marks.narrow);
        }
        panel.series.push(markerSeries("event end", "#7f7f7f", 6, false));
        panel.values.push(marks.end);
        panel.extra = eventSpans(events);
        panel.title += ", calcium events (" + events.length + ")";
      }
      panels.push(panel);
    }
    if (traceMeta("calcium")) {
      const inputKey = roles.deconvolution;
      const baseline = deconv && deconv.baseline_dff !== null && deconv.baseline_dff !== undefined ? deconv.baseline_dff : 0;
      const panel = { key: "calcium", title: "OASIS calcium c on its input", unit: "ΔF/F", series: [], values: [], extra: null };
      if (inputKey && traceMeta(inputKey)) {
        const input = traceValues(inputKey, i).map((v) => (v === null ? null : v - baseline));
        panel.series.push(lineSeries(traceMeta(inputKey).label + " − baseline b (" + fmt(baseline) + ")", "#9e9e9e", 1));
        panel.values.push(input);
      }
      panel.series.push(lineSeries("calcium c", "#d62728", 1.5));
      panel.values.push(traceValues("calcium", i));
      panels.push(panel);
    }
    if (traceMeta("spikes")) {
      const s = traceValues("spikes", i);
      const spikes = neuronSpikes(i);
      // Spike times as the tables give them (spike_times.csv time_s, the NWB file's InferredSpikes):
      // the frame's time moved the neuron's timing correction lag_s earlier (deconvolution.tsv),
      // each marked at the height of its frame's amplitude as drawn (its column's top).
      const lag = Number((tableRow("deconvolution", i) || {}).lag_s) || 0;
      const marks = { time: spikes.map((f) => frameTime(f) - lag), value: spikes.map((f) => s[slotOf(f, s, true)]), lag };
      const label = "spike times (" + spikes.length + (lag ? "; lag_s " + fmt(lag) + " s before their frame)" : ")");
      // The markers are drawn by the draw hook at the tables' times; their series is the legend entry
      // only. With s hidden the y scale spans the markers (it had no data left).
      const markerLegend = markerSeries(label, "#9467bd", 6, false);
      markerLegend.points = { ...markerLegend.points, show: false };
      let low = 0, high = -Infinity;  // a loop: spreading 10^5 spikes as arguments overflows the stack
      for (const v of marks.value) if (v !== null && v !== undefined) { low = Math.min(low, v); high = Math.max(high, v); }
      const yRange = high > -Infinity ? [low, high] : [0, 1];
      panels.push({
        key: "spikes", title: "OASIS spike amplitudes s and spike times", unit: "s (ΔF/F)",
        series: [
          { label: "spike amplitude s", stroke: "#555", fill: "#555", width: 1, paths: uPlot.paths.bars({ size: [0.9, 6, 1] }), points: { show: false } },
          markerLegend,
        ],
        values: [s, new Array(R.n_slots).fill(null)], extra: spikeMarks(marks), marks, yRange,
      });
    }
    return panels;
  }

  function chartWidth(container) { return Math.max(400, container.clientWidth - 4); }

  /* A y range that falls back to the panel's own (its markers') when its first series is hidden. */
  function yRangeOf(panel) {
    return (u, min, max) => {
      const shown = u.series[1] && u.series[1].show && min !== null && max !== null;
      return shown ? uPlot.rangeNum(min, max, 0.1, true) : uPlot.rangeNum(panel.yRange[0], panel.yRange[1], 0.1, true);
    };
  }

  function makeTraceChart(panel, width, height) {
    const box = el("div", { class: "panel" }, el("div", { class: "panel-title" }, panel.title));
    $("charts").append(box);
    const opts = {
      width, height,
      scales: { x: { time: false }, ...(panel.yRange ? { y: { range: yRangeOf(panel) } } : {}) },
      series: [{ label: "time (s)", value: (u, v) => (v === null ? "–" : v.toFixed(2)) }, ...panel.series],
      axes: [
        { label: "time (s)", labelSize: 16, size: 32 },
        { label: panel.unit, labelSize: 18, size: 56 },
      ],
      cursor: { sync: { key: "traces", setSeries: false }, drag: { x: true, y: false } },
      legend: { show: true, live: true },
      hooks: {
        drawClear: [drawTrialMarks],
        draw: [bandsHook(panel.extra)],
        setScale: [(u, key) => {
          if (key !== "x" || syncing) return;
          const full = u.scales.x.min <= D.x[0] && u.scales.x.max >= D.x[D.x.length - 1];
          xRange = full ? null : [u.scales.x.min, u.scales.x.max];
          syncing = true;
          for (const c of charts) if (c.u !== u) c.u.setScale("x", { min: u.scales.x.min, max: u.scales.x.max });
          syncing = false;
        }],
      },
    };
    const u = new uPlot(opts, [D.x, ...panel.values], box);
    charts.push({ u, panel });
  }

  function drawNeuron(i) {
    for (const c of charts) c.u.destroy();
    charts.length = 0;
    $("charts").innerHTML = "";
    const panels = panelsFor(i);
    const width = chartWidth($("charts"));
    const height = Math.max(120, Math.min(190, Math.floor((window.innerHeight - 230) / Math.min(panels.length, 4))));
    syncing = true;
    for (const panel of panels) makeTraceChart(panel, width, height);
    if (xRange) for (const c of charts) c.u.setScale("x", { min: xRange[0], max: xRange[1] });
    syncing = false;
  }

  function setZoom(min, max) {
    xRange = [min, max];
    syncing = true;
    for (const c of charts) c.u.setScale("x", { min, max });
    syncing = false;
  }

  function resetZoom() {
    xRange = null;
    setZoom(D.x[0], D.x[D.x.length - 1]);
    xRange = null;
  }

  function keyValueTable(row, skip) {
    const body = el("tbody");
    for (const [k, v] of Object.entries(row)) {
      if (skip && skip.includes(k)) continue;
      body.append(el("tr", {}, el("td", {}, k), el("td", { class: "num" }, fmt(v))));
    }
    return el("table", {}, body);
  }

  function neuronLink(n) {
    return el("a", { class: "neuron-link", title: "label " + D.labels[n], onclick: () => { showView("traces"); selectNeuron(n); } }, String(n));
  }

  function drawSide(i) {
    const side = $("side");
    side.innerHTML = "";
    side.append(el("h2", {}, "Neuron " + i + (D.labels[i] !== String(i) ? " · " + D.labels[i] : "")));
    const titles = { features: "Event features", regression: "Stimulus regression", thresholds: "Event detection", deconvolution: "OASIS deconvolution" };
    for (const name of Object.keys(D.tables.neuron_tables)) {
      const row = tableRow(name, i);
      if (!row) continue;
      side.append(el("h3", {}, titles[name] || name), keyValueTable(row, ["neuron"]));
    }
    const memberships = (D.members.get(i) || []).filter((m) => m.member);
    side.append(el("h3", {}, "Ensembles"));
    side.append(el("div", {}, memberships.length
      ? memberships.map((m) => "ensemble " + m.ensemble + " (participation " + fmt(m.participation) + ")").join("; ")
      : "member of no ensemble"));
    const events = neuronEvents(i);
    side.append(el("h3", {}, "Events (" + events.length + "; click one to zoom to it)"));
    const head = el("tr", {}, ...["#", "onset (s)", "peak (s)", "end (s)", "amp. (ΔF/F)", "FWHM (s)", "flag"].map((h) => el("th", { class: "num" }, h)));
    const body = el("tbody");
    events.forEach((e, j) => {
      const wide = e.flags & M.flags.exceeds_max_fwhm, narrow = e.flags & M.flags.below_min_fwhm;
      const cls = "clickable" + (wide ? " flag-wide" : narrow ? " flag-narrow" : "");
      body.append(el("tr", { class: cls, onclick: () => {
        const a = frameTime(e.onset), b = frameTime(e.end), pad = Math.max(5, (b - a) * 2);
        setZoom(a - pad, b + pad);
      } },
      el("td", { class: "num" }, j), el("td", { class: "num" }, frameTime(e.onset).toFixed(2)),
      el("td", { class: "num" }, frameTime(e.peak).toFixed(2)), el("td", { class: "num" }, frameTime(e.end).toFixed(2)),
      el("td", { class: "num" }, fmt(e.amplitude)), el("td", { class: "num" }, fmt(e.fwhm)),
      el("td", {}, wide ? "too wide" : narrow ? "too narrow" : "")));
    });
    side.append(el("table", {}, el("thead", {}, head), body));
  }

  function selectNeuron(i) {
    i = Math.max(0, Math.min(N - 1, Math.round(Number(i))));
    if (!Number.isFinite(i)) return;
    current = i;
    $("neuron-number").value = i;
    $("neuron-slider").value = i;
    drawNeuron(i);
    drawSide(i);
    $("trial-neuron").value = i;
    if (api.view === "trials") drawTrials(i);
    if (api.view === "map") drawMap();
    if (history.replaceState) history.replaceState(null, "", "#neuron=" + i);
  }

  function searchLabel(text) {
    text = text.trim();
    const out = $("search-result");
    if (!text) { out.textContent = ""; return; }
    let hit = D.labels.indexOf(text);
    if (hit < 0) {
      const lower = text.toLowerCase();
      hit = D.labels.findIndex((l) => l.toLowerCase().includes(lower));
    }
    if (hit < 0) { out.textContent = "no neuron labelled “" + text + "”"; return; }
    out.textContent = "→ neuron " + hit + " (" + D.labels[hit] + ")";
    selectNeuron(hit);
  }

  // ---------------------------------------------------------------- raster view
  const raster = { u: null, co: null, order: "neuron", rowOf: null, neuronAt: null, colours: null, ticks: null };

  /* Separators between an order's groups and each group's label at its centre row. */
  function drawGroups(u, ymin, ymax) {
    const groups = ((D.tables.raster_orders || {})[raster.order]) || [];
    if (!groups.length) return;
    const ctx = u.ctx, { left, width } = u.bbox, dpr = uPlot.pxRatio || 1;
    ctx.save();
    ctx.strokeStyle = "#555"; ctx.lineWidth = 1 * dpr;
    ctx.font = (11 * dpr) + "px sans-serif"; ctx.textBaseline = "middle";
    for (const g of groups) {
      if (g.first > 0 && g.first - 0.5 >= ymin && g.first - 0.5 <= ymax) {
        const y = u.valToPos(g.first - 0.5, "y", true);
        ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(left + width, y); ctx.stroke();
      }
      const centre = g.first + (g.count - 1) / 2;
      if (centre < ymin || centre > ymax) continue;
      const y = u.valToPos(centre, "y", true);
      const text = g.label + " (" + g.count + ")";
      const tw = ctx.measureText(text).width;
      ctx.fillStyle = "rgba(255,255,255,0.85)";
      ctx.fillRect(left + width - tw - 8 * dpr, y - 8 * dpr, tw + 6 * dpr, 16 * dpr);
      ctx.fillStyle = "#222";
      ctx.fillText(text, left + width - tw - 5 * dpr, y);
    }
    ctx.restore();
  }

  const ORDER_AXIS = {
    neuron: "neuron (index)", ensemble: "neuron (grouped by ensemble)",
    embedding: "neuron (correlation order)", response: "neuron (by response type)",
  };

  function rasterOrder(kind) {
    const stored = D.orders[kind];
    if (stored) {
      raster.neuronAt = Array.from(stored);
      raster.rowOf = new Int32Array(N);
      raster.neuronAt.forEach((n, r) => { raster.rowOf[n] = r; });
      return;
    }
    const rank = new Float64Array(N);
    for (let n = 0; n < N; n++) rank[n] = n;
    if (kind === "ensemble") {
      for (let n = 0; n < N; n++) {
        const m = (D.members.get(n) || []).filter((x) => x.member);
        rank[n] = m.length ? Math.min(...m.map((x) => x.ensemble)) * N + n : 1e12 + n;
      }
    }
    const neuronAt = Array.from({ length: N }, (_, n) => n).sort((a, b) => rank[a] - rank[b]);
    const rowOf = new Int32Array(N);
    neuronAt.forEach((n, r) => { rowOf[n] = r; });
    raster.neuronAt = neuronAt;
    raster.rowOf = rowOf;
  }

  /* Each ensemble's windows, [{ensemble, start, end}] sorted by start: its activations
   * (ensemble_activation_times.csv, as many as its n_events, whatever the method), or on a page
   * without them the ensemble events assigned to it. */
  function ensembleWindows() {
    const own = D.tables.ensemble_activation_times;
    const table = own || D.tables.ensemble_events;
    const starts = columnOf(table, "start_s") || [], ends = columnOf(table, "end_s") || [], labels = columnOf(table, "ensemble") || [];
    const windows = new Map();
    for (let r = 0; r < starts.length; r++) {
      if (labels[r] < 0) continue;
      if (!windows.has(labels[r])) windows.set(labels[r], { start: [], end: [] });
      windows.get(labels[r]).start.push(starts[r]);
      windows.get(labels[r]).end.push(ends[r]);
    }
    for (const w of windows.values()) {
      const order = w.start.map((_, r) => r).sort((a, b) => w.start[a] - w.start[b]);
      w.start = order.map((r) => w.start[r]);
      w.end = order.map((r) => w.end[r]);
    }
    return windows;
  }

  function within(w, t) {
    let lo = 0, hi = w.start.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (w.start[mid] <= t) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    return found >= 0 && t < w.end[found];
  }

  /* Each event's tick: its time and the colour index of the ensemble it takes part in
   * (the event falls in an activation of an ensemble the neuron is a member of), or -1. */
  function rasterTicks() {
    const E = D.events, total = E.onset.length;
    const time = new Float64Array(total), neuron = new Int32Array(total), colour = new Int16Array(total).fill(-1);
    const usePeak = (M.roles || {}).event_time === "peak";
    const windows = ensembleWindows();
    const memberOf = new Map();
    for (const [n, list] of D.members) memberOf.set(n, [...new Set(list.filter((m) => m.member).map((m) => m.ensemble))].sort((a, b) => a - b));
    for (let n = 0; n < N; n++) {
      const mine = (memberOf.get(n) || []).filter((k) => windows.has(k));
      for (let j = E.start[n]; j < E.start[n + 1]; j++) {
        const f = E.onset[j] + (usePeak ? E.rise[j] : 0);
        time[j] = frameTime(f);
        neuron[j] = n;
        const k = mine.find((e) => within(windows.get(e), time[j]));
        if (k !== undefined) colour[j] = k;
      }
    }
    raster.ticks = { time, neuron, colour };
  }

  function hexRgb(hex) { return [1, 3, 5].map((k) => parseInt(hex.slice(k, k + 2), 16)); }

  function drawRaster(u) {
    const began = performance.now();
    const { left, top, width, height } = u.bbox;
    const ctx = u.ctx;
    const table = D.tables.ensemble_events;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, width, height);
    ctx.clip();
    const band = (start, end, fill) => {
      const x0 = u.valToPos(start, "x", true), x1 = u.valToPos(end, "x", true);
      ctx.fillStyle = fill;
      ctx.fillRect(x0, top, Math.max(1, x1 - x0), height);
    };
    if (table) {  // bins above the null threshold that no ensemble took: grey
      const s = columnOf(table, "start_s"), e = columnOf(table, "end_s"), lab = columnOf(table, "ensemble");
      for (let r = 0; r < s.length; r++) if (lab[r] < 0) band(s[r], e[r], "#00000014");
    }
    for (const [k, w] of ensembleWindows()) {  // each ensemble's activations in its colour
      for (let r = 0; r < w.start.length; r++) band(w.start[r], w.end[r], ENSEMBLE_COLOURS[k % ENSEMBLE_COLOURS.length] + "30");
    }
    const w = Math.max(1, Math.round(width)), h = Math.max(1, Math.round(height));
    const image = new ImageData(w, h);
    const px = image.data;
    const xmin = u.scales.x.min, xmax = u.scales.x.max, ymin = u.scales.y.min, ymax = u.scales.y.max;
    const rowPx = h / (ymax - ymin);
    const tickH = Math.max(1, Math.floor(rowPx * 0.8));
    const tickW = Math.max(1, Math.round(window.devicePixelRatio || 1));
    const rgb = ENSEMBLE_COLOURS.map(hexRgb);
    // Several neurons per pixel row: a pixel's darkness is the fraction of its neurons with an
    // event there (square root, so single events stay visible); ensemble ticks are drawn on top.
    const rowsPerPixel = Math.max(1, (ymax - ymin) / h);
    const count = new Float32Array(w * h);
    const colour = new Int16Array(w * h).fill(-1);
    const T = raster.ticks;
    for (let j = 0; j < T.time.length; j++) {
      const t = T.time[j];
      if (t < xmin || t > xmax) continue;
      const row = raster.rowOf[T.neuron[j]];
      if (row < ymin - 0.5 || row > ymax + 0.5) continue;
      const x = Math.floor(((t - xmin) / (xmax - xmin)) * (w - 1));
      const yc = ((row - ymin) / (ymax - ymin)) * h; // row 0 at the top
      const y0 = Math.max(0, Math.min(h - 1, Math.round(yc - tickH / 2))), y1 = Math.min(h, y0 + tickH);
      for (let y = y0; y < y1; y++) {
        for (let dx = 0; dx < tickW && x + dx < w; dx++) {
          const p = y * w + x + dx;
          count[p] += 1;
          if (T.colour[j] >= 0) colour[p] = T.colour[j];
        }
      }
    }
    for (let p = 0; p < w * h; p++) {
      if (count[p] === 0) continue;
      const c = colour[p] >= 0 ? rgb[colour[p] % rgb.length] : [20, 20, 20];
      const q = 4 * p;
      px[q] = c[0]; px[q + 1] = c[1]; px[q + 2] = c[2];
      px[q + 3] = colour[p] >= 0 ? 255 : Math.round(255 * Math.min(1, Math.sqrt(count[p] / rowsPerPixel)));
    }
    const canvas = document.createElement("canvas");
    canvas.width = w; canvas.height = h;
    canvas.getContext("2d").putImageData(image, 0, 0);
    ctx.drawImage(canvas, left, top);
    drawGroups(u, ymin, ymax);
    ctx.restore();
    api.raster_draw_ms = performance.now() - began;
  }

  function buildRaster() {
    const box = $("raster-charts");
    box.innerHTML = "";
    if (raster.u) raster.u.destroy();
    if (raster.co) raster.co.destroy();
    if (!raster.ticks) rasterTicks();
    rasterOrder(raster.order);
    const tEnd = frameTime(M.n_frames - 1);
    const width = chartWidth(box);
    const height = Math.max(300, window.innerHeight - 330);
    let syncingRaster = false;
    const syncX = (u, key) => {
      if (key !== "x" || syncingRaster) return;
      syncingRaster = true;
      for (const other of [raster.u, raster.co]) if (other && other !== u) other.setScale("x", { min: u.scales.x.min, max: u.scales.x.max });
      syncingRaster = false;
    };
    box.append(el("div", { class: "panel-title" }, "Raster of calcium events (" + ((M.roles || {}).event_time || "onset") + " times); shaded: ensemble activations"));
    const holder = el("div");
    box.append(holder);
    raster.u = new uPlot({
      width, height,
      scales: {
        x: { time: false },
        y: { auto: false, dir: -1, range: (u, min, max) => (min === null || !isFinite(min) ? [-0.5, N - 0.5] : [min, max]) },
      },
      series: [
        { label: "time (s)", value: (u, v) => (v === null ? "–" : v.toFixed(2)) },
        { label: "neuron", stroke: "transparent", points: { show: false }, value: (u, v) => "" },
      ],
      axes: [
        { label: "time (s)", labelSize: 16, size: 32 },
        { label: ORDER_AXIS[raster.order] || "neuron", labelSize: 18, size: 60,
          incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000],
          values: (u, splits) => splits.map((v) => (Number.isInteger(v) && v >= 0 && v < N ? String(raster.neuronAt[v]) : "")) },
      ],
      cursor: { drag: { x: true, y: true, uni: 20 }, sync: { key: "raster" }, points: { show: false } },
      legend: { show: false },
      hooks: { drawClear: [drawTrialMarks], draw: [drawRaster], setScale: [syncX] },
    }, [[t0, tEnd], [null, null]], holder);
    raster.u.setScale("y", { min: -0.5, max: N - 0.5 });
    raster.u.over.addEventListener("click", () => {
      const top = raster.u.cursor.top;
      if (top === null || top < 0) return;
      const row = Math.round(raster.u.posToVal(top, "y"));
      if (row < 0 || row >= N) return;
      const x = [raster.u.scales.x.min, raster.u.scales.x.max];
      showView("traces");
      selectNeuron(raster.neuronAt[row]);
      setZoom(x[0], x[1]);
      if (x[0] <= D.x[0] && x[1] >= D.x[D.x.length - 1]) xRange = null;
    });
    if (D.coactivity) buildCoactivity(box, width, syncX);
  }

  /* Coactivity as the coactivity figure shows it: the tested statistic per bin, each bin's
   * null threshold, the bins above it, and beside the chart the null's distribution (fraction
   * of shuffled bins per count, log scale) with the thresholds, the observed bins'
   * distribution, and the hovered bin with its P(null >= observed). */
  const NULL_WIDTH = 190;
  const nullPanel = { hovered: null };

  function buildCoactivity(box, width, syncX) {
    const co = D.coactivity, C = M.coactivity;
    const bin = C.bin_s || 1;
    const n = co.length;
    const xs = new Float64Array(n);
    for (let b = 0; b < n; b++) xs[b] = D.coactivityStart ? D.coactivityStart[b] : t0 + b * bin;
    const thresholds = D.coactivityThresholds
      || (C.threshold !== null && C.threshold !== undefined ? new Float64Array(n).fill(C.threshold) : null);
    const p = D.coactivityP;
    const series = [{ label: "time (s)", value: (u, v) => (v === null ? "–" : v.toFixed(2)) },
      { label: C.label || ("neurons active per " + bin + " s bin"), stroke: "#333", width: 1, paths: uPlot.paths.stepped({ align: 1 }), points: { show: false } }];
    const values = [xs, Array.from(co)];
    if (thresholds) {
      series.push(Object.assign(lineSeries("null threshold (per bin)", "#d62728", 1.5, [5, 4]), { paths: uPlot.paths.stepped({ align: 1 }) }));
      values.push(Array.from(thresholds));
      series.push(markerSeries("above the null", "#d62728", 5, false));
      values.push(Array.from(co, (v, b) => (v > thresholds[b] ? v : null)));
    }
    if (p) {
      series.push({ label: "P(null ≥ observed)", scale: "p", stroke: "transparent", paths: () => null, points: { show: false },
        value: (u, v) => (v === null || v === undefined || !isFinite(v) ? "–" : fmt(v)) });
      values.push(Array.from(p, (v) => (isFinite(v) ? v : null)));
    }
    box.append(el("div", { class: "panel-title" }, "Coactivity and its null (" + (C.n_shuffles ? C.n_shuffles + " circular shifts" : "circular shifts") + "): threshold per bin; right: the null's distribution"));
    const row = el("div", { class: "coactivity-row" });
    const h2 = el("div");
    const canvas = el("canvas", { id: "null-panel", width: String(NULL_WIDTH), height: "170" });
    row.append(h2, canvas);
    box.append(row);
    let nullTop = 0;  // the most active neurons any null bin had
    if (D.nullFraction) D.nullFraction.forEach((f, k) => { if (f > 0) nullTop = k; });
    const top = Math.max(1, maxOf(co), thresholds ? maxOf(thresholds) : 1, nullTop);
    raster.co = new uPlot({
      width: Math.max(300, width - NULL_WIDTH - 8), height: 170,
      scales: { x: { time: false }, y: { auto: false, range: [0, top + 1] }, p: { auto: false, range: [0, 1] } },
      series,
      axes: [{ label: "time (s)", labelSize: 16, size: 32 }, { label: "active neurons", labelSize: 18, size: 60 }],
      cursor: { drag: { x: true, y: false }, sync: { key: "raster" } },
      hooks: {
        drawClear: [drawTrialMarks],
        setScale: [syncX],
        setCursor: [(u) => { nullPanel.hovered = u.cursor.idx === null || u.cursor.idx === undefined ? null : u.cursor.idx; drawNull(); }],
      },
    }, values, h2);
    drawNull();
  }

  function maxOf(values) {  // no spread: arrays of 10^5 bins exceed the argument limit
    let top = 0;
    for (const v of values) if (v > top) top = v;
    return top;
  }

  function nullSummary() {
    const co = D.coactivity;
    if (!co) return null;
    const counts = new Float64Array(Math.max(maxOf(co) + 1, D.nullFraction ? D.nullFraction.length : 0));
    for (const v of co) counts[v] += 1;
    const b = nullPanel.hovered;
    return {
      null_fraction: D.nullFraction ? Array.from(D.nullFraction) : null,
      observed_fraction: Array.from(counts, (c) => c / Math.max(co.length, 1)),
      thresholds: D.coactivityThresholds ? Array.from(D.coactivityThresholds) : null,
      p: D.coactivityP ? Array.from(D.coactivityP, (v) => (isFinite(v) ? v : null)) : null,
      hovered: b === null ? null : { bin: b, n_active: co[b], threshold: D.coactivityThresholds ? D.coactivityThresholds[b] : null,
        p: D.coactivityP && isFinite(D.coactivityP[b]) ? D.coactivityP[b] : null },
    };
  }

  function drawNull() {
    const canvas = $("null-panel");
    if (!canvas || !raster.co) return;
    const ctx = canvas.getContext("2d");
    const W = canvas.width, H = canvas.height;
    ctx.clearRect(0, 0, W, H);
    // the same y as the coactivity chart (its plotting box, in CSS pixels)
    const u = raster.co, bbox = u.bbox, dpr = uPlot.pxRatio || 1;
    const y0 = bbox.top / dpr, y1 = (bbox.top + bbox.height) / dpr;
    const [ymin, ymax] = [u.scales.y.min, u.scales.y.max];
    const yOf = (v) => y1 - (v - ymin) / (ymax - ymin) * (y1 - y0);
    const left = 8, right = W - 8, floor = 1e-5;
    const xOf = (f) => left + (Math.log10(Math.max(f, floor)) - Math.log10(floor)) / -Math.log10(floor) * (right - left);
    const S = nullSummary();
    const rowH = Math.max(1, Math.abs(yOf(1) - yOf(0)) * 0.8);
    ctx.fillStyle = "#888";
    if (S.null_fraction) S.null_fraction.forEach((f, k) => { if (f > 0) ctx.fillRect(left, yOf(k) - rowH / 2, xOf(f) - left, rowH); });
    ctx.strokeStyle = "#000"; ctx.lineWidth = 1; ctx.beginPath();
    S.observed_fraction.forEach((f, k) => { if (f > 0) { ctx.moveTo(xOf(f), yOf(k) - rowH / 2); ctx.lineTo(xOf(f), yOf(k) + rowH / 2); } });
    ctx.stroke();
    ctx.strokeStyle = "#d62728"; ctx.setLineDash([5, 4]); ctx.beginPath();
    for (const level of new Set(S.thresholds || [])) { ctx.moveTo(left, yOf(level)); ctx.lineTo(right, yOf(level)); }
    ctx.stroke(); ctx.setLineDash([]);
    ctx.fillStyle = "#333"; ctx.font = "11px sans-serif";
    ctx.fillText("fraction of bins (log)", left, H - 4);
    ctx.fillText("grey: null; black: observed", left, 11);
    if (S.hovered) {
      const y = yOf(S.hovered.n_active);
      ctx.strokeStyle = "#1a55c4"; ctx.lineWidth = 2; ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(right, y); ctx.stroke();
      ctx.fillStyle = "#1a55c4";
      ctx.fillText("bin: " + S.hovered.n_active + " active, P(null ≥) " + fmt(S.hovered.p), left, 24);
    }
  }

  function drawEnsembleSide() {
    const side = $("ensemble-side");
    side.innerHTML = "";
    const table = D.tables.ensembles;
    side.append(el("h2", {}, "Ensembles"));
    if (!table || !table.data[0].length) { side.append(el("div", {}, "no ensembles in this session")); return; }
    const ids = columnOf(table, "ensemble"), nEvents = columnOf(table, "n_events"), members = columnOf(table, "members");
    for (let r = 0; r < ids.length; r++) {
      const colour = ENSEMBLE_COLOURS[ids[r] % ENSEMBLE_COLOURS.length];
      const list = String(members[r] || "").split(/\s+/).filter(Boolean).map(Number);
      side.append(el("h3", {}, el("span", { class: "swatch", style: "display:inline-block;width:10px;height:10px;margin-right:6px;background:" + colour }),
        "ensemble " + ids[r] + ": " + list.length + " members, " + nEvents[r] + " activations"));
      side.append(el("div", {}, ...list.map(neuronLink)));
    }
    const ev = D.tables.ensemble_events;
    if (ev) {
      const lab = columnOf(ev, "ensemble");
      const none = lab.filter((x) => x < 0).length;
      side.append(el("h3", {}, "Ensemble events"), el("div", {}, lab.length + " bins above the null threshold; " + none + " assigned to no ensemble (grey)"));
    }
  }

  // ---------------------------------------------------------------- views and start
  let rasterBuilt = false;

  /* Trial view: each presentation's window of the selected neuron's trace (the one the
   * regression was fitted on), per stimulus the mean ± SEM over trials, the trials x time heat
   * map, and the per-trial amplitudes of stimulus/trial_responses.csv. */
  const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  const trialView = { neuron: null, stimuli: [] };

  function trialWindows(i) {
    const T = D.tables.trial_presentations;
    const key = (M.roles || {}).stimulus || "dff";
    const values = traceValues(traceMeta(key) ? key : M.traces[0].key, i);
    const [w0, w1] = M.trial_window_s || [-2, 6];
    const first0 = Math.ceil(w0 * fs), nSamples = Math.max(1, Math.ceil(w1 * fs) - first0);  // as calcium.stimulus.trial_responses.peri_stimulus
    const k = R.frames_per_column;
    const valueAt = (f, p) => {  // the frame's value; in an envelope, its column's mid-range
      if (f < 0 || f >= M.n_frames) return null;
      if (T.within && (f < T.within[p][0] || f >= T.within[p][1])) return null;  // outside the onset's trial
      if (k === 1) return values[f];
      const a = values[2 * Math.floor(f / k)], b = values[2 * Math.floor(f / k) + 1];
      return a === null || b === null ? (a === null ? b : a) : (a + b) / 2;
    };
    const byStimulus = new Map();
    const P = T.stimulus.length;
    for (let p = 0; p < P; p++) {
      const onset = T.onset_s[p] - t0;
      const first = Math.ceil((onset + w0) * fs);
      const row = [];
      for (let j = 0; j < nSamples; j++) row.push(valueAt(first + j, p));
      if (!byStimulus.has(T.stimulus[p])) byStimulus.set(T.stimulus[p], { name: T.stimulus[p], trials: [], shifts: [], rows: [] });
      const s = byStimulus.get(T.stimulus[p]);
      s.trials.push(row);
      s.shifts.push((first - first0) / fs - onset);
      const r = D.trialResponse ? D.trialResponse[i * P + p] : NaN, b = D.trialBaseline ? D.trialBaseline[i * P + p] : NaN;
      s.rows.push({ trial: T.trial[p], onset_s: T.onset_s[p], response_dff: isFinite(r) ? r : null, baseline_dff: isFinite(b) ? b : null });
    }
    const out = [];
    for (const s of byStimulus.values()) {
      const shift = s.shifts.reduce((a, b) => a + b, 0) / s.shifts.length;
      const time = Array.from({ length: nSamples }, (_, j) => (first0 + j) / fs + shift);
      const mean = [], sem = [];
      for (let j = 0; j < nSamples; j++) {
        const v = s.trials.map((row) => row[j]).filter((x) => x !== null);
        const m = v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
        const sd = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - m) * (b - m), 0) / (v.length - 1)) : null;
        mean.push(m);
        sem.push(sd === null ? null : sd / Math.sqrt(v.length));
      }
      out.push({ name: s.name, time_s: time, mean, sem, trials: s.trials, rows: s.rows });
    }
    return out;
  }

  function drawTrials(i) {
    const box = $("trial-charts");
    box.innerHTML = "";
    for (const u of trialView.charts || []) u.destroy();
    trialView.charts = [];
    if (!D.tables.trial_presentations || !D.tables.trial_presentations.stimulus.length) {
      $("trial-note").textContent = "";
      box.append(el("div", { class: "status note" }, "This session has no stimulus table (or no presentation fits inside the recording): no trial-aligned responses."));
      trialView.neuron = i; trialView.stimuli = [];
      return;
    }
    $("trial-note").textContent = "neuron " + i + ": " + ((M.roles || {}).stimulus || "") + " ΔF/F from " + M.trial_window_s[0] + " to " + M.trial_window_s[1]
      + " s around each onset" + (R.frames_per_column > 1 ? " (from the page's min/max envelope: approximate)" : "") + "; amplitudes from stimulus/trial_responses.csv";
    const stimuli = trialWindows(i);
    trialView.neuron = i; trialView.stimuli = stimuli;
    const width = Math.min(520, Math.max(360, (box.clientWidth || 1000) / 2 - 20));
    for (const s of stimuli) {
      const colour = D.stimuli.colours[s.name] || STIMULUS_COLOURS[0];
      const row = el("div", { class: "trial-row" });
      box.append(el("div", { class: "panel-title" }, "stimulus " + s.name + ": " + s.trials.length + " presentations"), row);
      const plot = el("div");
      row.append(plot);
      const lo = s.mean.map((m, j) => (m === null || s.sem[j] === null ? null : m - s.sem[j]));
      const hi = s.mean.map((m, j) => (m === null || s.sem[j] === null ? null : m + s.sem[j]));
      trialView.charts.push(new uPlot({
        width, height: 220,
        scales: { x: { time: false } },
        series: [{ label: "time after onset (s)", value: (u, v) => (v === null ? "–" : v.toFixed(2)) },
          { label: "mean", stroke: colour, width: 2, points: { show: false } },
          { label: "mean + SEM", stroke: colour + "66", width: 1, points: { show: false } },
          { label: "mean − SEM", stroke: colour + "66", width: 1, points: { show: false } }],
        bands: [{ series: [2, 3], fill: colour + "33" }],
        axes: [{ label: "time after onset (s)", labelSize: 16, size: 32 }, { label: "ΔF/F", labelSize: 18, size: 55 }],
      }, [s.time_s, s.mean, hi, lo], plot));
      const heat = el("canvas", { class: "trial-heat", width: String(width), height: "220" });
      row.append(heat);
      drawHeat(heat, s);
      const table = el("table", { class: "trial-table" }, el("tr", {}, ...["trial", "onset (s)", "response ΔF/F", "baseline ΔF/F", "response − baseline"].map((h) => el("th", {}, h))));
      for (const r of s.rows) {
        const delta = r.response_dff === null ? null : r.response_dff - (r.baseline_dff === null ? 0 : r.baseline_dff);
        table.append(el("tr", {}, ...[r.trial, r.onset_s, r.response_dff, r.baseline_dff, delta].map((v) => el("td", { class: "num" }, fmt(v)))));
      }
      row.append(table);
    }
  }

  function drawHeat(canvas, s) {
    const ctx = canvas.getContext("2d");
    const W = canvas.width, H = canvas.height, left = 40, bottom = 28, top = 6, right = 8;
    let lo = Infinity, hi = -Infinity;
    for (const row of s.trials) for (const v of row) if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    if (!(hi > lo)) { lo = 0; hi = 1; }
    const nT = s.trials.length, nS = s.time_s.length;
    const cw = (W - left - right) / nS, ch = (H - top - bottom) / nT;
    for (let r = 0; r < nT; r++) for (let j = 0; j < nS; j++) {
      const v = s.trials[r][j];
      if (v === null) { ctx.fillStyle = "#ddd"; } else {
        const x = Math.max(0, Math.min(1, (v - lo) / (hi - lo))) * (VIRIDIS.length - 1);
        const a = VIRIDIS[Math.floor(x)], b = VIRIDIS[Math.min(VIRIDIS.length - 1, Math.floor(x) + 1)], f = x - Math.floor(x);
        ctx.fillStyle = "rgb(" + a.map((c, q) => Math.round(c + f * (b[q] - c))).join(",") + ")";
      }
      ctx.fillRect(left + j * cw, top + r * ch, Math.ceil(cw), Math.ceil(ch));
    }
    const x0 = left + (0 - s.time_s[0]) / (s.time_s[nS - 1] - s.time_s[0] || 1) * (W - left - right - cw) + cw / 2;
    ctx.strokeStyle = "#fff"; ctx.setLineDash([4, 3]); ctx.beginPath(); ctx.moveTo(x0, top); ctx.lineTo(x0, H - bottom); ctx.stroke(); ctx.setLineDash([]);
    ctx.fillStyle = "#333"; ctx.font = "11px sans-serif";
    ctx.fillText("trial (rows, in time order); colour: ΔF/F " + fmt(lo) + " to " + fmt(hi), left, H - 14);
    ctx.fillText("time " + fmt(s.time_s[0]) + " to " + fmt(s.time_s[nS - 1]) + " s after onset (dashed: onset)", left, H - 2);
    for (let r = 0; r < nT; r += Math.max(1, Math.ceil(nT / 10))) ctx.fillText(String(r), 4, top + (r + 0.7) * ch);
  }

  /* ROI map: footprints over the mean image, coloured by ensemble, response type or a
   * feature; the selected neuron's ROI outlined. */
  const roiMap = { colourBy: "ensemble", legend: {}, colours: null };

  function roiColours(by) {
    const colours = new Array(N).fill(M.palette.no_ensemble);
    const legend = {};
    if (by === "ensemble") {
      for (let n = 0; n < N; n++) {
        const m = (D.members.get(n) || []).filter((x) => x.member).map((x) => x.ensemble);
        if (m.length) {
          const e = Math.min(...m);
          colours[n] = ENSEMBLE_COLOURS[e % ENSEMBLE_COLOURS.length];
          legend["ensemble " + e] = colours[n];
        }
      }
      legend["no ensemble"] = M.palette.no_ensemble;
    } else if (by === "response") {
      const kinds = D.tables.regression.data[D.tables.regression.columns.indexOf("response_type")];
      const names = [...new Set(kinds.filter((k) => k && k !== "not stimulus-locked").map((k) => String(k).replace(/^suppressed:/, "")))].sort();
      names.forEach((name, k) => { legend[name] = STIMULUS_COLOURS[k % STIMULUS_COLOURS.length]; });
      for (let n = 0; n < N; n++) {
        const k = kinds[n];
        if (k && k !== "not stimulus-locked") colours[n] = legend[String(k).replace(/^suppressed:/, "")];
      }
      legend["not stimulus-locked"] = M.palette.no_ensemble;
    } else if (by.startsWith("feature:")) {
      const column = by.slice(8);
      const table = D.tables.neuron_tables.features;
      const values = table.data[table.columns.indexOf(column)];
      const finite = values.filter((v) => typeof v === "number" && isFinite(v)).sort((a, b) => a - b);
      if (finite.length) {
        const q = (p) => finite[Math.min(finite.length - 1, Math.max(0, Math.round(p * (finite.length - 1))))];
        const lo = q(0.05), hi = q(0.95);
        const hex = (rgb) => "#" + rgb.map((c) => Math.round(c).toString(16).padStart(2, "0")).join("");
        const viridis = (f) => {
          const x = Math.max(0, Math.min(1, f)) * (VIRIDIS.length - 1), a = VIRIDIS[Math.floor(x)], b = VIRIDIS[Math.min(VIRIDIS.length - 1, Math.floor(x) + 1)];
          return hex(a.map((c, q2) => c + (x - Math.floor(x)) * (b[q2] - c)));
        };
        for (let n = 0; n < N; n++) if (typeof values[n] === "number" && isFinite(values[n])) colours[n] = viridis((values[n] - lo) / (hi > lo ? hi - lo : 1));
        legend[column + " ≤ " + fmt(lo)] = viridis(0);
        legend[column + " ≥ " + fmt(hi)] = viridis(1);
      }
    }
    return { colours, legend };
  }

  function roiAt(cssX, cssY) {
    const MM = M.roi_map, canvas = $("roi-canvas");
    if (!MM.height || !D.roiLabel) return -1;
    const x = Math.floor(cssX * MM.width / canvas.clientWidth), y = Math.floor(cssY * MM.height / canvas.clientHeight);
    if (x < 0 || y < 0 || x >= MM.width || y >= MM.height) return -1;
    return D.roiLabel[y * MM.width + x];
  }

  function drawMap() {
    const MM = M.roi_map, canvas = $("roi-canvas"), side = $("map-side");
    $("map-note").textContent = MM.note || "";
    side.innerHTML = "";
    if (!MM.height || !D.roiLabel) {
      canvas.classList.add("hidden");
      side.append(el("div", { class: "status note" }, "No ROI map: " + MM.note + "."));
      return;
    }
    canvas.classList.remove("hidden");
    const W = MM.width, H = MM.height;
    const { colours, legend } = roiColours(roiMap.colourBy);
    roiMap.colours = colours; roiMap.legend = legend;
    const rgb = colours.map(hexRgb);
    canvas.width = W; canvas.height = H;
    const scale = Math.max(1, Math.min(12, Math.floor(Math.min(900 / W, (window.innerHeight - 140) / H)) || 1));
    canvas.style.width = W * scale + "px"; canvas.style.height = H * scale + "px";
    const image = new ImageData(W, H), px = image.data;
    for (let p = 0; p < W * H; p++) {
      const g = D.meanImage[p], roi = D.roiLabel[p], q = 4 * p;
      if (roi >= 0) {
        const c = rgb[roi];
        px[q] = 0.45 * g + 0.55 * c[0]; px[q + 1] = 0.45 * g + 0.55 * c[1]; px[q + 2] = 0.45 * g + 0.55 * c[2];
        if (roi === current) {
          const y = Math.floor(p / W), x = p % W;
          const edge = x === 0 || y === 0 || x === W - 1 || y === H - 1 || D.roiLabel[p - 1] !== roi || D.roiLabel[p + 1] !== roi || D.roiLabel[p - W] !== roi || D.roiLabel[p + W] !== roi;
          if (edge) { px[q] = 255; px[q + 1] = 255; px[q + 2] = 0; }
        }
      } else { px[q] = g; px[q + 1] = g; px[q + 2] = g; }
      px[q + 3] = 255;
    }
    canvas.getContext("2d").putImageData(image, 0, 0);
    side.append(el("h2", {}, "ROI map (" + MM.source + ", " + W + " × " + H + " pixels)"));
    side.append(el("div", {}, "selected: neuron " + current + (D.labels[current] !== String(current) ? " (" + D.labels[current] + ")" : "")));
    for (const [name, colour] of Object.entries(legend)) {
      side.append(el("div", {}, el("span", { class: "swatch", style: "display:inline-block;width:12px;height:12px;margin-right:6px;background:" + colour }), name));
    }
  }

  function showView(name) {
    for (const v of ["traces", "raster", "trials", "map"]) {
      $("view-" + v).classList.toggle("hidden", v !== name);
      $("tab-" + v).classList.toggle("active", v === name);
    }
    if (name === "raster" && !rasterBuilt) { buildRaster(); drawEnsembleSide(); rasterBuilt = true; }
    api.view = name;
    if (name === "trials") drawTrials(current);
    if (name === "map") drawMap();
  }

  function describe() {
    const duration = M.n_frames / fs;
    $("title").textContent = "Session " + M.session;
    let text = N + " neurons × " + M.n_frames + " frames at " + fmt(fs) + " Hz (" + fmt(duration) + " s)";
    if (R.frames_per_column === 1) {
      text += "; every frame stored (" + (R.dtype === "int16" ? "16-bit" : "8-bit") + " per trace)";
    } else {
      text += "; traces stored as min/max envelopes of " + R.frames_per_column + " frames (" + fmt(R.frames_per_column / fs) + " s) per column: zooming in shows no finer detail";
    }
    $("facts").textContent = text;
    const legend = $("stimulus-legend");
    for (const [name, colour] of Object.entries(D.stimuli.colours)) {
      legend.append(el("span", { class: "swatch", style: "background:" + colour + "55" }), "stimulus " + name);
    }
    if (Object.keys(D.stimuli.colours).length) legend.prepend("Shaded bands: stimulus presentations.");
    trialLegend(legend);
    const rl = $("raster-legend");
    rl.append("Ticks coloured by ensemble where a member takes part in one of its ensemble's activations; bands: each ensemble's activations (grey: bins above the null threshold that no ensemble took).");
    trialLegend(rl);
  }

  function wire() {
    const number = $("neuron-number"), slider = $("neuron-slider");
    number.max = N - 1;
    slider.max = N - 1;
    number.addEventListener("change", () => selectNeuron(number.value));
    slider.addEventListener("input", () => selectNeuron(slider.value));
    $("prev").addEventListener("click", () => selectNeuron(current - 1));
    $("next").addEventListener("click", () => selectNeuron(current + 1));
    $("reset-zoom").addEventListener("click", resetZoom);
    const search = $("label-search");
    search.addEventListener("change", () => searchLabel(search.value));
    search.addEventListener("keydown", (e) => { if (e.key === "Enter") searchLabel(search.value); });
    const list = $("label-list");
    if (N <= 20000) for (const label of D.labels) list.append(el("option", { value: label }));
    document.addEventListener("keydown", (e) => {
      const target = e.target;
      const typing = target && (target.tagName === "INPUT" || target.tagName === "SELECT" || target.tagName === "TEXTAREA");
      if (typing || api.view !== "traces") return;
      if (e.key === "ArrowRight") { selectNeuron(current + 1); e.preventDefault(); }
      if (e.key === "ArrowLeft") { selectNeuron(current - 1); e.preventDefault(); }
    });
    for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => showView(tab.dataset.view));
    for (const option of [...$("raster-order").options]) {  // orders this session has
      if (option.value !== "neuron" && option.value !== "ensemble" && !D.orders[option.value]) option.remove();
    }
    const colourBy = $("map-colour");
    colourBy.append(el("option", { value: "ensemble" }, "ensemble"));
    if (D.tables.regression) colourBy.append(el("option", { value: "response" }, "response type"));
    const features = D.tables.neuron_tables.features;
    for (const c of features ? features.columns : []) {
      if (c !== "neuron" && features.data[features.columns.indexOf(c)].some((v) => typeof v === "number")) colourBy.append(el("option", { value: "feature:" + c }, c));
    }
    colourBy.addEventListener("change", () => { roiMap.colourBy = colourBy.value; drawMap(); });
    $("roi-canvas").addEventListener("click", (e) => {
      const roi = roiAt(e.offsetX, e.offsetY);
      if (roi >= 0) selectNeuron(roi);
    });
    $("trial-neuron").max = N - 1;
    $("trial-neuron").addEventListener("change", (e) => selectNeuron(e.target.value));
    $("raster-order").addEventListener("change", (e) => { raster.order = e.target.value; buildRaster(); });
    $("raster-reset").addEventListener("click", () => {
      raster.u.setScale("x", { min: t0, max: frameTime(M.n_frames - 1) });
      raster.u.setScale("y", { min: -0.5, max: N - 0.5 });
    });
    let resizeTimer = null;
    window.addEventListener("resize", () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => {
        const w = chartWidth($("charts"));
        for (const c of charts) c.u.setSize({ width: w, height: c.u.height });
        if (rasterBuilt) {
          const rw = chartWidth($("raster-charts"));
          raster.u.setSize({ width: rw, height: raster.u.height });
          if (raster.co) raster.co.setSize({ width: rw, height: raster.co.height });
        }
      }, 150);
    });
  }

  /* For tests and scripting: what is drawn right now. */
  api.state = function () {
    return {
      view: api.view,
      neuron: current,
      label: D.labels[current],
      x_range: xRange,
      resolution: R,
      charts: charts.map((c) => ({
        key: c.panel.key,
        title: c.panel.title,
        unit: c.panel.unit,
        x: Array.from(c.u.data[0]),
        series: c.u.series.slice(1).map((s, j) => ({ label: s.label, values: Array.from(c.u.data[j + 1]) })),
        x_scale: [c.u.scales.x.min, c.u.scales.x.max],
        y_scale: [c.u.scales.y.min, c.u.scales.y.max],
        shown: c.u.series.slice(1).map((s) => s.show),
      })),
      events: neuronEvents(current),
      spikes: neuronSpikes(current),
      spike_marks: (charts.find((c) => c.panel.key === "spikes") || { panel: {} }).panel.marks || null,
      side_text: $("side").innerText,
    };
  };
  /* The trial marks each time-axis chart drew (canvas pixels; none in a continuous session) and
   * what the legends say. */
  api.trialMarks = () => ({
    spans: D.trialSpans,
    traces: charts.map((c) => ({ key: c.panel.key, marks: c.u.trialMarks || [] })),
    raster: raster.u ? raster.u.trialMarks || [] : null,
    coactivity: raster.co ? raster.co.trialMarks || [] : null,
    legend: Array.from(document.querySelectorAll(".trial-legend"), (n) => n.textContent),
  });
  api.selectNeuron = (i) => selectNeuron(i);
  api.nullPanel = () => nullSummary();
  api.roiMap = () => ({ note: M.roi_map.note, height: M.roi_map.height, width: M.roi_map.width, selected: current,
    colourBy: roiMap.colourBy, colours: roiMap.colours, legend: roiMap.legend, shown: !$("roi-canvas").classList.contains("hidden"),
    message: $("map-side").textContent });
  api.roiClientPoint = function (neuron) {  // viewport point inside the ROI's largest-weight pixel area
    const MM = M.roi_map, canvas = $("roi-canvas"), box = canvas.getBoundingClientRect();
    for (let p = 0; p < MM.width * MM.height; p++) {
      if (D.roiLabel[p] !== neuron) continue;
      const x = p % MM.width, y = Math.floor(p / MM.width);
      return { x: box.left + (x + 0.5) * box.width / MM.width, y: box.top + (y + 0.5) * box.height / MM.height };
    }
    return null;
  };
  api.trialState = () => ({ neuron: trialView.neuron, stimuli: trialView.stimuli });
  /* The raster's ticks: each event's time, neuron and ensemble colour index (-1: none). */
  api.rasterTicks = () => {
    if (!raster.ticks) rasterTicks();
    const T = raster.ticks;
    return { time: Array.from(T.time), neuron: Array.from(T.neuron), colour: Array.from(T.colour) };
  };
  api.rasterRows = () => ({ order: raster.order, neuronAt: Array.from(raster.neuronAt || []),
    groups: ((D.tables.raster_orders || {})[raster.order]) || [], axis: raster.u ? raster.u.axes[1].label : null });
  api.hoverCoactivityBin = (b) => { raster.co.setCursor({ left: raster.co.valToPos(raster.co.data[0][b] + 1e-9, "x"), top: 10 }); return nullSummary(); };
  api.showView = (name) => showView(name);
  api.setZoom = (a, b) => setZoom(a, b);
  /* Show or hide a chart's series, as a click on its legend entry does. */
  api.showSeries = function (key, label, show) {
    const c = charts.find((x) => x.panel.key === key);
    const j = c ? c.u.series.findIndex((x) => String(x.label).startsWith(label)) : -1;
    if (j > 0) c.u.setSeries(j, { show });
    return j > 0;
  };
  api.rasterRowCentre = function (neuron) {
    // page coordinates (CSS px) of the centre of a neuron's raster row, for click tests
    const u = raster.u;
    const rect = u.over.getBoundingClientRect();
    return { x: rect.left + rect.width / 2, y: rect.top + u.valToPos(raster.rowOf[neuron], "y") };
  };

  async function start() {
    const began = performance.now();
    await load();
    describe();
    wire();
    const hash = /neuron=(\d+)/.exec(location.hash || "");
    showView("traces");
    selectNeuron(hash ? Number(hash[1]) : 0);
    const status = $("status");
    if (M.notes && M.notes.warning) {
      status.textContent = M.notes.warning;
      status.className = "status note";
    } else {
      status.classList.add("hidden");
    }
    api.load_ms = performance.now() - began;
    api.ready = true;
  }

  start().catch(fail);
})();
