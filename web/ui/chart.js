// A canvas time-series chart: lines or stacked areas, value and time axes,
// a hover crosshair with tooltip, a legend that hides series, and
// drag-to-zoom: dragging across the plot selects a time span and calls
// `onZoom(from, to)` (ms); a double click calls `onZoomOut()`.
//
// Data: series share one time grid (start, step, n points as Float64Array
// with NaN for gaps), which is what a range query returns. Exemplars, when
// given, are marked as diamonds at their time and value; hovering one shows
// its labels.

import { h, fill, formatTime, useUTC, formatMetric, metricNode } from './api.js';

const BASE_COLORS = [
  [212, 70], [28, 90], [140, 55], [355, 70], [268, 55], [45, 95], [185, 70], [320, 55], [95, 50], [15, 60],
];

/** Color i of the palette for the current theme. */
export function seriesColor(i, dark) {
  let hue, sat;
  if (i < BASE_COLORS.length) [hue, sat] = BASE_COLORS[i];
  else {
    hue = (i * 137.508) % 360;
    sat = 55 + (i % 3) * 12;
  }
  const light = dark ? 63 - (Math.floor(i / 10) % 3) * 7 : 45 + (Math.floor(i / 10) % 3) * 6;
  return `hsl(${hue.toFixed(1)} ${sat}% ${light}%)`;
}

// ------------------------------------------------------------- units

const SI = [[1e15, 'P'], [1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k'], [1, ''], [1e-3, 'm'], [1e-6, 'µ'], [1e-9, 'n']];
const BIN = [[2 ** 50, 'PiB'], [2 ** 40, 'TiB'], [2 ** 30, 'GiB'], [2 ** 20, 'MiB'], [2 ** 10, 'KiB'], [1, 'B']];
const SECS = [[86400, 'd'], [3600, 'h'], [60, 'min'], [1, 's'], [1e-3, 'ms'], [1e-6, 'µs'], [1e-9, 'ns']];

/** The scale to write values up to |max| in: [divisor, suffix]. */
function scaleFor(max, unit) {
  const table = unit === 'bytes' ? BIN : unit === 'seconds' ? SECS : SI;
  if (!(max > 0) || !Number.isFinite(max)) return unit === 'bytes' ? [1, 'B'] : unit === 'seconds' ? [1, 's'] : [1, ''];
  for (const s of table) if (max >= s[0]) return s;
  return table[table.length - 1];
}

/** Formats one value with its unit at a precision fit for `step` (for axes). */
export function makeFormatter(maxAbs, step, unit) {
  const [div, suffix] = scaleFor(maxAbs, unit);
  const digits = Math.max(0, Math.min(6, -Math.floor(Math.log10(step / div) + 1e-9)));
  const sep = unit && suffix ? ' ' : '';
  return v => {
    if (v === 0) return '0';
    return `${(v / div).toFixed(digits)}${sep}${suffix}`;
  };
}

/** Formats a single value readably with its unit (for tooltips). */
export function formatUnit(v, unit) {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const [div, suffix] = scaleFor(Math.abs(v), unit);
  const s = +(v / div).toPrecision(4);
  return `${s}${unit && suffix ? ' ' : ''}${suffix}`;
}

export function niceStep(span, count) {
  const raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

function binaryStep(span, count) {
  // Byte axes: powers of two of a binary unit, or 1-2-5 steps within it.
  const raw = span / Math.max(1, count);
  const [div] = scaleFor(raw, 'bytes');
  return niceStep(span / div, count) * div;
}

// --------------------------------------------------------- time ticks

const S = 1000, MIN = 60 * S, HOUR = 60 * MIN, DAY = 24 * HOUR;
const TIME_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, S, 2 * S, 5 * S, 10 * S, 15 * S, 30 * S, MIN, 2 * MIN,
  5 * MIN, 10 * MIN, 15 * MIN, 30 * MIN, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY,
  14 * DAY, 30 * DAY, 91 * DAY, 182 * DAY, 365 * DAY];

function tzOffset(t) {
  return useUTC() ? 0 : -new Date(t).getTimezoneOffset() * MIN;
}

function timeTicks(start, end, width) {
  const want = Math.max(3, Math.floor(width / 95));
  const span = end - start;
  const step = TIME_STEPS.find(s => span / s <= want) ?? TIME_STEPS[TIME_STEPS.length - 1];
  const off = step >= HOUR ? tzOffset(start) : 0;
  const ticks = [];
  let t = Math.ceil((start + off) / step) * step - off;
  for (; t <= end; t += step) ticks.push(t);
  return { ticks, step };
}

function timeLabel(t, step, prev) {
  const s = formatTime(t, step < S); // "YYYY-MM-DD HH:MM:SS(.mmm)"
  const date = s.slice(5, 10);
  const newDay = prev === null || formatTime(prev).slice(0, 10) !== s.slice(0, 10);
  if (step >= DAY) return date;
  const time = step < S ? s.slice(11) : step < MIN ? s.slice(11, 19) : s.slice(11, 16);
  return newDay && prev !== null ? `${date} ${time}` : time;
}

/**
 * Adds the time axis's grid lines (from `top`, `ph` high) to the current
 * path and writes its labels below the plot; the caller strokes.
 */
export function timeAxis(ctx, left, top, pw, ph, start, end) {
  const { ticks, step } = timeTicks(start, end, pw);
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  let prev = null;
  for (const t of ticks) {
    const x = Math.round(left + ((t - start) / Math.max(1, end - start)) * pw) + 0.5;
    ctx.moveTo(x, top);
    ctx.lineTo(x, top + ph);
    const label = timeLabel(t, step, prev);
    const lw = ctx.measureText(label).width / 2;
    ctx.fillText(label, Math.min(Math.max(x, left + lw), left + pw - lw), top + ph + 6);
    prev = t;
  }
}

// -------------------------------------------------------------- chart

export class Chart {
  constructor() {
    this.base = h('canvas', { role: 'img', 'aria-label': 'Graph' });
    this.over = h('canvas', { 'aria-hidden': 'true' });
    this.tip = h('div.tooltip', { hidden: true });
    this.el = h('div.chart', this.base, this.over, this.tip);
    this.legend = h('div.legend', { role: 'group', 'aria-label': 'Series (click to hide or show)' });
    this.legendBar = h('div.legend-bar');
    this.data = null;
    this.hidden = new Set();
    this.hover = null;
    this.focusIdx = -1;
    this.ro = new ResizeObserver(() => this.draw());
    this.ro.observe(this.el);
    this.over.addEventListener('pointermove', e => this.move(e));
    this.over.addEventListener('pointerleave', () => this.leave());
    this.over.addEventListener('pointerdown', e => this.dragStart(e));
    this.over.addEventListener('pointerup', e => this.dragEnd(e));
    this.over.addEventListener('pointercancel', () => { this.drag = null; this.drawOverlay(); });
    this.over.addEventListener('dblclick', () => this.onZoomOut?.());
    this.drag = null; // { x0, x1 } in CSS pixels while selecting
    this.onZoom = null;
    this.onZoomOut = null;
    this.onTheme = () => { this.paintLegend(); this.draw(); };
    addEventListener('themechange', this.onTheme);
    addEventListener('timezonechange', this.onTheme);
  }

  destroy() {
    this.ro.disconnect();
    removeEventListener('themechange', this.onTheme);
    removeEventListener('timezonechange', this.onTheme);
  }

  /**
   * @param {object} d
   * @param {{metric: object, values: Float64Array}[]} d.series
   * @param {number} d.start first point (ms)
   * @param {number} d.step point spacing (ms)
   * @param {boolean} d.stacked
   * @param {string} d.unit '', 'bytes' or 'seconds'
   * @param {number|null} [d.yMin] lowest value the value axis shows (0 to start it at 0)
   * @param {{series: object, labels: object, value: number, t: number}[]} [d.exemplars]
   */
  setData(d) {
    d.exemplars = d.exemplars || [];
    // an exemplar takes the color of the series it belongs to, if shown
    const key = m => JSON.stringify(Object.entries(m).sort());
    const index = new Map(d.series.map((s, i) => [key(s.metric), i]));
    for (const e of d.exemplars) e.i = index.get(key(e.series)) ?? -1;
    const keep = this.data && this.data.series.length === d.series.length;
    this.data = d;
    this.hover = null;
    this.focusIdx = -1;
    this.tip.hidden = true;
    if (!keep) this.hidden.clear();
    this.colors = null;
    this.paintLegend();
    this.draw();
  }

  setStacked(stacked) {
    if (!this.data) return;
    this.data.stacked = stacked;
    this.draw();
  }

  setYMin(yMin) {
    if (!this.data) return;
    this.data.yMin = yMin;
    this.draw();
  }

  get dark() {
    const t = document.documentElement.dataset.theme;
    return t ? t === 'dark' : matchMedia('(prefers-color-scheme: dark)').matches;
  }

  color(i) {
    return seriesColor(i, this.dark);
  }

  // ------------------------------------------------------------ legend

  paintLegend() {
    const d = this.data;
    if (!d) return;
    const LIMIT = 500;
    const items = d.series.slice(0, LIMIT).map((s, i) => {
      const b = h('button.legend-item', {
        type: 'button', 'data-i': i, 'aria-pressed': String(!this.hidden.has(i)),
        title: 'Click to hide or show; Shift+click to show only this series',
      }, h('span.swatch', { style: { background: this.color(i), borderColor: this.color(i) } }), metricNode(s.metric));
      if (this.hidden.has(i)) b.classList.add('off');
      return b;
    });
    fill(this.legend, items);
    this.legend.onclick = e => {
      const b = e.target.closest('.legend-item');
      if (!b) return;
      const i = Number(b.dataset.i);
      if (e.shiftKey || e.altKey || e.metaKey || e.ctrlKey) {
        const only = this.hidden.size === d.series.length - 1 && !this.hidden.has(i);
        this.hidden.clear();
        if (!only) d.series.forEach((_, j) => j !== i && this.hidden.add(j));
      } else if (this.hidden.has(i)) this.hidden.delete(i);
      else this.hidden.add(i);
      this.paintLegend();
      this.draw();
    };
    this.legend.onmouseover = e => {
      const b = e.target.closest('.legend-item');
      this.focusIdx = b ? Number(b.dataset.i) : -1;
      this.drawOverlay();
    };
    this.legend.onmouseleave = () => { this.focusIdx = -1; this.drawOverlay(); };
    const shown = d.series.length - this.hidden.size;
    fill(this.legendBar,
      h('span', `${d.series.length} series${this.hidden.size ? `, ${shown} shown` : ''}` +
        (d.series.length > LIMIT ? ` (legend lists the first ${LIMIT})` : '')),
      this.hidden.size ? h('button.btn.btn-sm', { type: 'button', onclick: () => { this.hidden.clear(); this.paintLegend(); this.draw(); } }, 'Show all') : null,
      d.series.length > 1 && this.hidden.size < d.series.length
        ? h('button.btn.btn-sm', { type: 'button', onclick: () => { d.series.forEach((_, j) => this.hidden.add(j)); this.paintLegend(); this.draw(); } }, 'Hide all') : null);
  }

  // ------------------------------------------------------------ layout

  size(canvas) {
    const dpr = window.devicePixelRatio || 1;
    const w = this.el.clientWidth, hgt = this.el.clientHeight;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(hgt * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(hgt * dpr);
      canvas.style.width = `${w}px`;
      canvas.style.height = `${hgt}px`;
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return { ctx, w, h: hgt };
  }

  /** Per-index y values to draw (stacked tops when stacking), and extent. */
  compute() {
    const d = this.data;
    const n = d.series[0]?.values.length ?? 0;
    const ys = [];
    const lows = [];
    let lo = Infinity, hi = -Infinity;
    let acc = d.stacked ? new Float64Array(n) : null;
    d.series.forEach((s, i) => {
      if (this.hidden.has(i)) {
        ys.push(null);
        lows.push(null);
        return;
      }
      const v = s.values;
      if (acc) {
        const top = new Float64Array(n);
        const low = acc.slice();
        for (let k = 0; k < n; k++) {
          const x = v[k];
          if (Number.isFinite(x)) {
            acc[k] += x;
            top[k] = acc[k];
          } else top[k] = NaN;
        }
        ys.push(top);
        lows.push(low);
        for (let k = 0; k < n; k++) {
          const a = top[k];
          if (a === a) { if (a < lo) lo = a; if (a > hi) hi = a; }
        }
      } else {
        ys.push(v);
        lows.push(null);
        for (let k = 0; k < n; k++) {
          const a = v[k];
          if (a === a && a !== Infinity && a !== -Infinity) { if (a < lo) lo = a; if (a > hi) hi = a; }
        }
      }
    });
    const end = d.start + d.step * Math.max(1, n - 1);
    for (const e of d.exemplars || []) {
      if (e.i >= 0 && this.hidden.has(e.i)) continue;
      if (e.t < d.start || e.t > end || !Number.isFinite(e.value)) continue;
      if (e.value < lo) lo = e.value;
      if (e.value > hi) hi = e.value;
    }
    if (d.stacked && lo > 0) lo = 0;
    if (d.stacked && hi < 0) hi = 0;
    if (d.yMin !== null && d.yMin !== undefined && lo !== Infinity) {
      if (lo > d.yMin) lo = d.yMin;
      if (hi < d.yMin) hi = d.yMin;
    }
    if (lo === Infinity) { lo = 0; hi = 1; }
    if (lo === hi) {
      const pad = Math.abs(lo) * 0.1 || 1;
      lo -= pad;
      hi += pad;
    }
    return { ys, lows, lo, hi, n };
  }

  draw() {
    if (!this.data || !this.el.isConnected || !this.el.clientWidth) return;
    const t0 = performance.now();
    const { ctx, w, h: H } = this.size(this.base);
    const d = this.data;
    const css = getComputedStyle(document.documentElement);
    const muted = css.getPropertyValue('--muted').trim();
    const grid = css.getPropertyValue('--border').trim();
    const font = `11px ${css.getPropertyValue('--sans')}`;
    ctx.clearRect(0, 0, w, H);
    ctx.font = font;

    const { ys, lows, lo, hi, n } = this.compute();
    // Y ticks
    const plotH0 = H - 30;
    const count = Math.max(2, Math.floor(plotH0 / 45));
    const span = hi - lo;
    const step = d.unit === 'bytes' ? binaryStep(span, count) : niceStep(span, count);
    const yLo = Math.floor(lo / step) * step;
    const yHi = Math.ceil(hi / step) * step;
    const fmt = makeFormatter(Math.max(Math.abs(yLo), Math.abs(yHi)), step, d.unit);
    const yTicks = [];
    for (let v = yLo; v <= yHi + step * 1e-9; v += step) yTicks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    const labels = yTicks.map(fmt);
    const left = Math.ceil(Math.max(...labels.map(l => ctx.measureText(l).width))) + 14;
    const top = 8, right = 14, bottom = 24;
    const pw = Math.max(10, w - left - right), ph = Math.max(10, H - top - bottom);
    const start = d.start, end = d.start + d.step * Math.max(1, n - 1);
    const X = k => left + (n > 1 ? (k / (n - 1)) * pw : pw / 2);
    const Y = v => top + ph - ((v - yLo) / (yHi - yLo)) * ph;
    this.geo = { left, top, pw, ph, n, X, Y, ys, start, end };
    // the axis extent, for tests and tools
    this.el.dataset.yMin = String(yLo);
    this.el.dataset.yMax = String(yHi);
    this.el.dataset.start = String(start);
    this.el.dataset.end = String(end);
    this.el.dataset.plotLeft = String(left);
    this.el.dataset.plotWidth = String(pw);

    // Grid and axes
    ctx.lineWidth = 1;
    ctx.strokeStyle = grid;
    ctx.fillStyle = muted;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    ctx.beginPath();
    yTicks.forEach((v, i) => {
      const y = Math.round(Y(v)) + 0.5;
      ctx.moveTo(left, y);
      ctx.lineTo(left + pw, y);
      ctx.fillText(labels[i], left - 6, y);
    });
    timeAxis(ctx, left, top, pw, ph, start, end);
    ctx.stroke();

    // Series
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top - 1, pw, ph + 2);
    ctx.clip();
    ctx.lineJoin = 'round';
    // Thin lines when many series share the plot: wider ones would not read
    // better, and a 1.5px line takes a software rasterizer several times as
    // long as a 1px one (benches/ui_chart.mjs).
    const shown = ys.reduce((a, v) => a + (v ? 1 : 0), 0);
    ctx.lineWidth = shown > 20 && shown * n > 20 * 400 ? 1 : 1.5;
    for (let i = 0; i < ys.length; i++) {
      const v = ys[i];
      if (!v) continue;
      const color = this.color(i);
      if (d.stacked) this.area(ctx, v, lows[i], X, Y, color);
      ctx.strokeStyle = color;
      ctx.fillStyle = color;
      this.line(ctx, v, X, Y);
    }
    this.drawExemplars(ctx, start, end);
    ctx.restore();
    this.lastDraw = performance.now() - t0;
    this.drawOverlay();
  }

  /** Diamonds for the exemplars in the time range; their places kept for hovering. */
  drawExemplars(ctx, start, end) {
    const g = this.geo, d = this.data;
    const css = getComputedStyle(document.documentElement);
    const plain = css.getPropertyValue('--text').trim();
    const surface = css.getPropertyValue('--surface').trim();
    g.exemplars = [];
    d.exemplars.forEach((e, j) => {
      if (e.i >= 0 && this.hidden.has(e.i)) return;
      if (e.t < start || e.t > end || !Number.isFinite(e.value)) return;
      const x = g.left + ((e.t - start) / Math.max(1, end - start)) * g.pw, y = g.Y(e.value);
      g.exemplars.push({ j, x, y });
      this.diamond(ctx, x, y, 4.5, e.i >= 0 ? this.color(e.i) : plain, surface);
    });
    this.el.dataset.exemplars = String(g.exemplars.length);
    const first = g.exemplars[0];
    this.el.dataset.exemplarX = first ? String(Math.round(first.x)) : '';
    this.el.dataset.exemplarY = first ? String(Math.round(first.y)) : '';
  }

  diamond(ctx, x, y, r, color, edge) {
    ctx.beginPath();
    ctx.moveTo(x, y - r);
    ctx.lineTo(x + r, y);
    ctx.lineTo(x, y + r);
    ctx.lineTo(x - r, y);
    ctx.closePath();
    ctx.fillStyle = color;
    ctx.fill();
    ctx.lineWidth = 1;
    ctx.strokeStyle = edge;
    ctx.stroke();
  }

  line(ctx, v, X, Y) {
    const n = v.length;
    ctx.beginPath();
    let pen = false;
    for (let k = 0; k < n; k++) {
      const a = v[k];
      if (a !== a || a === Infinity || a === -Infinity) {
        pen = false;
        continue;
      }
      const x = X(k), y = Y(a);
      if (pen) ctx.lineTo(x, y);
      else {
        // An isolated point would be invisible as a line: draw a dot.
        const nx = v[k + 1];
        if (!(nx === nx && k + 1 < n)) ctx.fillRect(x - 1.5, y - 1.5, 3, 3);
        ctx.moveTo(x, y);
        pen = true;
      }
    }
    ctx.stroke();
  }

  area(ctx, v, low, X, Y, color) {
    const n = v.length;
    ctx.globalAlpha = 0.35;
    ctx.fillStyle = color;
    let k = 0;
    while (k < n) {
      while (k < n && !Number.isFinite(v[k])) k++;
      if (k >= n) break;
      const s = k;
      while (k < n && Number.isFinite(v[k])) k++;
      ctx.beginPath();
      ctx.moveTo(X(s), Y(v[s]));
      for (let j = s + 1; j < k; j++) ctx.lineTo(X(j), Y(v[j]));
      for (let j = k - 1; j >= s; j--) ctx.lineTo(X(j), Y(low[j]));
      ctx.closePath();
      ctx.fill();
    }
    ctx.globalAlpha = 1;
  }

  // ------------------------------------------------------------- hover

  /** The pointer's x in the plot (CSS pixels), clamped to the plot. */
  plotX(e) {
    const g = this.geo;
    const r = this.over.getBoundingClientRect();
    return Math.max(g.left, Math.min(g.left + g.pw, e.clientX - r.left));
  }

  dragStart(e) {
    const g = this.geo;
    if (!g || !g.n || e.button !== 0) return this.move(e);
    const r = this.over.getBoundingClientRect();
    const mx = e.clientX - r.left;
    if (mx < g.left || mx > g.left + g.pw) return this.move(e);
    this.drag = { x0: mx, x1: mx };
    this.over.setPointerCapture?.(e.pointerId);
    this.move(e);
  }

  dragEnd(e) {
    const dr = this.drag;
    if (!dr) return;
    this.drag = null;
    this.over.releasePointerCapture?.(e.pointerId);
    dr.x1 = this.plotX(e);
    this.drawOverlay();
    const g = this.geo;
    const a = Math.min(dr.x0, dr.x1), b = Math.max(dr.x0, dr.x1);
    if (b - a < 5 || !this.onZoom) return;
    const at = x => g.start + ((x - g.left) / g.pw) * (g.end - g.start);
    this.leave();
    this.onZoom(at(a), at(b));
  }

  move(e) {
    const g = this.geo;
    if (!g || !g.n) return;
    const r = this.over.getBoundingClientRect();
    const mx = e.clientX - r.left, my = e.clientY - r.top;
    if (this.drag) this.drag.x1 = this.plotX(e);
    if (mx < g.left - 4 || mx > g.left + g.pw + 4) return this.leave();
    const k = Math.max(0, Math.min(g.n - 1, Math.round(((mx - g.left) / g.pw) * (g.n - 1))));
    // an exemplar under the pointer comes first
    let near = null, nearD = 7;
    for (const p of g.exemplars || []) {
      const dist = Math.hypot(p.x - mx, p.y - my);
      if (dist < nearD) { nearD = dist; near = p; }
    }
    if (near && !this.drag) {
      this.hover = { k, i: -1, mx, my, ex: near };
      this.drawOverlay();
      this.paintTip();
      return;
    }
    let best = -1, bestD = Infinity;
    g.ys.forEach((v, i) => {
      if (!v || !Number.isFinite(v[k])) return;
      const dist = Math.abs(g.Y(v[k]) - my);
      if (dist < bestD) { bestD = dist; best = i; }
    });
    this.hover = { k, i: best, mx, my };
    this.drawOverlay();
    this.paintTip();
  }

  leave() {
    this.hover = null;
    this.tip.hidden = true;
    this.drawOverlay();
  }

  drawOverlay() {
    const { ctx, w, h: H } = this.size(this.over);
    ctx.clearRect(0, 0, w, H);
    const g = this.geo;
    if (!g) return;
    if (this.drag) {
      const a = Math.min(this.drag.x0, this.drag.x1), b = Math.max(this.drag.x0, this.drag.x1);
      const css = getComputedStyle(document.documentElement);
      ctx.globalAlpha = 0.18;
      ctx.fillStyle = css.getPropertyValue('--link').trim();
      ctx.fillRect(a, g.top, b - a, g.ph);
      ctx.globalAlpha = 1;
    }
    if (this.focusIdx >= 0 && g.ys[this.focusIdx]) {
      ctx.save();
      ctx.beginPath();
      ctx.rect(g.left, g.top, g.pw, g.ph);
      ctx.clip();
      ctx.lineWidth = 3;
      ctx.strokeStyle = this.color(this.focusIdx);
      ctx.fillStyle = ctx.strokeStyle;
      this.line(ctx, g.ys[this.focusIdx], g.X, g.Y);
      ctx.restore();
    }
    const hv = this.hover;
    if (hv?.ex) {
      const e = this.data.exemplars[hv.ex.j];
      const css = getComputedStyle(document.documentElement);
      this.diamond(ctx, hv.ex.x, hv.ex.y, 7, e.i >= 0 ? this.color(e.i) : css.getPropertyValue('--text').trim(),
        css.getPropertyValue('--surface').trim());
      return;
    }
    if (!hv || hv.k >= g.n) return;
    const x = Math.round(g.X(hv.k)) + 0.5;
    const css = getComputedStyle(document.documentElement);
    ctx.strokeStyle = css.getPropertyValue('--muted').trim();
    ctx.setLineDash([3, 3]);
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(x, g.top);
    ctx.lineTo(x, g.top + g.ph);
    ctx.stroke();
    ctx.setLineDash([]);
    if (hv.i >= 0 && g.ys[hv.i] && hv.k < g.n) {
      const v = g.ys[hv.i];
      ctx.save();
      ctx.beginPath();
      ctx.rect(g.left, g.top, g.pw, g.ph);
      ctx.clip();
      ctx.lineWidth = 2.5;
      ctx.strokeStyle = this.color(hv.i);
      ctx.fillStyle = ctx.strokeStyle;
      this.line(ctx, v, g.X, g.Y);
      ctx.restore();
      ctx.beginPath();
      ctx.arc(g.X(hv.k), g.Y(v[hv.k]), 4.5, 0, Math.PI * 2);
      ctx.fillStyle = this.color(hv.i);
      ctx.fill();
      ctx.lineWidth = 2;
      ctx.strokeStyle = css.getPropertyValue('--surface').trim();
      ctx.stroke();
    }
  }

  paintTip() {
    const hv = this.hover, g = this.geo, d = this.data;
    const t = g.start + hv.k * d.step;
    if (hv.ex) {
      const e = d.exemplars[hv.ex.j];
      const color = e.i >= 0 ? this.color(e.i) : 'transparent';
      fill(this.tip,
        h('div.tt-time', formatTime(e.t, true)),
        h('div.tt-row', h('span.swatch', { style: { background: color, borderColor: color } }),
          h('span', 'exemplar'), h('span.tt-val', fmtNum(e.value))),
        ...Object.entries(e.labels).map(([k, v]) => h('div.tt-row', h('span.muted', k), h('span.tt-val', v))),
        h('div', metricNode(e.series)));
      this.tip.setAttribute('aria-label', `exemplar ${formatMetric(e.labels)} of ${formatMetric(e.series)}`);
    } else if (hv.i < 0) {
      fill(this.tip, h('div.tt-time', formatTime(t)), h('div.muted', 'No value'));
    } else {
      const s = d.series[hv.i];
      const raw = s.values[hv.k];
      const shown = d.unit ? ` (${formatUnit(raw, d.unit)})` : '';
      fill(this.tip,
        h('div.tt-time', formatTime(t, d.step < 1000)),
        h('div.tt-row', h('span.swatch', { style: { background: this.color(hv.i), borderColor: this.color(hv.i) } }),
          h('span', 'value'), h('span.tt-val', `${fmtNum(raw)}${shown}`)),
        d.stacked ? h('div.muted', `stacked total ${fmtNum(g.ys[hv.i][hv.k])}`) : null,
        h('div', metricNode(s.metric)));
      this.tip.setAttribute('aria-label', formatMetric(s.metric));
    }
    this.placeTip();
  }

  /** Shows the tooltip beside the pointer, inside the chart. */
  placeTip() {
    const hv = this.hover;
    this.tip.hidden = false;
    const cw = this.el.clientWidth;
    const tw = this.tip.offsetWidth, th = this.tip.offsetHeight;
    let x = hv.mx + 14;
    if (x + tw > cw) x = Math.max(0, hv.mx - tw - 14);
    let y = hv.my + 14;
    if (y + th > this.el.clientHeight) y = Math.max(0, hv.my - th - 10);
    this.tip.style.left = `${x}px`;
    this.tip.style.top = `${y}px`;
  }
}

export function fmtNum(v) {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e15 || a < 1e-6)) return v.toExponential(6).replace(/\.?0+e/, 'e');
  return String(+v.toPrecision(12));
}
