// The query page: panels with an expression, a Table tab (instant query)
// and a Graph tab (range query). All state lives in the URL, in the
// g<N>.<field> form Prometheus uses, so its links open here too.

import {
  h, fill, api, icon, ICONS, metricNode, formatTime, parseTime, parseDuration,
  formatDuration, formatSeconds, emptyState, ApiError, PREFIX,
} from './api.js';
import { Editor } from './editor.js';
import { Chart } from './chart.js';
import { Heatmap, bucketRange } from './heatmap.js';
import { parseErrorPos } from './promql.js';
import { remember, showHistory, showExplorer } from './explore.js';
import { explain } from './explain.js';

const DEFAULT_RANGE = 3600e3;
const RANGE_STEPS = ['1s', '10s', '1m', '5m', '15m', '30m', '1h', '2h', '6h', '12h', '1d', '2d', '1w', '2w', '4w', '8w', '26w', '1y'];
const TABLE_LIMIT = 10000;

let panels = [];
let root = null;
let list = null;

// ---------------------------------------------------------- URL state

/** Panel states from a query string (both Prometheus 2.x and 3.x forms). */
export function parseState(search) {
  const params = new URLSearchParams(search);
  const byIdx = new Map();
  for (const [k, v] of params) {
    const m = /^g(\d+)\.(\w+)$/.exec(k);
    if (!m) continue;
    const i = Number(m[1]);
    if (!byIdx.has(i)) byIdx.set(i, {});
    byIdx.get(i)[m[2]] = v;
  }
  return [...byIdx.keys()].sort((a, b) => a - b).map(i => {
    const p = byIdx.get(i);
    const tab = (p.tab ?? '').toLowerCase();
    const stepSec = p.step_input ?? p.res_step ?? '';
    return {
      expr: p.expr ?? '',
      tab: tab === '0' || tab === 'graph' ? 'graph' : tab === 'explain' ? 'explain' : 'table',
      stacked: p.stacked === '1' || p.display_mode === 'stacked',
      range: parseDuration(p.range_input ?? '') ?? DEFAULT_RANGE,
      end: p.end_input ? parseTime(p.end_input) : null,
      moment: p.moment_input ? parseTime(p.moment_input) : null,
      step: stepSec ? parseDuration(stepSec) : null,
      yMin: p.y_axis_min !== undefined && p.y_axis_min !== '' && Number.isFinite(Number(p.y_axis_min)) ? Number(p.y_axis_min) : null,
      exemplars: p.show_exemplars === '1',
      histCount: p.histogram_view === 'count',
    };
  });
}

/** The query string for panel states (Prometheus 3.x field names). */
export function stateToSearch(states) {
  const q = new URLSearchParams();
  states.forEach((s, i) => {
    const g = `g${i}.`;
    q.set(`${g}expr`, s.expr);
    q.set(`${g}tab`, s.tab);
    q.set(`${g}display_mode`, s.stacked ? 'stacked' : 'lines');
    q.set(`${g}range_input`, formatDuration(s.range));
    if (s.end !== null) q.set(`${g}end_input`, formatTime(s.end));
    if (s.moment !== null) q.set(`${g}moment_input`, formatTime(s.moment));
    if (s.step) q.set(`${g}step_input`, String(s.step / 1000));
    if (s.yMin !== null && s.yMin !== undefined) q.set(`${g}y_axis_min`, String(s.yMin));
    if (s.exemplars) q.set(`${g}show_exemplars`, '1');
    if (s.histCount) q.set(`${g}histogram_view`, 'count');
  });
  return `?${q.toString().replace(/%2F/g, '/').replace(/%3A/g, ':').replace(/%5B/g, '[').replace(/%5D/g, ']')}`;
}

function saveURL(push = false) {
  const search = stateToSearch(panels.map(p => p.state));
  if (search === location.search) return;
  history[push ? 'pushState' : 'replaceState'](null, '', `${location.pathname}${search}`);
}

// ------------------------------------------------------------ the page

export function mount(el) {
  root = el;
  list = h('div.panels');
  const add = h('button.btn.add-panel', {
    type: 'button', onclick: () => {
      addPanel(newState()).editor.focus();
      saveURL(true);
    },
  }, icon(ICONS.plus), 'Add panel');
  el.append(h('h1.sr-only', 'Query'), list, add);
  load();
}

function newState() {
  return { expr: '', tab: 'table', stacked: false, range: DEFAULT_RANGE, end: null, moment: null, step: null, yMin: null, exemplars: false, histCount: false };
}

function load() {
  for (const p of panels) p.destroy();
  panels = [];
  list.replaceChildren();
  const states = parseState(location.search);
  if (!states.length) states.push(newState());
  for (const s of states) addPanel(s);
  for (const p of panels) if (p.state.expr) p.run();
  if (!states[0].expr) panels[0].editor.focus();
  saveURL();
}

export function popstate() {
  load();
}

export function unmount() {
  for (const p of panels) p.destroy();
  panels = [];
  // Let the Query link in the menu bring back what was here.
  const a = document.querySelector('.nav a[data-match~="/query"]');
  if (a) a.setAttribute('href', `${PREFIX}/query${location.search}`);
  root = null;
}

function addPanel(state) {
  const p = new Panel(state);
  panels.push(p);
  list.append(p.el);
  return p;
}

function removePanel(p) {
  p.destroy();
  p.el.remove();
  panels = panels.filter(x => x !== p);
  if (!panels.length) addPanel(newState());
  saveURL(true);
}

// ----------------------------------------------------------- a panel

class Panel {
  constructor(state) {
    this.state = state;
    this.abort = null;
    this.chart = null;
    this.lastResult = null;
    this.editor = new Editor({
      value: state.expr,
      onRun: () => this.run(true),
      onChange: v => {
        this.state.expr = v;
        this.hideParseError();
        saveURL();
      },
    });
    const runBtn = h('button.btn.btn-primary', { type: 'button', onclick: () => this.run(true) }, icon(ICONS.play), 'Execute');
    const rmBtn = h('button.btn.btn-icon', { type: 'button', title: 'Remove panel', onclick: () => removePanel(this) }, icon(ICONS.close, 'Remove panel'));
    const histBtn = h('button.btn.btn-icon', {
      type: 'button', title: 'Query history', 'aria-haspopup': 'dialog',
      onclick: () => showHistory(histBtn, expr => {
        this.editor.replaceAll(expr);
        this.run(true);
      }),
    }, icon(ICONS.history, 'Query history'));
    const mxBtn = h('button.btn.btn-icon', {
      type: 'button', title: 'Metrics explorer', 'aria-haspopup': 'dialog',
      onclick: () => showExplorer(name => this.editor.insert(name)),
    }, icon(ICONS.list, 'Metrics explorer'));
    this.formatBtn = h('button.btn.btn-icon', { type: 'button', title: 'Format expression', onclick: () => this.format() }, icon(ICONS.format, 'Format expression'));
    this.parseErr = h('div.parse-error', { hidden: true, role: 'alert' });
    this.tabTable = h('button.tab', { type: 'button', role: 'tab', onclick: () => this.setTab('table') }, 'Table');
    this.tabGraph = h('button.tab', { type: 'button', role: 'tab', onclick: () => this.setTab('graph') }, 'Graph');
    this.tabExplain = h('button.tab', { type: 'button', role: 'tab', title: 'Each part of the expression evaluated on its own', onclick: () => this.setTab('explain') }, 'Explain');
    this.info = h('span.tab-info', { 'aria-live': 'polite' });
    this.body = h('div.panel-body', { role: 'tabpanel' });
    this.el = h('section.card.panel', { 'aria-label': 'Query panel' },
      h('div.panel-top', this.editor.el, h('div.panel-actions', histBtn, mxBtn, this.formatBtn, runBtn, rmBtn)),
      this.parseErr,
      h('div.tabs', { role: 'tablist' }, this.tabTable, this.tabGraph, this.tabExplain, this.info),
      this.body,
      this.cost = h('div.cost', { 'aria-label': 'Query cost', hidden: true }));
    this.buildControls();
    this.setTab(state.tab, false);
  }

  destroy() {
    this.abort?.abort();
    this.chart?.destroy();
    this.heat?.destroy();
    this.editor.destroy();
  }

  setTab(tab, run = true) {
    this.state.tab = tab;
    this.tabTable.setAttribute('aria-selected', String(tab === 'table'));
    this.tabGraph.setAttribute('aria-selected', String(tab === 'graph'));
    this.tabExplain.setAttribute('aria-selected', String(tab === 'explain'));
    fill(this.body, tab === 'graph' ? this.graphControls : this.tableControls, this.output = h('div.output'));
    this.info.textContent = '';
    if (tab === 'graph' && !this.chart) {
      this.chart = new Chart();
      this.chart.onZoom = (from, to) => this.zoom(from, to);
      this.chart.onZoomOut = () => this.zoomBack();
      this.heat = new Heatmap();
      this.heat.onZoom = (from, to) => this.zoom(from, to);
      this.heat.onZoomOut = () => this.zoomBack();
    }
    if (run) saveURL();
    if (run && this.state.expr.trim()) this.run();
    else if (!this.state.expr.trim()) this.output.append(emptyState('No query yet', 'Type an expression above and press Enter.'));
  }

  // ------------------------------------------------------- controls

  buildControls() {
    const s = this.state;
    // Graph: range, end time, resolution, stacked.
    this.rangeIn = h('input.range', { type: 'text', value: formatDuration(s.range), 'aria-label': 'Range', title: 'Range, e.g. 1h, 30m, 2d' });
    this.rangeIn.addEventListener('change', () => {
      const r = parseDuration(this.rangeIn.value);
      this.rangeIn.classList.toggle('invalid', r === null);
      if (r === null) return;
      s.range = r;
      this.rangeIn.value = formatDuration(r);
      this.changed();
    });
    const stepRange = dir => {
      const ms = RANGE_STEPS.map(parseDuration);
      let i = dir < 0 ? ms.findLastIndex(v => v < s.range) : ms.findIndex(v => v > s.range);
      if (i < 0) i = dir < 0 ? 0 : ms.length - 1;
      s.range = ms[i];
      this.rangeIn.value = formatDuration(s.range);
      this.changed();
    };
    this.endIn = h('input.time', { type: 'text', placeholder: 'now', 'aria-label': 'End time', title: 'End time: YYYY-MM-DD HH:MM:SS, empty for now' });
    this.endIn.addEventListener('change', () => {
      const t = this.endIn.value.trim() ? parseTime(this.endIn.value) : null;
      this.endIn.classList.toggle('invalid', this.endIn.value.trim() !== '' && t === null);
      if (this.endIn.value.trim() && t === null) return;
      s.end = t;
      this.paintTimes();
      this.changed();
    });
    const shiftEnd = dir => {
      const base = s.end ?? Date.now();
      s.end = Math.round((base + dir * s.range / 2) / 1000) * 1000;
      if (s.end >= Date.now()) s.end = null;
      this.paintTimes();
      this.changed();
    };
    this.stepIn = h('input.step', { type: 'text', 'aria-label': 'Resolution (step)', title: 'Resolution: step between points, e.g. 15s; empty for automatic' });
    this.stepIn.addEventListener('change', () => {
      const v = this.stepIn.value.trim();
      const st = v ? parseDuration(v) : null;
      this.stepIn.classList.toggle('invalid', v !== '' && st === null);
      if (v && st === null) return;
      s.step = st;
      this.changed();
    });
    this.stackBtn = h('button.btn', {
      type: 'button', 'aria-pressed': String(s.stacked), onclick: () => {
        s.stacked = !s.stacked;
        this.stackBtn.setAttribute('aria-pressed', String(s.stacked));
        this.stackBtn.classList.toggle('on', s.stacked);
        saveURL();
        this.chart?.setStacked(s.stacked);
      },
    }, 'Stacked');
    this.stackBtn.classList.toggle('on', s.stacked);
    this.yZero = h('input', { type: 'checkbox', checked: s.yMin === 0 });
    this.yZero.addEventListener('change', () => {
      s.yMin = this.yZero.checked ? 0 : null;
      saveURL();
      this.chart?.setYMin(s.yMin);
    });
    this.exemplarsBox = h('input', { type: 'checkbox', checked: !!s.exemplars });
    this.exemplarsBox.addEventListener('change', () => {
      s.exemplars = this.exemplarsBox.checked;
      this.changed();
    });
    this.zooms = [];
    this.zoomOutBtn = h('button.btn', {
      type: 'button', hidden: true, title: 'Back to the range before the last zoom (or double-click the graph)',
      onclick: () => this.zoomBack(),
    }, icon(ICONS.zoomOut), 'Zoom out');
    const btn = (ic, label, fn) => h('button.btn.btn-icon', { type: 'button', title: label, onclick: fn }, icon(ic, label));
    this.graphControls = h('div.controls',
      h('div.group', btn(ICONS.minus, 'Shorter range', () => stepRange(-1)), this.rangeIn, btn(ICONS.plus, 'Longer range', () => stepRange(1))),
      h('div.group', btn(ICONS.left, 'Earlier', () => shiftEnd(-1)), this.endIn, btn(ICONS.right, 'Later', () => shiftEnd(1)),
        btn(ICONS.close, 'Reset end time to now', () => { s.end = null; this.paintTimes(); this.changed(); })),
      h('label.check', 'Step', this.stepIn),
      this.stackBtn,
      h('label.check', { title: 'Start the value axis at 0 instead of the lowest value' }, this.yZero, 'Start Y axis at 0'),
      h('label.check', { title: 'Mark the exemplars of the selected series (trace ids and the like) on the graph' }, this.exemplarsBox, 'Show exemplars'),
      this.zoomOutBtn,
      h('span.muted.hint', 'Drag across the graph to zoom'));

    // Table: evaluation time.
    this.momentIn = h('input.time', { type: 'text', placeholder: 'now', 'aria-label': 'Evaluation time', title: 'Evaluation time: YYYY-MM-DD HH:MM:SS, empty for now' });
    this.momentIn.addEventListener('change', () => {
      const t = this.momentIn.value.trim() ? parseTime(this.momentIn.value) : null;
      this.momentIn.classList.toggle('invalid', this.momentIn.value.trim() !== '' && t === null);
      if (this.momentIn.value.trim() && t === null) return;
      s.moment = t;
      this.paintTimes();
      this.changed();
    });
    const shiftMoment = dir => {
      const base = s.moment ?? Date.now();
      s.moment = Math.round((base + dir * 60e3) / 1000) * 1000;
      if (s.moment >= Date.now()) s.moment = null;
      this.paintTimes();
      this.changed();
    };
    this.tableControls = h('div.controls',
      h('span.muted', 'Evaluation time'),
      h('div.group', btn(ICONS.left, '1 minute earlier', () => shiftMoment(-1)), this.momentIn, btn(ICONS.right, '1 minute later', () => shiftMoment(1)),
        btn(ICONS.close, 'Evaluate now', () => { s.moment = null; this.paintTimes(); this.changed(); })));
    this.paintTimes();
    this.onTz = () => this.paintTimes();
    addEventListener('timezonechange', this.onTz);
  }

  paintTimes() {
    this.endIn.value = this.state.end === null ? '' : formatTime(this.state.end);
    this.momentIn.value = this.state.moment === null ? '' : formatTime(this.state.moment);
    this.stepIn.value = this.state.step ? formatDuration(this.state.step) : '';
    this.stepIn.placeholder = `auto (${formatDuration(this.autoStep())})`;
  }

  autoStep() {
    const width = this.el?.clientWidth || 1000;
    const points = Math.max(100, Math.min(1000, Math.round(width / 2.5)));
    return Math.max(1000, Math.round(this.state.range / points / 1000) * 1000);
  }

  changed() {
    saveURL();
    if (this.state.expr.trim()) this.run();
  }

  /** Shows the span from..to (ms) selected on the graph; a new history entry. */
  zoom(from, to) {
    const s = this.state;
    this.zooms.push({ range: s.range, end: s.end });
    s.end = Math.round(to / 1000) * 1000;
    s.range = Math.max(1000, Math.round((to - from) / 1000) * 1000);
    this.rangeIn.value = formatDuration(s.range);
    this.paintTimes();
    this.paintZoom();
    saveURL(true);
    if (s.expr.trim()) this.run();
  }

  /** Back to the range and end before the last zoom. */
  zoomBack() {
    const prev = this.zooms.pop();
    if (!prev) return;
    Object.assign(this.state, prev);
    this.rangeIn.value = formatDuration(this.state.range);
    this.paintTimes();
    this.paintZoom();
    saveURL(true);
    if (this.state.expr.trim()) this.run();
  }

  paintZoom() {
    this.zoomOutBtn.hidden = !this.zooms.length;
  }

  // ---------------------------------------------------------- running

  showParseError(msg) {
    const pos = parseErrorPos(msg);
    if (!pos) return false;
    this.editor.setError(pos);
    const line = this.editor.value.split('\n')[pos.line - 1] ?? '';
    const col = Array.from(line).slice(0, pos.col - 1).join('').length;
    fill(this.parseErr,
      h('div', `${pos.line}:${pos.col}: ${pos.message}`),
      h('div', line), h('div.caret-line', `${' '.repeat(col)}^`));
    this.parseErr.hidden = false;
    return true;
  }

  hideParseError() {
    this.parseErr.hidden = true;
  }

  /** Rewrites the expression as /api/v1/format_query formats it. */
  async format() {
    const expr = this.state.expr.trim();
    if (!expr) return;
    this.hideParseError();
    try {
      const { data } = await api('/api/v1/format_query', { query: expr });
      if (data !== this.editor.value) this.editor.replaceAll(data);
    } catch (e) {
      if (!this.showParseError(e.message)) {
        fill(this.output, h('div.alert.alert-error', { role: 'alert' }, `Cannot format: ${e.message}`));
      }
    }
  }

  /** What the last query cost: series returned, samples read, time taken. */
  showCost(res, seriesCount) {
    const st = res.stats;
    if (!st) {
      this.cost.hidden = true;
      return;
    }
    const item = (k, v, title) => h('span.cost-item', { title }, h('span.muted', `${k} `), h('b', { 'data-k': k }, v));
    fill(this.cost,
      item('series', seriesCount.toLocaleString('en-US'), 'Series in the result'),
      item('samples', (st.samples?.totalQueryableSamples ?? 0).toLocaleString('en-US'), 'Samples read from storage to answer the query'),
      item('peak', (st.samples?.peakSamples ?? 0).toLocaleString('en-US'), 'Most samples held in memory at once'),
      item('eval', formatSeconds(st.timings?.evalTotalTime ?? 0), 'Time the server spent evaluating'),
      item('prepare', formatSeconds(st.timings?.queryPreparationTime ?? 0), 'Time spent selecting series before evaluating'));
    this.cost.hidden = false;
  }

  async run(userAction = false) {
    const expr = this.state.expr.trim();
    if (userAction) saveURL(true);
    if (!expr) return;
    remember(expr);
    this.abort?.abort();
    const ac = new AbortController();
    this.abort = ac;
    this.hideParseError();
    this.info.textContent = 'Loading…';
    const t0 = performance.now();
    try {
      if (this.state.tab === 'graph') {
        const end = this.state.end ?? Date.now();
        const step = this.state.step ?? this.autoStep();
        const start = end - this.state.range;
        this.paintTimes();
        const range = api('/api/v1/query_range',
          { query: expr, start: start / 1000, end: end / 1000, step: step / 1000, stats: 'all' }, { signal: ac.signal });
        const exemplars = this.state.exemplars ? fetchExemplars(expr, start, end, ac.signal) : Promise.resolve([]);
        const res = await range;
        const ex = await exemplars;
        if (ac.signal.aborted) return;
        this.showGraph(res, start, end, step, performance.now() - t0, ex);
      } else if (this.state.tab === 'explain') {
        const time = this.state.moment ?? Date.now();
        this.cost.hidden = true;
        await explain(this.output, expr, time, ac.signal);
        if (ac.signal.aborted) return;
        this.info.textContent = `evaluated at ${formatTime(time)}`;
      } else {
        const time = this.state.moment ?? Date.now();
        const res = await api('/api/v1/query', { query: expr, time: time / 1000, stats: 'all' }, { signal: ac.signal });
        if (ac.signal.aborted) return;
        this.showTable(res, performance.now() - t0, time);
      }
    } catch (e) {
      if (e.name === 'AbortError') return;
      if (!(e instanceof ApiError)) console.error(e);
      this.info.textContent = '';
      this.cost.hidden = true;
      const inline = this.showParseError(e.message);
      fill(this.output, inline ? null : h('div.alert.alert-error', { role: 'alert' }, e.message));
    }
  }

  notes(res) {
    return [
      ...res.warnings.map(w => h('div.alert.alert-warn', `Warning: ${w}`)),
      ...res.infos.map(w => h('div.alert.alert-warn', `Info: ${w}`)),
    ];
  }

  showTable(res, ms, time) {
    const { resultType, result } = res.data;
    const out = [...this.notes(res)];
    let count = 0;
    if (resultType === 'scalar' || resultType === 'string') {
      count = 1;
      out.push(h('div.result-scalar', h('span.muted', `${resultType}: `), resultType === 'string' ? JSON.stringify(result[1]) : result[1]));
    } else if (!result.length) {
      out.push(emptyState('Empty query result', 'No series matched, or the expression has no value at this time.'));
    } else {
      count = result.length;
      const rows = result.slice(0, TABLE_LIMIT).map(r => {
        let val;
        if (resultType === 'matrix') {
          val = (r.values || []).map(([t, v]) => h('div', v, h('span.at', ` @${t}`)));
          if (r.histograms) val.push(h('div.muted', `${r.histograms.length} histogram samples`));
        } else if (r.histogram) {
          val = histCell(r.histogram[1]);
        } else {
          val = r.value[1];
        }
        return h('tr', h('td', metricNode(r.metric)), h('td.val', val));
      });
      if (result.length > TABLE_LIMIT) {
        out.push(h('div.alert.alert-warn', `Showing the first ${TABLE_LIMIT} of ${result.length} series.`));
      }
      out.push(h('div.table-wrap', h('table.result-table',
        h('thead', h('tr', h('th', 'Series'), h('th.num', 'Value'))), h('tbody', rows))));
    }
    fill(this.output, out);
    this.showCost(res, count);
    this.info.textContent = `${resultType === 'scalar' || resultType === 'string' ? resultType : `${count} result${count === 1 ? '' : 's'}`} · evaluated at ${formatTime(time)} · ${Math.round(ms)} ms`;
  }

  showGraph(res, start, end, step, ms, exemplars = []) {
    const { resultType, result } = res.data;
    if (resultType !== 'matrix') {
      fill(this.output, h('div.alert.alert-error', `Cannot graph a ${resultType} result.`));
      return;
    }
    const n = Math.floor((end - start) / step) + 1;
    const at = t => Math.round((t * 1000 - start) / step);
    let points = 0;
    // float samples drawn as lines, histogram samples as a heatmap
    const series = [], hists = [];
    for (const r of result) {
      if (r.values?.length || !r.histograms?.length) {
        const values = new Float64Array(n).fill(NaN);
        for (const [t, v] of r.values || []) {
          const k = at(t);
          if (k >= 0 && k < n) values[k] = toNumber(v);
          points++;
        }
        series.push({ metric: r.metric, values });
      }
      if (r.histograms?.length) {
        const hist = new Array(n).fill(null);
        for (const [t, hg] of r.histograms) {
          const k = at(t);
          if (k >= 0 && k < n) hist[k] = hg;
          points++;
        }
        hists.push({ metric: r.metric, hist });
      }
    }
    const out = [...this.notes(res)];
    const unit = hists.length ? '' : guessUnit(this.state.expr);
    if (!result.length) {
      out.push(emptyState('Empty query result', 'No data in this time range.'));
      fill(this.output, out);
    } else if (!hists.length) {
      out.push(this.chart.el, this.chart.legendBar, this.chart.legend);
      fill(this.output, out);
      this.chart.setData({ series, start, step, stacked: this.state.stacked, yMin: this.state.yMin, unit, exemplars });
    } else {
      const view = (label, count, title) => h('button.btn.btn-sm', {
        type: 'button', 'aria-pressed': String(this.state.histCount === count), class: this.state.histCount === count ? 'on' : null, title,
        onclick: () => {
          if (this.state.histCount === count) return;
          this.state.histCount = count;
          saveURL();
          this.showGraph(res, start, end, step, ms, exemplars);
        },
      }, label);
      out.push(h('div.hist-view', { role: 'group', 'aria-label': 'Histograms drawn as' }, h('span.muted', 'Histograms as'),
        view('Heatmap', false, 'Buckets over time, coloured by their counts'),
        view('Count', true, 'Lines of the histograms\' counts of observations, with the float series')));
      if (this.state.histCount) {
        const counts = hists.map(s => ({
          metric: s.metric, values: Float64Array.from(s.hist, hg => (hg ? toNumber(hg.count) : NaN)),
        }));
        out.push(this.chart.el, this.chart.legendBar, this.chart.legend);
        fill(this.output, out);
        this.chart.setData({ series: [...series, ...counts], start, step, stacked: this.state.stacked, yMin: this.state.yMin, unit, exemplars });
      } else {
        out.push(this.heat.el, this.heat.legendBar, this.heat.legend);
        if (series.length) {
          out.push(h('h3.chart-title', `${series.length} float series`), this.chart.el, this.chart.legendBar, this.chart.legend);
        }
        fill(this.output, out);
        this.heat.setData({ series: hists, start, step, unit: boundsUnit(hists, this.state.expr) });
        if (series.length) {
          this.chart.setData({ series, start, step, stacked: this.state.stacked, yMin: this.state.yMin, unit, exemplars });
        }
      }
    }
    this.showCost(res, result.length);
    this.info.textContent = `${result.length} series · ${points} points · step ${formatDuration(step)} · ${Math.round(ms)} ms`;
  }
}

/**
 * The exemplars of the series an expression selects, in a time range (ms):
 * `[{series, labels, value, t}]`; none when the server answers without any
 * (204 for an expression without selectors) or fails.
 */
async function fetchExemplars(expr, start, end, signal) {
  let data;
  try {
    ({ data } = await api('/api/v1/query_exemplars', { query: expr, start: start / 1000, end: end / 1000 }, { signal }));
  } catch {
    return [];
  }
  const out = [];
  for (const s of data || []) {
    for (const e of s.exemplars || []) {
      out.push({ series: s.seriesLabels, labels: e.labels, value: toNumber(e.value), t: e.timestamp * 1000 });
    }
  }
  return out;
}

function toNumber(v) {
  if (v === '+Inf' || v === 'Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  return parseFloat(v);
}

/**
 * A unit for the value axis from the metric names in the expression:
 * "bytes" or "seconds" when every named metric agrees, else none. A
 * histogram's buckets and counts are counts of observations (so is a rate
 * of them); only a quantile over buckets (`histogram_quantile`) is in the
 * unit of the metric's name. Counters of seconds (…_seconds_total) are
 * rates of time, so unitless.
 */
export function guessUnit(expr) {
  const bare = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '')
    .replace(/\{[^}]*\}|\[[^\]]*\]/g, '');
  const names = bare.match(/[a-zA-Z_:][\w:]*_(?:bytes|seconds|count|bucket|sum|total|info)\b/g) || [];
  const quantile = /\bhistogram_quantiles?\s*\(/.test(bare);
  let unit = null;
  for (const n of names) {
    let u;
    if (/_count$/.test(n)) continue;
    if (/_bucket$/.test(n) && !quantile) u = '';
    else if (/_bytes(_total|_bucket|_sum)?$/.test(n)) u = 'bytes';
    else if (/_seconds(_bucket|_sum)?$/.test(n)) u = 'seconds';
    else u = '';
    if (unit === null) unit = u;
    else if (unit !== u) return '';
  }
  return unit || '';
}

/**
 * The unit of histogram series' bucket bounds: that of their metric name
 * (`…_seconds`, `…_bytes`) when they keep it, else of the expression's.
 */
function boundsUnit(hists, expr) {
  const names = new Set(hists.map(s => s.metric.__name__));
  const [name] = names;
  if (names.size !== 1 || !name) return guessUnit(expr);
  return /_seconds$/.test(name) ? 'seconds' : /_bytes$/.test(name) ? 'bytes' : '';
}

/** A histogram sample: count and sum, and its buckets (interval, count)
 * as bars, as Prometheus's table shows it. */
function histCell(hg) {
  const bs = hg.buckets || [];
  const max = Math.max(1e-300, ...bs.map(b => +b[3]));
  return h('div.hist', h('span.muted', `count ${hg.count}, sum ${hg.sum}`),
    h('details', h('summary', `${bs.length} bucket${bs.length === 1 ? '' : 's'}`),
      h('table.hist-buckets', bs.map(b => h('tr', h('td', bucketRange(b)), h('td.num', b[3]),
        h('td.bar', h('div', { style: { width: `${(100 * b[3] / max).toFixed(1)}%` } })))))));
}
