// A heatmap of native histogram series over time: x is time, y the
// buckets, one row per bucket interval ordered by bound (so exponential
// buckets read as a log scale, each custom bound gets a row, and negative
// buckets sit below the zero bucket), colour the bucket's count (or rate)
// at each step on a square-root scale shown at the right. One series is
// drawn at a time; the legend picks which. Hovering a cell shows its
// interval, value, the histogram's count and sum, and the series.
//
// Data: `{ series: [{metric, hist}], start, step, unit }`, where `hist[k]`
// is the sample at `start + k * step` as the API writes it
// (`{count, sum, buckets: [[rule, lower, upper, count], …]}`) or null.

import { h, fill, formatTime, formatMetric, metricNode } from './api.js';
import { Chart, timeAxis, formatUnit, niceStep, fmtNum } from './chart.js';

// colour stops [t, rgb], from few to many observations
const LIGHT = [[0, [226, 238, 180]], [0.3, [122, 200, 160]], [0.62, [44, 127, 184]], [1, [40, 36, 110]]];
const DARK = [[0, [46, 56, 112]], [0.35, [30, 130, 145]], [0.7, [118, 202, 96]], [1, [252, 232, 84]]];
// a run of missing exponential buckets up to this long gets its rows
const FILL_MAX = 16;

/** The colour of `t` in [0, 1] on the heatmap's scale. */
export function heatColor(t, dark) {
  const stops = dark ? DARK : LIGHT;
  t = Math.max(0, Math.min(1, t || 0));
  let i = 1;
  while (i < stops.length - 1 && t > stops[i][0]) i++;
  const [t0, a] = stops[i - 1], [t1, b] = stops[i];
  const f = (t - t0) / (t1 - t0);
  return `rgb(${a.map((x, j) => Math.round(x + (b[j] - x) * f)).join(', ')})`;
}

/** A bucket's interval as Prometheus writes it: rule 0 (a,b], 1 [a,b), 2 (a,b), 3 [a,b]. */
export function bucketRange([rule, lo, hi]) {
  return `${rule & 1 ? '[' : '('}${lo}, ${hi}${rule === 0 || rule === 3 ? ']' : ')'}`;
}

function num(v) {
  if (v === '+Inf' || v === 'Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  return Number(v);
}

/**
 * The rows of a heatmap: every bucket interval of the samples, by bound,
 * and between two that do not meet, the interval between them (the
 * buckets an exponential schema has there when they are few, else one row
 * marked `gap`). Each row is `{lo, hi, rule, gap}`.
 */
export function bucketRows(hists) {
  const seen = new Map();
  for (const hg of hists) {
    for (const b of hg?.buckets || []) {
      const lo = num(b[1]), hi = num(b[2]);
      const key = `${lo}/${hi}`;
      if (!seen.has(key)) seen.set(key, { lo, hi, rule: b[0], key });
    }
  }
  const rows = [];
  for (const r of [...seen.values()].sort((a, b) => a.lo - b.lo || a.hi - b.hi)) {
    const p = rows[rows.length - 1];
    if (p && p.hi < r.lo) rows.push(...between(p, r));
    rows.push(r);
  }
  return rows;
}

function between(a, b) {
  const ratio = x => (x.lo > 0 ? x.hi / x.lo : x.lo / x.hi);
  const pos = a.lo > 0 && b.lo > 0, neg = a.hi < 0 && b.hi < 0;
  const r = ratio(a);
  if ((pos || neg) && r > 1 && Number.isFinite(r) && Math.abs(ratio(b) / r - 1) < 1e-9) {
    const m = Math.log(pos ? b.lo / a.hi : a.hi / b.lo) / Math.log(r);
    const k = Math.round(m);
    if (k >= 1 && k <= FILL_MAX && Math.abs(m - k) < 1e-6) {
      return Array.from({ length: k }, (_, j) => {
        const lo = pos ? a.hi * r ** j : a.hi / r ** j;
        return { lo, hi: pos ? lo * r : lo / r, rule: a.rule };
      });
    }
  }
  return [{ lo: a.hi, hi: b.lo, rule: 2, gap: true }];
}

function bound(v, unit) {
  return v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : formatUnit(v, unit);
}

export class Heatmap extends Chart {
  constructor() {
    super();
    this.sel = 0;
    this.base.setAttribute('aria-label', 'Heatmap');
    this.el.dataset.mode = 'heatmap';
  }

  setData(d) {
    d.exemplars = [];
    if (!this.data || this.data.series.length !== d.series.length) this.sel = 0;
    this.data = d;
    this.hover = null;
    this.tip.hidden = true;
    this.paintLegend();
    this.draw();
  }

  paintLegend() {
    const d = this.data;
    if (!d) return;
    const LIMIT = 500;
    fill(this.legend, d.series.slice(0, LIMIT).map((s, i) => h(`button.legend-item${i === this.sel ? '' : '.off'}`, {
      type: 'button', 'data-i': i, 'aria-pressed': String(i === this.sel), title: 'Click to draw this series',
    }, h('span.swatch.heat-swatch'), metricNode(s.metric))));
    this.legend.onclick = e => {
      const b = e.target.closest('.legend-item');
      if (!b) return;
      this.sel = Number(b.dataset.i);
      this.leave();
      this.paintLegend();
      this.draw();
    };
    this.legend.onmouseover = null;
    this.legend.onmouseleave = null;
    const n = d.series.length;
    fill(this.legendBar, h('span', n > 1
      ? `${n} histogram series; the heatmap draws one (click another to draw it)${n > LIMIT ? `, the legend lists the first ${LIMIT}` : ''}`
      : '1 histogram series'));
  }

  draw() {
    if (!this.data || !this.el.isConnected || !this.el.clientWidth) return;
    const t0 = performance.now();
    const { ctx, w, h: H } = this.size(this.base);
    const d = this.data, dark = this.dark;
    const s = d.series[this.sel];
    const css = getComputedStyle(document.documentElement);
    const muted = css.getPropertyValue('--muted').trim();
    ctx.clearRect(0, 0, w, H);
    ctx.font = `11px ${css.getPropertyValue('--sans')}`;

    const n = s.hist.length;
    const rows = bucketRows(s.hist);
    const index = new Map(rows.map((r, i) => [r.key, i]));
    let max = 0;
    for (const hg of s.hist) for (const b of hg?.buckets || []) max = Math.max(max, num(b[3]));
    if (!(max > 0) || !Number.isFinite(max)) max = 1;

    // colour scale at the right: value ticks on a square-root scale
    const cstep = niceStep(max, 4);
    const cticks = [];
    for (let v = 0; v <= max * (1 + 1e-9); v += cstep) cticks.push(v);
    if (Math.sqrt(cticks[cticks.length - 1] / max) < 0.92) cticks.push(max);
    const clabels = cticks.map(v => formatUnit(v, ''));
    const top = 8, bottom = 24;
    const ph = Math.max(10, H - top - bottom);
    const rowH = rows.length ? ph / rows.length : ph;
    // boundary labels, spaced 16 px or more apart
    const every = Math.max(1, Math.ceil(16 / rowH));
    const yLabels = [];
    for (let j = 0; rows.length && j <= rows.length; j += every) {
      yLabels.push([j, bound(j < rows.length ? rows[j].lo : rows[j - 1].hi, d.unit)]);
    }
    const left = Math.ceil(Math.max(20, ...yLabels.map(([, l]) => ctx.measureText(l).width))) + 14;
    const right = Math.ceil(Math.max(...clabels.map(l => ctx.measureText(l).width))) + 36;
    const pw = Math.max(10, w - left - right);
    // each step's cell spans half a step either side of its time
    const start = d.start - d.step / 2, end = d.start + d.step * (n - 0.5);
    const X = k => left + ((d.start + k * d.step - start) / (end - start)) * pw;
    const cw = pw / Math.max(1, n);
    const rowTop = i => top + ph - (i + 1) * rowH;
    this.geo = { left, top, pw, ph, n, X, start, end, rows, index, rowH, max, cw };
    Object.assign(this.el.dataset, {
      start: String(start), end: String(end), plotLeft: String(left), plotWidth: String(pw),
      selected: String(this.sel), rows: String(rows.length), colorMax: String(max),
      lowest: rows.length ? bound(rows[0].lo, d.unit) : '',
    });

    // rows no bucket covers, shaded; the grid
    ctx.fillStyle = css.getPropertyValue('--surface-2').trim();
    rows.forEach((r, i) => r.gap && ctx.fillRect(left, rowTop(i), pw, rowH));
    ctx.lineWidth = 1;
    ctx.strokeStyle = css.getPropertyValue('--border').trim();
    ctx.fillStyle = muted;
    ctx.beginPath();
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (const [j, label] of yLabels) {
      const y = Math.round(top + ph - j * rowH) + 0.5;
      ctx.moveTo(left - 3, y);
      ctx.lineTo(left + pw, y);
      ctx.fillText(label, left - 6, Math.min(Math.max(y, top + 5), top + ph - 5));
    }
    timeAxis(ctx, left, top, pw, ph, start, end);
    ctx.stroke();

    // the cells; the most observations kept for hovering in tests
    let cells = 0, best = null;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, pw, ph);
    ctx.clip();
    for (let k = 0; k < n; k++) {
      const hg = s.hist[k];
      if (!hg) continue;
      const x = X(k) - cw / 2;
      for (const b of hg.buckets || []) {
        const v = num(b[3]);
        const i = index.get(`${num(b[1])}/${num(b[2])}`);
        if (!(v > 0) || i === undefined) continue;
        ctx.fillStyle = heatColor(Math.sqrt(v / max), dark);
        // a little wider and taller than the cell: no seams between cells
        ctx.fillRect(x, rowTop(i), cw + 0.6, rowH + 0.6);
        cells++;
        if (!best || v >= best.v) best = { v, k, i };
      }
    }
    ctx.restore();
    this.el.dataset.cells = String(cells);
    this.el.dataset.cellX = best ? String(Math.round(X(best.k))) : '';
    this.el.dataset.cellY = best ? String(Math.round(rowTop(best.i) + rowH / 2)) : '';

    // the colour scale
    const bx = left + pw + 10, bw = 10;
    for (let y = 0; y < ph; y++) {
      ctx.fillStyle = heatColor(1 - y / ph, dark);
      ctx.fillRect(bx, top + y, bw, 1.5);
    }
    ctx.fillStyle = muted;
    ctx.textAlign = 'left';
    cticks.forEach((v, i) => {
      const y = top + ph - Math.sqrt(v / max) * ph;
      ctx.fillRect(bx + bw, Math.round(y), 3, 1);
      ctx.fillText(clabels[i], bx + bw + 5, Math.min(Math.max(y, top + 5), top + ph - 5));
    });
    this.lastDraw = performance.now() - t0;
    this.drawOverlay();
  }

  /** The step and row under the pointer, or null outside the plot. */
  cellAt(mx, my) {
    const g = this.geo;
    if (mx < g.left || mx > g.left + g.pw || my < g.top || my > g.top + g.ph || !g.rows.length) return null;
    const k = Math.min(g.n - 1, Math.floor(((mx - g.left) / g.pw) * g.n));
    const i = Math.min(g.rows.length - 1, Math.floor((g.top + g.ph - my) / g.rowH));
    return { k, i };
  }

  move(e) {
    const g = this.geo;
    if (!g || !g.n) return;
    const r = this.over.getBoundingClientRect();
    const mx = e.clientX - r.left, my = e.clientY - r.top;
    if (this.drag) this.drag.x1 = this.plotX(e);
    const c = this.cellAt(mx, my);
    if (!c) return this.leave();
    this.hover = { ...c, mx, my };
    this.drawOverlay();
    this.paintTip();
  }

  drawOverlay() {
    const { ctx, w, h: H } = this.size(this.over);
    ctx.clearRect(0, 0, w, H);
    const g = this.geo;
    if (!g) return;
    const css = getComputedStyle(document.documentElement);
    if (this.drag) {
      const a = Math.min(this.drag.x0, this.drag.x1), b = Math.max(this.drag.x0, this.drag.x1);
      ctx.globalAlpha = 0.18;
      ctx.fillStyle = css.getPropertyValue('--link').trim();
      ctx.fillRect(a, g.top, b - a, g.ph);
      ctx.globalAlpha = 1;
    }
    const hv = this.hover;
    if (!hv) return;
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = css.getPropertyValue('--text').trim();
    ctx.strokeRect(g.X(hv.k) - g.cw / 2, g.top + g.ph - (hv.i + 1) * g.rowH, g.cw, Math.max(2, g.rowH));
  }

  paintTip() {
    const hv = this.hover, g = this.geo, d = this.data;
    const s = d.series[this.sel];
    const row = g.rows[hv.i];
    const hg = s.hist[hv.k];
    const t = d.start + hv.k * d.step;
    const b = hg?.buckets?.find(x => num(x[1]) === row.lo && num(x[2]) === row.hi);
    const interval = b ? bucketRange(b) : bucketRange([row.rule, bound(row.lo, ''), bound(row.hi, '')]);
    const v = b ? num(b[3]) : 0;
    const color = heatColor(Math.sqrt(v / g.max), this.dark);
    const unit = d.unit ? ` ${d.unit}` : '';
    fill(this.tip,
      h('div.tt-time', formatTime(t, d.step < 1000)),
      h('div.tt-row', h('span.swatch', { style: { background: v > 0 ? color : 'transparent', borderColor: color } }),
        h('span', `bucket ${interval}${unit}`), h('span.tt-val', fmtNum(v))),
      hg ? h('div.muted', `count ${hg.count}, sum ${hg.sum}`) : h('div.muted', 'No sample'),
      row.gap && !b ? h('div.muted', 'no bucket here') : null,
      h('div', metricNode(s.metric)));
    this.tip.setAttribute('aria-label', formatMetric(s.metric));
    Object.assign(this.tip.dataset, { interval, value: String(v), t: String(t) });
    this.placeTip();
  }
}
