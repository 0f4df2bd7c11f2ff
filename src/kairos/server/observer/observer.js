/* KAIROS Observer: the simulations of one server, live, in plain JavaScript (no build step).
 *
 * It speaks tRPC over the server's WebSocket (/trpc): queries for the list and for charts
 * (simulation.series, reduced on the server: min and max per bucket, so dips are never
 * hidden) and the simulation.stream subscription to follow a run. The subscription's events
 * are tracked by tick; after a dropped socket or a server restart the page subscribes again
 * with the last tick it holds as lastEventId, and the server sends every later step exactly
 * once. The API key, when the server needs one, goes in the socket's connection params.
 */
(function () {
  "use strict";

  const PHASES = ["resonant", "volatile", "stagnant"];
  const BUCKETS = 1000;
  const MAX_MARKERS = 500;
  const KEY_STORAGE = "kairos.observer.apiKey";
  const FINAL = new Set(["completed", "failed", "cancelled"]);

  // How each kind of marker is drawn; a kind the page does not know gets DEFAULT_MARKER.
  // Colours have at least 4.5:1 contrast on white. Prophecies come every 25 ticks: they sit in
  // a row of their own above the others, without a line across the chart, and are the first
  // left out when there are too many markers (as simulation.series leaves them out).
  const MARKER_STYLES = {
    basinLoss: { name: "basin loss", color: "#b3261e", shape: "triangle", note: "a model lost its basin" },
    ghostBranch: { name: "ghost branch", color: "#6a1b9a", shape: "diamond", note: "a paradox, retried" },
    event: { name: "event", color: "#1b1f24", shape: "circle", note: "scheduled in the scenario" },
    decree: { name: "decree", color: "#00696f", shape: "flag", note: "an intervention, at the tick it took effect" },
    warning: { name: "warning", color: "#8a4b00", shape: "down", note: "stability fell below 0.45" },
    prophecy: { name: "prophecy", color: "#3b4a6b", shape: "ring", row: 1, background: true, note: "the phase 50 ticks ahead if nothing is done; filled: a basin at risk" },
  };
  const DEFAULT_MARKER = { name: "other", color: "#4a5260", shape: "square" };

  // The markers of a streamed step, labelled as simulation.series labels them (server/_series.py).
  const STEP_MARKERS = [
    (step) => (step.losses || []).map((loss) => ({
      tick: loss.tick, kind: "basinLoss", agents: [loss.agent],
      label: `basin loss: ${loss.agent} (load over the boundary by ${g(loss.magnitude, 3)})`,
    })),
    (step) => (step.ghost ? [{
      tick: step.ghost.tick, kind: "ghostBranch", agents: step.ghost.agents,
      label: `ghost branch: paradox between ${step.ghost.agents.join(", ")} ` +
        `(score ${g(step.ghost.score, 3)}), retried under ${step.ghost.decree}`,
    }] : []),
    (step) => (step.events || []).map((event) => ({
      tick: step.t, kind: "event", agents: event.target ? [event.target] : [],
      label: event.type + (event.target ? ` on ${event.target}` : "") +
        (event.magnitude != null ? ` (${g(event.magnitude, 6)})` : ""),
    })),
    (step) => (step.warnings || []).map((warning) => ({
      tick: warning.tick, kind: "warning", agents: warning.agent ? [warning.agent] : [],
      label: `warning: ${warning.agent ? warning.agent + "'s stability" : "system stability"} ` +
        `${g(warning.stability, 3)} fell below ${g(warning.level, 6)}`,
    })),
    (step) => (step.prophecy ? [{
      tick: step.prophecy.tick, kind: "prophecy", agents: step.prophecy.atRisk,
      label: `prophecy: ${step.prophecy.predictedPhase} at tick ${step.prophecy.tick + step.prophecy.horizon} ` +
        `(confidence ${g(step.prophecy.confidence, 6)}, loss risk ${g(step.prophecy.lossRisk, 6)}` +
        (step.prophecy.atRisk.length ? `: ${step.prophecy.atRisk.join(", ")}` : "") + ")",
    }] : []),
  ];

  // A decree's event is among the events of the step of the tick it took effect: the last ones,
  // in the order the decrees took effect (as simulation.series marks them, server/_series.py).
  function markDecrees(markers, decrees) {
    if (!decrees.length) return markers;
    const events = markers.filter((m) => m.kind === "event");
    const first = events.length - decrees.length;
    return markers.map((m) => {
      if (m.kind !== "event") return m;
      const position = events.indexOf(m) - first;
      if (position < 0) return m;
      return { ...m, kind: "decree", label: `decree ${decrees[position].id}: ${m.label}` };
    });
  }

  const AGENT_COLORS = ["#0b57d0", "#b3261e", "#1e6b34", "#6a1b9a", "#8a4b00", "#00696f"];

  function g(value, digits) {
    return String(Number(Number(value).toPrecision(digits)));
  }
  function int(value) {
    return Number(value).toLocaleString("en-US");
  }
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";
  function el(tag, attrs, parent) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
    if (parent) parent.appendChild(node);
    return node;
  }

  /* ---- tRPC over WebSocket ------------------------------------------------------------ */

  class TRPCSocket {
    constructor(onStatus, onRefused) {
      this.onStatus = onStatus;
      this.onRefused = onRefused;
      this.nextId = 1;
      this.queries = new Map();
      this.subscriptions = new Map();
      this.ws = null;
      this.open = false;
      this.blocked = false;
      this.delay = 250;
      this.timer = null;
      this.reconnects = 0;
    }

    connect() {
      clearTimeout(this.timer);
      if (this.ws) return;
      const scheme = location.protocol === "https:" ? "wss://" : "ws://";
      const ws = new WebSocket(scheme + location.host + "/trpc?connectionParams=1");
      this.ws = ws;
      ws.onopen = () => {
        const key = sessionStorage.getItem(KEY_STORAGE);
        const params = key ? { authorization: "Bearer " + key } : null;
        ws.send(JSON.stringify({ method: "connectionParams", data: params }));
        this.open = true;
        this.delay = 250;
        this.onStatus("live");
        for (const [id, query] of this.queries) this.send({ id, method: "query", params: query.params });
        for (const [id, sub] of this.subscriptions) this.sendSubscribe(id, sub);
      };
      ws.onmessage = (event) => this.receive(JSON.parse(event.data));
      ws.onclose = () => {
        this.ws = null;
        this.open = false;
        if (this.blocked) return;
        this.onStatus("down");
        this.reconnects += 1;
        this.timer = setTimeout(() => this.connect(), this.delay);
        this.delay = Math.min(this.delay * 2, 4000);
      };
    }

    reconnectNow() {
      this.blocked = false;
      this.delay = 250;
      if (this.ws) this.ws.close();
      else this.connect();
    }

    send(message) {
      if (this.open) this.ws.send(JSON.stringify(message));
    }

    sendSubscribe(id, sub) {
      const input = Object.assign({}, sub.input);
      if (sub.lastEventId != null) input.lastEventId = sub.lastEventId;
      this.send({ id, method: "subscription", params: { path: sub.path, input } });
    }

    query(path, input) {
      return new Promise((resolve, reject) => {
        const id = this.nextId++;
        const params = { path, input };
        this.queries.set(id, { params, resolve, reject });
        this.send({ id, method: "query", params });
      });
    }

    subscribe(path, input, lastEventId, handlers) {
      const id = this.nextId++;
      const sub = Object.assign({ path, input, lastEventId }, handlers);
      this.subscriptions.set(id, sub);
      this.sendSubscribe(id, sub);
      return id;
    }

    unsubscribe(id) {
      if (this.subscriptions.delete(id)) this.send({ id, method: "subscription.stop" });
    }

    receive(message) {
      if (message.method === "reconnect") {
        if (this.ws) this.ws.close(); // onclose connects again and resubscribes
        return;
      }
      if (message.id == null) {
        if (message.error) {
          const code = message.error.data && message.error.data.code;
          if (code === "UNAUTHORIZED" || code === "FORBIDDEN") this.blocked = true;
          this.onRefused(message.error);
        }
        return;
      }
      const query = this.queries.get(message.id);
      if (query) {
        this.queries.delete(message.id);
        if (message.error) query.reject(new Error(message.error.message));
        else query.resolve(message.result.data);
        return;
      }
      const sub = this.subscriptions.get(message.id);
      if (!sub) return;
      if (message.error) {
        this.subscriptions.delete(message.id);
        sub.onError(new Error(message.error.message));
      } else if (message.result.type === "data") {
        const tracked = message.result.id != null;
        if (tracked) sub.lastEventId = message.result.id;
        sub.onData(tracked ? message.result.data.data : message.result.data);
      } else if (message.result.type === "stopped") {
        this.subscriptions.delete(message.id);
        sub.onDone();
      }
    }
  }

  /* ---- The chart's data: buckets of ticks, min and max in each ------------------------ */

  class Series {
    // From a simulation.series answer; `live` ones take streamed steps and keep at most
    // BUCKETS buckets by doubling the bucket width (buckets stay aligned to it).
    static from(answer, live) {
      const s = new Series();
      s.live = live;
      s.width = answer.bucketTicks;
      s.fromTick = answer.fromTick;
      s.tick = answer.tick;
      s.ticks = answer.ticks;
      s.start = answer.start.slice();
      s.end = answer.end.slice();
      s.smin = answer.stabilityMin.slice();
      s.smax = answer.stabilityMax.slice();
      s.phaseCounts = answer.phase.map((phase, i) => {
        const counts = [0, 0, 0];
        counts[PHASES.indexOf(phase)] = answer.end[i] - answer.start[i] + 1;
        return counts;
      });
      s.names = Object.keys(answer.agents).sort();
      s.agents = {};
      for (const name of s.names) {
        const a = answer.agents[name];
        s.agents[name] = {
          gmin: a.gammaMin.slice(), gmax: a.gammaMax.slice(),
          lmin: a.lambdaMin.slice(), lmax: a.lambdaMax.slice(),
        };
      }
      s.markers = answer.markers.slice();
      s.markersTotal = answer.markersTotal;
      s.duplicates = 0;
      s.gaps = 0;
      return s;
    }

    phase(i) {
      const c = this.phaseCounts[i];
      return PHASES[c.indexOf(Math.max(c[0], c[1], c[2]))];
    }

    addSteps(steps, decrees) {
      const byTick = new Map();
      for (const decree of decrees || []) {
        if (decree.tick == null) continue;
        if (!byTick.has(decree.tick)) byTick.set(decree.tick, []);
        byTick.get(decree.tick).push(decree);
      }
      for (const step of steps) {
        if (step.t <= this.tick) { this.duplicates += 1; continue; }
        if (step.t !== this.tick + 1) this.gaps += 1;
        this.add(step, byTick.get(step.t) || []);
      }
      while (this.start.length > BUCKETS) this.widen();
    }

    add(step, decrees) {
      if (!this.names.length) {
        this.names = Object.keys(step.agents).sort();
        for (const name of this.names) this.agents[name] = { gmin: [], gmax: [], lmin: [], lmax: [] };
      }
      const t = step.t;
      const bucket = Math.floor((t - 1) / this.width);
      const last = this.start.length - 1;
      const phase = PHASES.indexOf(step.phase);
      if (last >= 0 && Math.floor((this.start[last] - 1) / this.width) === bucket) {
        this.end[last] = t;
        this.smin[last] = Math.min(this.smin[last], step.stability);
        this.smax[last] = Math.max(this.smax[last], step.stability);
        this.phaseCounts[last][phase] += 1;
        for (const name of this.names) {
          const a = this.agents[name], v = step.agents[name];
          a.gmin[last] = Math.min(a.gmin[last], v.gamma);
          a.gmax[last] = Math.max(a.gmax[last], v.gamma);
          a.lmin[last] = Math.min(a.lmin[last], v.lambda);
          a.lmax[last] = Math.max(a.lmax[last], v.lambda);
        }
      } else {
        this.start.push(t);
        this.end.push(t);
        this.smin.push(step.stability);
        this.smax.push(step.stability);
        const counts = [0, 0, 0];
        counts[phase] = 1;
        this.phaseCounts.push(counts);
        for (const name of this.names) {
          const a = this.agents[name], v = step.agents[name];
          a.gmin.push(v.gamma); a.gmax.push(v.gamma);
          a.lmin.push(v.lambda); a.lmax.push(v.lambda);
        }
      }
      const markers = markDecrees(STEP_MARKERS.flatMap((extract) => extract(step)), decrees || []);
      for (const marker of markers) {
        this.markersTotal += 1;
        this.markers.push(marker);
      }
      if (this.markers.length > MAX_MARKERS) this.thinMarkers();
      this.tick = t;
    }

    // Too many markers: every other background marker (prophecies) goes first; without any,
    // the latest go (the earlier ones stay, as they were shown).
    thinMarkers() {
      const background = (m) => (MARKER_STYLES[m.kind] || DEFAULT_MARKER).background;
      let seen = 0;
      const kept = this.markers.filter((m) => !background(m) || seen++ % 2 === 0);
      this.markers = kept.length < this.markers.length ? kept : this.markers.slice(0, MAX_MARKERS);
    }

    widen() {
      const width = this.width * 2;
      const keep = [];
      for (let i = 0; i < this.start.length; i++) {
        const j = keep.length - 1;
        if (j >= 0 && Math.floor((this.start[keep[j]] - 1) / width) === Math.floor((this.start[i] - 1) / width)) {
          const k = keep[j];
          this.end[k] = this.end[i];
          this.smin[k] = Math.min(this.smin[k], this.smin[i]);
          this.smax[k] = Math.max(this.smax[k], this.smax[i]);
          for (let p = 0; p < 3; p++) this.phaseCounts[k][p] += this.phaseCounts[i][p];
          for (const name of this.names) {
            const a = this.agents[name];
            a.gmin[k] = Math.min(a.gmin[k], a.gmin[i]);
            a.gmax[k] = Math.max(a.gmax[k], a.gmax[i]);
            a.lmin[k] = Math.min(a.lmin[k], a.lmin[i]);
            a.lmax[k] = Math.max(a.lmax[k], a.lmax[i]);
          }
        } else {
          keep.push(i);
        }
      }
      const pick = (array) => keep.map((i) => array[i]);
      this.start = pick(this.start);
      this.end = pick(this.end);
      this.smin = pick(this.smin);
      this.smax = pick(this.smax);
      this.phaseCounts = pick(this.phaseCounts);
      for (const name of this.names) {
        const a = this.agents[name];
        for (const column of ["gmin", "gmax", "lmin", "lmax"]) a[column] = pick(a[column]);
      }
      this.width = width;
    }
  }

  /* ---- Drawing (SVG) ------------------------------------------------------------------- */

  const MARGIN = { left: 48, right: 14, top: 38, bottom: 26 };

  function frame(svg, height) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const width = Math.max(320, svg.clientWidth || 800);
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    return { width, height, plotW: width - MARGIN.left - MARGIN.right, plotH: height - MARGIN.top - MARGIN.bottom };
  }

  function xScale(box, from, to) {
    const span = Math.max(1, to - from + 1);
    return (tick) => MARGIN.left + ((tick - from) / span) * box.plotW;
  }

  function xAxis(svg, box, x, from, to) {
    const y = MARGIN.top + box.plotH;
    el("line", { class: "axis", x1: MARGIN.left, x2: MARGIN.left + box.plotW, y1: y, y2: y }, svg);
    const raw = Math.max(1, (to - from + 1) / 5);
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * power).find((v) => v >= raw);
    const ticks = [from];
    for (let tick = Math.ceil(from / step) * step; tick <= to; tick += step) {
      if (x(tick) - x(ticks[ticks.length - 1]) > 48) ticks.push(tick);
    }
    for (const tick of ticks) {
      const label = el("text", { x: x(tick), y: y + 16, "text-anchor": tick === from ? "start" : x(tick) > MARGIN.left + box.plotW - 30 ? "end" : "middle" }, svg);
      label.textContent = int(tick);
    }
  }

  function band(series, low, high, x, y) {
    // The area between the lowest and highest value of each bucket, drawn as steps.
    const top = [], bottom = [];
    for (let i = 0; i < series.start.length; i++) {
      const x0 = x(series.start[i]), x1 = Math.max(x(series.end[i] + 1), x0 + 0.5);
      top.push(`${x0.toFixed(1)},${y(high[i]).toFixed(1)}`, `${x1.toFixed(1)},${y(high[i]).toFixed(1)}`);
      bottom.push(`${x1.toFixed(1)},${y(low[i]).toFixed(1)}`, `${x0.toFixed(1)},${y(low[i]).toFixed(1)}`);
    }
    return top.length ? "M" + top.join("L") + "L" + bottom.reverse().join("L") + "Z" : "";
  }

  function markerShape(svg, style, cx, cy, label, filled) {
    const group = el("g", { fill: style.color }, svg);
    const r = 5;
    if (style.shape === "flag") el("path", { d: `M${cx - r + 1},${cy + r}V${cy - r}H${cx + r}L${cx + 2},${cy - 1}L${cx + r},${cy + 3}H${cx - r + 3}V${cy + r}Z` }, group);
    else if (style.shape === "down") el("path", { d: `M${cx},${cy + r}L${cx + r},${cy - r}L${cx - r},${cy - r}Z` }, group);
    else if (style.shape === "ring") el("circle", { cx, cy, r: r - 1.5, fill: filled === false ? "#ffffff" : style.color, stroke: style.color, "stroke-width": 2 }, group);
    else if (style.shape === "triangle") el("path", { d: `M${cx},${cy - r}L${cx + r},${cy + r}L${cx - r},${cy + r}Z` }, group);
    else if (style.shape === "diamond") el("path", { d: `M${cx},${cy - r}L${cx + r},${cy}L${cx},${cy + r}L${cx - r},${cy}Z` }, group);
    else if (style.shape === "circle") el("circle", { cx, cy, r: r - 1 }, group);
    else el("rect", { x: cx - r + 1, y: cy - r + 1, width: 2 * r - 2, height: 2 * r - 2 }, group);
    el("title", {}, group).textContent = label;
    return group;
  }

  function drawStability(svg, series, from, to) {
    const box = frame(svg, 300);
    const x = xScale(box, from, to);
    const y = (s) => MARGIN.top + (1 - s) * box.plotH;
    // Phase bands: consecutive buckets with the same dominant phase as one rectangle.
    let i = 0;
    while (i < series.start.length) {
      const phase = series.phase(i);
      let j = i;
      while (j + 1 < series.start.length && series.phase(j + 1) === phase) j++;
      const x0 = x(series.start[i]), x1 = x(series.end[j] + 1);
      const rect = el("rect", { class: "band-" + phase, x: x0, y: MARGIN.top, width: Math.max(0.5, x1 - x0), height: box.plotH }, svg);
      el("title", {}, rect).textContent = `${phase}: ticks ${int(series.start[i])}–${int(series.end[j])}`;
      i = j + 1;
    }
    for (const s of [0, 0.25, 0.5, 0.75, 1]) {
      el("line", { class: "grid", x1: MARGIN.left, x2: MARGIN.left + box.plotW, y1: y(s), y2: y(s) }, svg);
      const label = el("text", { x: MARGIN.left - 6, y: y(s) + 4, "text-anchor": "end" }, svg);
      label.textContent = String(s);
    }
    el("line", { class: "danger", x1: MARGIN.left, x2: MARGIN.left + box.plotW, y1: y(0.1), y2: y(0.1) }, svg);
    const danger = el("text", { x: MARGIN.left + box.plotW - 2, y: y(0.1) - 4, "text-anchor": "end", fill: "#b3261e" }, svg);
    danger.textContent = "danger (S < 0.1)";
    el("path", { class: "stability", d: band(series, series.smin, series.smax, x, y) }, svg);
    const lines = series.markers.filter((m) => !(MARKER_STYLES[m.kind] || DEFAULT_MARKER).background);
    const opacity = lines.length > 50 ? 0.2 : 0.45; // many lines across the chart: keep S readable
    for (const marker of series.markers) {
      if (marker.tick < from || marker.tick > to) continue;
      const style = MARKER_STYLES[marker.kind] || DEFAULT_MARKER;
      const mx = x(marker.tick + 0.5);
      if (!style.background) el("line", { x1: mx, x2: mx, y1: MARGIN.top, y2: MARGIN.top + box.plotH, stroke: style.color, "stroke-opacity": opacity }, svg);
      const shape = markerShape(svg, style, mx, MARGIN.top - 10 - 15 * (style.row || 0), `tick ${int(marker.tick)}: ${marker.label}`, markerFilled(marker));
      shape.setAttribute("class", "marker marker-" + marker.kind);
    }
    xAxis(svg, box, x, from, to);
  }

  function drawAgents(svg, series, from, to) {
    const box = frame(svg, 220);
    const x = xScale(box, from, to);
    let top = 0;
    for (const name of series.names) {
      const a = series.agents[name];
      for (const v of a.gmax) top = Math.max(top, v);
      for (const v of a.lmax) top = Math.max(top, v);
    }
    top = top > 0 ? top * 1.05 : 1;
    const y = (v) => MARGIN.top + (1 - Math.min(v, top) / top) * box.plotH;
    for (const v of [0, top / 2, top]) {
      el("line", { class: "grid", x1: MARGIN.left, x2: MARGIN.left + box.plotW, y1: y(v), y2: y(v) }, svg);
      el("text", { x: MARGIN.left - 6, y: y(v) + 4, "text-anchor": "end" }, svg).textContent = g(v, 3);
    }
    series.names.forEach((name, k) => {
      const color = AGENT_COLORS[k % AGENT_COLORS.length];
      const a = series.agents[name];
      el("path", { d: band(series, a.gmin, a.gmax, x, y), fill: color, "fill-opacity": 0.25, stroke: color, "stroke-width": 1.5 }, svg);
      el("path", { d: band(series, a.lmin, a.lmax, x, y), fill: "none", stroke: color, "stroke-width": 1.5, "stroke-dasharray": "5 3" }, svg);
    });
    xAxis(svg, box, x, from, to);
  }

  function legend(series) {
    const parts = PHASES.map((p) => `<span><span class="swatch band-${p}" style="background:var(--${p})"></span>${p}</span>`);
    parts.push(`<span><span class="swatch" style="background:rgba(11,87,208,.35);border-color:#0b57d0"></span>stability S (min–max)</span>`);
    for (const [kind, style] of Object.entries(MARKER_STYLES)) {
      const icon = document.createElementNS(SVG, "svg");
      icon.setAttribute("width", "12");
      icon.setAttribute("height", "12");
      markerShape(icon, style, 6, 6, style.name, kind === "prophecy" ? false : undefined);
      parts.push(`<span class="legend-${kind}">${icon.outerHTML} <strong>${style.name}</strong>: ${style.note}</span>`);
    }
    series.names.forEach((name, k) => {
      const color = AGENT_COLORS[k % AGENT_COLORS.length];
      parts.push(`<span><span style="color:${color}">■</span> ${escapeHtml(name)}: Γ solid, Λ dashed</span>`);
    });
    $("legend").innerHTML = parts.join(" ");
  }

  // A prophecy's ring is filled when it sees a basin at risk.
  function markerFilled(marker) {
    return marker.kind === "prophecy" ? marker.agents.length > 0 : undefined;
  }

  function markerIcon(marker) {
    const icon = document.createElementNS(SVG, "svg");
    icon.setAttribute("width", "12");
    icon.setAttribute("height", "12");
    icon.setAttribute("aria-hidden", "true");
    markerShape(icon, MARKER_STYLES[marker.kind] || DEFAULT_MARKER, 6, 6, "", markerFilled(marker));
    icon.querySelector("title").remove();
    return icon;
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }

  /* ---- The page ------------------------------------------------------------------------- */

  const app = {
    socket: null,
    simulations: [],
    phases: new Map(),
    listLimit: 50,
    selected: null,
    record: null,
    live: null,
    view: null,
    zoomed: null,
    subscription: null,
    drawPending: false,
    draws: 0,
    firstDrawAt: null,
    errors: [],
  };

  function setStatus(state) {
    const pill = $("connection");
    pill.className = "pill " + (state === "live" ? "live" : "down");
    pill.textContent = state === "live" ? "connected" : state === "key" ? "API key needed" : "reconnecting…";
  }

  function problem(text) {
    const box = $("problem");
    box.hidden = !text;
    box.textContent = text || "";
  }

  async function refreshList() {
    try {
      const input = { limit: app.listLimit };
      const status = $("status-filter").value;
      if (status) input.status = status;
      const page = await app.socket.query("simulation.list", input);
      app.simulations = page.items;
      $("list-more").hidden = !page.nextCursor || app.listLimit >= 200;
      await refreshPhases(page.items);
      renderList();
      const current = app.simulations.find((s) => s.id === app.selected);
      if (current) { app.record = current; renderFacts(); }
      problem("");
    } catch (error) {
      problem("Listing simulations failed: " + error.message);
    }
    setTimeout(refreshList, 2000);
  }

  async function refreshPhases(items) {
    // Finished runs carry their final phase; for the others, the phase of their last step.
    const open = items.filter((s) => !s.summary && s.tick > 0).slice(0, 20);
    await Promise.all(open.map(async (s) => {
      try {
        const page = await app.socket.query("simulation.trace", { id: s.id, fromTick: s.tick, limit: 1 });
        if (page.steps.length) app.phases.set(s.id, page.steps[0].phase);
      } catch (error) { /* the row shows no phase */ }
    }));
  }

  function phaseOf(s) {
    if (s.summary) return s.summary.finalPhase;
    if (s.id === app.selected && app.live && app.live.tick > 0) return app.live.phase(app.live.start.length - 1);
    return app.phases.get(s.id) || "–";
  }

  function renderList() {
    const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.id : null;
    const body = $("simulations").tBodies[0];
    body.innerHTML = "";
    for (const s of app.simulations) {
      // The followed run's progress is the chart's: the list is read only every 2 s.
      const tick = s.id === app.selected && app.live ? Math.max(s.tick, app.live.tick) : s.tick;
      const row = body.insertRow();
      row.dataset.id = s.id;
      if (s.id === app.selected) row.className = "selected";
      row.innerHTML =
        `<td><button type="button" class="open" data-id="${s.id}" aria-label="Open ${s.id} (${escapeHtml(s.scenarioName)})">${s.id}</button><span class="name">${escapeHtml(s.scenarioName)}</span></td>` +
        `<td class="status-${s.status}">${s.status}</td>` +
        `<td><progress max="${s.ticks}" value="${tick}" aria-label="${int(tick)} of ${int(s.ticks)} ticks"></progress> ${int(tick)} / ${int(s.ticks)}</td>` +
        `<td>${phaseOf(s)}</td><td>${escapeHtml(s.engineVersion)}</td><td>${s.createdAt.replace("T", " ").replace(/\.\d+Z$|Z$/, "")}</td>`;
    }
    $("list-empty").hidden = app.simulations.length > 0;
    if (focused) {
      const again = body.querySelector(`button[data-id="${focused}"]`);
      if (again) again.focus();
    }
  }

  function renderFacts() {
    const s = app.record;
    if (!s) return;
    const tick = Math.max(s.tick, app.live ? app.live.tick : 0);
    $("detail-title").textContent = `${s.scenarioName} (${s.id})`;
    $("detail-facts").textContent =
      `${s.status} · tick ${int(tick)} of ${int(s.ticks)} · phase ${phaseOf(s)} · engine ${s.engineVersion} · seed ${s.seed} · created ${s.createdAt}`;
  }

  async function select(id) {
    if (app.subscription != null) app.socket.unsubscribe(app.subscription);
    app.subscription = null;
    app.selected = id;
    app.live = null;
    app.view = null;
    app.zoomed = null;
    app.record = app.simulations.find((s) => s.id === id) || null;
    $("detail").hidden = false;
    $("detail-title").textContent = id;
    $("detail-facts").textContent = "Reading the trace… (the first chart of a long run after a server start reads it once)";
    renderList();
    try {
      const answer = await app.socket.query("simulation.series", { id, buckets: BUCKETS, maxMarkers: MAX_MARKERS });
      if (app.selected !== id) return;
      app.live = Series.from(answer, true);
      app.record = app.record || await app.socket.query("simulation.get", { id });
      follow(id, answer);
      scheduleDraw();
    } catch (error) {
      problem(`Opening ${id} failed: ${error.message}`);
    }
  }

  function follow(id, answer) {
    if (FINAL.has(answer.status) && answer.tick >= answer.ticks) return;
    if (FINAL.has(answer.status) && answer.status !== "completed") return;
    app.subscription = app.socket.subscribe(
      "simulation.stream", { id }, answer.tick > 0 ? String(answer.tick) : null, {
        onData: (chunk) => {
          if (app.selected !== id) return;
          app.live.addSteps(chunk.steps, chunk.decrees);
          scheduleDraw();
        },
        onDone: () => {
          app.subscription = null;
          app.socket.query("simulation.get", { id }).then((record) => {
            if (app.selected !== id) return;
            app.record = record;
            refreshList.now();
            scheduleDraw();
          }, () => scheduleDraw());
        },
        onError: (error) => { app.subscription = null; problem(`Following ${id} stopped: ${error.message}`); },
      });
  }

  function scheduleDraw() {
    if (app.drawPending) return;
    app.drawPending = true;
    requestAnimationFrame(() => {
      app.drawPending = false;
      draw();
    });
  }

  function draw() {
    const series = app.zoomed || app.live;
    if (!series) return;
    const from = app.view ? app.view.from : 1;
    const to = app.view ? app.view.to : Math.max(series.ticks, 1);
    drawStability($("stability-chart"), series, from, to);
    drawAgents($("agents-chart"), series, from, to);
    legend(series);
    $("range").textContent = `ticks ${int(from)}–${int(to)} · ${int(series.width)} tick(s) per bucket`;
    const list = $("markers");
    list.innerHTML = "";
    for (const marker of series.markers) {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.tick = marker.tick;
      button.textContent = `tick ${int(marker.tick)}`;
      item.dataset.kind = marker.kind;
      item.appendChild(markerIcon(marker));
      item.appendChild(document.createTextNode(" "));
      item.appendChild(button);
      item.appendChild(document.createTextNode(` — ${marker.label}`));
      list.appendChild(item);
    }
    $("markers-note").textContent = series.markersTotal > series.markers.length
      ? `${int(series.markers.length)} of ${int(series.markersTotal)} markers shown (evenly spread); zoom in for the others.`
      : series.markersTotal ? "" : "No markers in this range.";
    renderFacts();
    app.draws += 1;
    if (app.firstDrawAt === null) app.firstDrawAt = performance.now();
  }

  async function zoom(action, aroundTick) {
    if (!app.live) return;
    const total = Math.max(app.live.ticks, 1);
    let from = app.view ? app.view.from : 1;
    let to = app.view ? app.view.to : total;
    const span = to - from + 1;
    if (action === "reset") { app.view = null; app.zoomed = null; scheduleDraw(); return; }
    if (action === "in") { const mid = aroundTick || Math.floor((from + to) / 2); const half = Math.max(8, Math.floor(span / 4)); from = mid - half; to = mid + half; }
    if (action === "out") { from -= Math.floor(span / 2); to += Math.floor(span / 2); }
    if (action === "left") { from -= Math.floor(span / 2); to -= Math.floor(span / 2); }
    if (action === "right") { from += Math.floor(span / 2); to += Math.floor(span / 2); }
    if (from < 1) { to += 1 - from; from = 1; }
    if (to > total) { from = Math.max(1, from - (to - total)); to = total; }
    if (from === 1 && to === total) { app.view = null; app.zoomed = null; scheduleDraw(); return; }
    app.view = { from, to };
    const id = app.selected;
    try {
      const answer = await app.socket.query("simulation.series", { id, fromTick: from, toTick: to, buckets: BUCKETS, maxMarkers: MAX_MARKERS });
      if (app.selected !== id || !app.view || app.view.from !== from || app.view.to !== to) return;
      app.zoomed = Series.from(answer, false);
      scheduleDraw();
    } catch (error) {
      problem("Zooming failed: " + error.message);
    }
  }

  function setupKey() {
    const form = $("key-form"), button = $("key-button");
    const show = (visible) => {
      form.hidden = !visible;
      button.setAttribute("aria-expanded", String(visible));
      if (visible) $("key-input").focus();
    };
    button.addEventListener("click", () => show(form.hidden));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const key = $("key-input").value.trim();
      $("key-input").value = "";
      if (key) sessionStorage.setItem(KEY_STORAGE, key);
      show(false);
      problem("");
      app.socket.reconnectNow();
    });
    $("key-forget").addEventListener("click", () => {
      sessionStorage.removeItem(KEY_STORAGE);
      show(true);
    });
    return show;
  }

  function start() {
    window.addEventListener("error", (event) => app.errors.push(String(event.message)));
    const showKey = setupKey();
    app.socket = new TRPCSocket(setStatus, (error) => {
      const code = error.data && error.data.code;
      if (code === "UNAUTHORIZED" || code === "FORBIDDEN") {
        setStatus("key");
        problem("This server needs an API key: " + error.message);
        showKey(true);
      } else {
        problem("The server refused the connection: " + error.message);
      }
    });
    $("status-filter").addEventListener("change", () => { app.listLimit = 50; refreshList.now(); });
    $("list-more").addEventListener("click", () => { app.listLimit = Math.min(200, app.listLimit + 50); refreshList.now(); });
    $("simulations").addEventListener("click", (event) => {
      const button = event.target.closest("button.open");
      if (button) select(button.dataset.id);
    });
    $("markers").addEventListener("click", (event) => {
      const button = event.target.closest("button[data-tick]");
      if (button) { app.view = null; zoom("in", Number(button.dataset.tick)); }
    });
    document.querySelector(".toolbar").addEventListener("click", (event) => {
      const button = event.target.closest("button[data-zoom]");
      if (button) zoom(button.dataset.zoom);
    });
    $("detail").addEventListener("keydown", (event) => {
      if (event.target.matches("input, select, textarea")) return;
      const action = { "+": "in", "=": "in", "-": "out", ArrowLeft: "left", ArrowRight: "right", "0": "reset" }[event.key];
      if (action) { event.preventDefault(); zoom(action); }
    });
    window.addEventListener("resize", scheduleDraw);
    app.socket.connect();
    refreshList();
  }

  // A change of filter lists again at once; the 2 s refresh goes on as before.
  const listNow = async () => {
    const input = { limit: app.listLimit };
    const status = $("status-filter").value;
    if (status) input.status = status;
    try {
      const page = await app.socket.query("simulation.list", input);
      app.simulations = page.items;
      $("list-more").hidden = !page.nextCursor || app.listLimit >= 200;
      renderList();
    } catch (error) {
      problem("Listing simulations failed: " + error.message);
    }
  };
  refreshList.now = listNow;

  // What the browser tests read (never used by the page itself).
  window.kairosObserver = {
    get state() {
      const s = app.live;
      return {
        connected: app.socket ? app.socket.open : false,
        reconnects: app.socket ? app.socket.reconnects : 0,
        selected: app.selected,
        rows: app.simulations.map((r) => r.id),
        tick: s ? s.tick : 0,
        buckets: s ? s.start.length : 0,
        covered: s ? s.start.reduce((sum, first, i) => sum + s.end[i] - first + 1, 0) : 0,
        duplicates: s ? s.duplicates : 0,
        gaps: s ? s.gaps : 0,
        markers: s ? s.markersTotal : 0,
        following: app.subscription != null,
        draws: app.draws,
        firstDrawAt: app.firstDrawAt,
        errors: app.errors.slice(),
      };
    },
    get markers() {
      return app.live ? app.live.markers : [];
    },
    get buckets() {
      const s = app.live;
      return s ? { width: s.width, start: s.start, end: s.end, min: s.smin, max: s.smax } : null;
    },
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
