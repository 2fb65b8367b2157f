// flowqd lab console: live plots from /api/live (server-sent events) and the control panel.
// Test hooks: window.flowqd.plotted[kind] = {seq, at} after a spectrum is drawn; window.flowqd.updates counts messages.
"use strict";
(function () {
  const csrf = document.querySelector("meta[name=csrf-token]").content;
  const fixedRun = document.body.dataset.run || null;
  const $ = (id) => document.getElementById(id);
  const state = { run: fixedRun ? Number(fixedRun) : null, channels: {}, results: [], source: null, dirty: false };
  window.flowqd = { plotted: {}, updates: 0, runId: null };
  const MAX_POINTS = 4000;

  // ---------------------------------------------------------------- plots
  const palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
  function width(el) { return Math.max(320, el.parentElement.clientWidth - 20); }
  function makePlot(id, xlabel, ylabel, names, opts) {
    const el = $(id);
    const series = [{ label: xlabel }].concat(names.map((n, i) => Object.assign(
      { label: n, stroke: palette[i % palette.length], width: 1.5, spanGaps: true }, (opts && opts.series && opts.series[i]) || {})));
    const axes = [{ label: xlabel }, { label: ylabel }];
    if (opts && opts.axis2) axes.push({ scale: "r", side: 1, label: opts.axis2, grid: { show: false } });
    const scales = { x: { time: false } };
    if (opts && opts.axis2) scales.r = {};
    const data = [[]].concat(names.map(() => []));
    return new uPlot({ width: width(el), height: 220, series: series, axes: axes, scales: scales,
                       legend: { live: false } }, data, el);
  }
  const plots = {};
  function ensurePlot(key, id, xlabel, ylabel, names, opts) {
    const p = plots[key];
    const same = p && p._names.length === names.length && p._names.every((n, i) => n === names[i]);
    if (same) return p;
    if (p) p.destroy();
    const np = makePlot(id, xlabel, ylabel, names, opts);
    np._names = names.slice();
    plots[key] = np;
    return np;
  }

  // aligned data for uPlot: union of x, values per series (set points held as steps between their records)
  function aligned(names) {
    const xs = new Set();
    names.forEach((n) => state.channels[n].t.forEach((t) => xs.add(t)));
    const x = Array.from(xs).sort((a, b) => a - b);
    const index = new Map(x.map((t, i) => [t, i]));
    const cols = names.map((n) => {
      const col = new Array(x.length).fill(null);
      const ch = state.channels[n];
      ch.t.forEach((t, i) => { col[index.get(t)] = ch.v[i]; });
      if (n.endsWith("(setpoint)")) { let last = null; for (let i = 0; i < col.length; i++) { if (col[i] === null) col[i] = last; else last = col[i]; } }
      return col;
    });
    return [x.map((t) => t / 60)].concat(cols);
  }
  function drawTraces() {
    const groups = [["temp", "plot-temp", "°C", (n) => n.includes(".temperature_c")],
                    ["pressure", "plot-pressure", "bar", (n) => n.startsWith("pressure")],
                    ["flow", "plot-flow", "mL/min", (n) => n.includes(".flow_ml_min")],
                    ["volume", "plot-volume", "mL", (n) => n.includes(".volume_ml")]];
    for (const [key, id, unit, pick] of groups) {
      const names = Object.keys(state.channels).filter(pick).sort();
      if (!names.length) continue;
      const opts = { series: names.map((n) => n.endsWith("(setpoint)") ? { dash: [6, 4] } : {}) };
      ensurePlot(key, id, "t (min)", unit, names, opts).setData(aligned(names));
    }
    if (state.results.length) {
      const rows = state.results.filter((r) => r.kind === "absorbance");
      const data = [rows.map((r) => (r.t_s || 0) / 60), rows.map((r) => r.peak_wavelength_nm),
                    rows.map((r) => r.x13_nm), rows.map((r) => r.rsd === null ? null : 100 * r.rsd)];
      ensurePlot("peak", "plot-peak", "t (min)", "peak (nm)", ["peak (nm)", "x1,3 (nm)", "RSD (%)"],
                 { axis2: "x1,3 (nm), RSD (%)", series: [{ points: { show: true } }, { scale: "r", points: { show: true } },
                                                      { scale: "r", points: { show: true } }] }).setData(data);
    }
  }
  function drawSpectrum(s) {
    const kind = s.kind === "pl" ? "pl" : "absorbance";
    const x = s.wavelength_nm, names = kind === "pl" ? ["PL (counts)"] : ["absorbance", "PSD model"];
    const cols = kind === "pl" ? [s.values] : [s.values, s.model || x.map(() => null)];
    const p = ensurePlot(kind, kind === "pl" ? "plot-pl" : "plot-abs", "λ (nm)", kind === "pl" ? "counts" : "A",
                         names, { series: [{}, { dash: [5, 3] }] });
    p.setData([x].concat(cols));
    const a = s.analysis || {};
    const f = (v, d) => (v === null || v === undefined ? "–" : Number(v).toFixed(d));
    $(kind === "pl" ? "pl-seq" : "abs-seq").textContent = `#${s.seq}`;
    $(kind === "pl" ? "pl-info" : "abs-info").textContent = a.error ? `analysis failed: ${a.error}` : (kind === "pl"
      ? `peak ${f(a.peak_wavelength_nm, 1)} nm, FWHM ${f(a.fwhm_nm, 1)} nm, PLQY ${a.plqy == null ? "–" : (100 * a.plqy).toFixed(1)} %`
      : `peak ${f(a.peak_wavelength_nm, 1)} nm, x1,3 ${f(a.x13_nm, 2)} nm, RSD ${a.rsd == null ? "–" : (100 * a.rsd).toFixed(1)} %`);
    if (kind === "absorbance" && s.psd && s.psd.diameter_nm) {
      ensurePlot("psd", "plot-psd", "d (nm)", "q3 (1/nm)", ["q3"]).setData([s.psd.diameter_nm, s.psd.q3]);
    }
    window.flowqd.plotted[kind] = { seq: s.seq, at: Date.now() };
  }

  // ---------------------------------------------------------------- state and events
  const fmtTime = (iso) => (iso ? iso.replace("T", " ").replace(/\.\d+/, "").replace(/\+00:00$/, "") : "–");
  function minutes(s) { return s === null || s === undefined ? "–" : `${(s / 60).toFixed(1)} min`; }
  function applyUpdate(m) {
    window.flowqd.updates += 1;
    window.flowqd.runId = m.run.id;
    $("title").textContent = `run ${m.run.id}: ${m.run.name}`;
    const rs = $("run-status");
    rs.textContent = m.run.status; rs.className = m.run.status;
    $("phase").textContent = m.phase;
    $("condition").textContent = m.condition ? `condition ${m.condition.index + 1}/${m.progress.n_conditions}: ${m.condition.message}` : "–";
    const il = $("interlock");
    il.textContent = m.interlock.state === "ok" ? "interlocks ok" : `INTERLOCK ${m.interlock.kind || ""}: ${m.interlock.message}`;
    il.className = m.interlock.state === "ok" ? "ok" : "tripped";
    const p = m.progress;
    $("bar").max = Math.max(p.n_conditions, 1); $("bar").value = p.conditions_done;
    $("eta").textContent = `${p.conditions_done}/${p.n_conditions} conditions · t = ${minutes(p.t_s)} · remaining ${minutes(p.remaining_s)} simulated` +
      (p.remaining_wall_s === null || p.remaining_wall_s === undefined ? "" : ` (≈ ${p.remaining_wall_s.toFixed(0)} s wall clock)`) +
      (m.engine.paused ? " · PAUSED" : "") + (m.engine.emergency_stop ? " · EMERGENCY STOP FLAG SET" : "");
    for (const [name, ch] of Object.entries(m.traces)) {
      const c = state.channels[name] || (state.channels[name] = { t: [], v: [] });
      c.t.push(...ch.t_s); c.v.push(...ch.value);
      if (c.t.length > MAX_POINTS) { c.t.splice(0, c.t.length - MAX_POINTS); c.v.splice(0, c.v.length - MAX_POINTS); }
    }
    state.results.push(...m.results);
    const body = $("events").tBodies[0];
    for (const e of m.events) {
      const tr = document.createElement("tr");
      tr.className = e.level;
      [fmtTime(e.at), e.t_s === null ? "" : (e.t_s / 60).toFixed(1), e.level, e.kind, e.message].forEach((v) => {
        const td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
      });
      body.insertBefore(tr, body.firstChild);
    }
    while (body.rows.length > 300) body.deleteRow(-1);
    for (const s of Object.values(m.spectra)) drawSpectrum(s);
    state.dirty = true;
    const live = m.engine.engine;
    if (!fixedRun && live && live.run_id && live.run_id !== m.run.id) connect(live.run_id);
  }
  setInterval(() => { if (state.dirty) { state.dirty = false; drawTraces(); } }, 300);

  function connect(run) {
    if (state.source) state.source.close();
    for (const k of Object.keys(plots)) { plots[k].destroy(); delete plots[k]; }
    state.channels = {}; state.results = []; $("events").tBodies[0].innerHTML = "";
    state.run = run;
    const src = new EventSource("/api/live" + (run ? `?run=${run}` : ""));
    src.addEventListener("update", (ev) => applyUpdate(JSON.parse(ev.data)));
    state.source = src;
  }

  // ---------------------------------------------------------------- controls
  async function post(url, body) {
    const r = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
                                 body: body === undefined ? "{}" : JSON.stringify(body) });
    let data = {};
    try { data = await r.json(); } catch (e) { data = { detail: r.statusText }; }
    $("msg").textContent = r.ok ? "" : `${r.status}: ${data.detail}`;
    return { ok: r.ok, status: r.status, data: data };
  }
  function startBody() {
    const sel = $("campaign").value;
    const body = { speed: Number($("speed").value) };
    if (sel === "upload") body.campaign_toml = $("toml").value; else body.campaign = sel;
    return body;
  }
  if ($("controls")) {
    $("campaign").addEventListener("change", () => {
      const up = $("campaign").value === "upload";
      $("toml").hidden = !up; $("file").hidden = !up; $("start").disabled = true;
    });
    $("file").addEventListener("change", async () => { const f = $("file").files[0]; if (f) $("toml").value = await f.text(); });
    $("preflight").addEventListener("click", async () => {
      const r = await post("/api/preflight", startBody());
      if (!r.ok) { $("preflight-out").textContent = r.data.detail; $("start").disabled = true; return; }
      const d = r.data;
      $("preflight-out").textContent = `${d.ok ? "pre-flight OK" : "pre-flight FAILED"}: ${d.campaign}, ${d.n_conditions} conditions, ` +
        `${d.duration_min.toFixed(0)} min simulated` + (d.wall_duration_min ? ` (≈ ${(60 * d.wall_duration_min).toFixed(0)} s wall clock)` : "") +
        "\n" + d.conditions.map((c) => `  #${c.index + 1}: τ ${c.residence_time_min.toFixed(1)} min, flush ${c.washout_min.toFixed(1)} min, ` +
        `${c.duration_min.toFixed(0)} min, stock ${c.stock_ml.toFixed(1)} mL, ${c.pressure_bar.toFixed(2)} bar`).join("\n") +
        (d.problems.length ? "\nproblems:\n  " + d.problems.join("\n  ") : "");
      $("start").disabled = !d.ok;
    });
    $("start").addEventListener("click", async () => {
      $("start").disabled = true;
      const r = await post("/api/runs", startBody());
      if (r.ok && !fixedRun) connect(r.data.run_id);
    });
    $("pause").addEventListener("click", () => post("/api/engine/pause"));
    $("resume").addEventListener("click", () => post("/api/engine/resume"));
    $("stop").addEventListener("click", () => post("/api/engine/stop"));
    $("clear-stop").addEventListener("click", () => post("/api/engine/clear-stop"));
  }
  $("estop").addEventListener("click", () => post("/api/engine/emergency-stop"));
  connect(state.run);
})();
