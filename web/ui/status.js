// Status pages: runtime & build information, TSDB status, command-line
// flags and the loaded configuration.

import { h, fill, get, api, icon, ICONS, emptyState, errorBox, formatTime, formatAgo, debounce } from './api.js';

export async function mount(el, path) {
  switch (path) {
    case '/tsdb-status': return tsdb(el);
    case '/flags': return flags(el);
    case '/config': return config(el);
    default: return runtime(el);
  }
}

const RUNTIME_NAMES = {
  startTime: 'Start time',
  CWD: 'Working directory',
  hostname: 'Hostname',
  serverTime: 'Server time',
  reloadConfigSuccess: 'Configuration reload',
  lastConfigTime: 'Last successful configuration reload',
  corruptionCount: 'WAL corruptions',
  goroutineCount: 'Tasks',
  GOMAXPROCS: 'Worker threads',
  GOMEMLIMIT: 'Memory limit',
  GOGC: 'GC setting',
  GODEBUG: 'Debug setting',
  storageRetention: 'Storage retention',
};

const BUILD_NAMES = {
  version: 'Version', revision: 'Revision', branch: 'Branch', buildUser: 'Build user',
  buildDate: 'Build date', goVersion: 'Toolchain version',
};

function kvTable(obj, names = {}, fmt = (k, v) => v) {
  const rows = Object.entries(obj)
    .filter(([, v]) => v !== '' && v !== null && v !== undefined)
    .map(([k, v]) => h('tr', h('th', { scope: 'row' }, names[k] || k), h('td', fmt(k, v))));
  return h('div.table-wrap', h('table.kv', h('tbody', rows)));
}

function section(title, body) {
  return h('section.card', h('div.card-head', h('h2', title)), h('div.card-body', body));
}

// -------------------------------------------------------------- runtime

async function runtime(el) {
  el.append(h('h1', 'Runtime & build information'));
  const [rt, build, ams] = await Promise.allSettled([
    get('/api/v1/status/runtimeinfo'), get('/api/v1/status/buildinfo'), get('/api/v1/alertmanagers'),
  ]);
  const timeish = new Set(['startTime', 'serverTime', 'lastConfigTime']);
  el.append(section('Runtime information', rt.status === 'fulfilled'
    ? kvTable(rt.value, RUNTIME_NAMES, (k, v) => {
      if (timeish.has(k)) return [formatTime(Date.parse(v)), h('span.muted', ` (${formatAgo(v)})`)];
      if (k === 'reloadConfigSuccess') return h('span.badge', { class: v ? 'badge-ok' : 'badge-bad' }, v ? 'successful' : 'failed');
      if (k === 'GOMEMLIMIT' && v >= 2 ** 62) return 'none';
      return String(v);
    })
    : errorBox(rt.reason)));
  el.append(section('Build information', build.status === 'fulfilled'
    ? kvTable(build.value, BUILD_NAMES, (k, v) => String(v)) : errorBox(build.reason)));
  if (ams.status === 'fulfilled') {
    const act = ams.value.activeAlertmanagers || [];
    el.append(section('Alertmanagers', act.length
      ? h('ul', act.map(a => h('li', h('a', { href: a.url }, a.url))))
      : h('span.muted', 'No Alertmanagers configured.')));
  }
}

// ----------------------------------------------------------------- TSDB

async function tsdb(el) {
  el.append(h('h1', 'TSDB status'));
  let d;
  try {
    d = await get('/api/v1/status/tsdb');
  } catch (e) {
    el.append(errorBox(e));
    return;
  }
  const hs = d.headStats || {};
  const t = ms => (Number.isFinite(ms) && Math.abs(ms) < 8.64e15 ? formatTime(ms) : '–');
  const stat = (k, v, small) => h('div.stat', h('div.v', { class: small && 'small' }, v), h('div.k', k));
  el.append(h('section', { 'aria-label': 'Head block' },
    h('h2', 'Head block'),
    h('div.stat-grid',
      stat('Series', (hs.numSeries ?? 0).toLocaleString()),
      stat('Chunks', (hs.chunkCount ?? 0).toLocaleString()),
      stat('Label pairs', (hs.numLabelPairs ?? 0).toLocaleString()),
      stat('Earliest sample', hs.numSeries ? t(hs.minTime) : '–', true),
      stat('Latest sample', hs.numSeries ? t(hs.maxTime) : '–', true))));
  const table = (title, rows, col, nameCol = 'Name') => {
    rows = rows || [];
    const max = Math.max(1, ...rows.map(r => r.value));
    return section(title, rows.length
      ? h('div.table-wrap', h('table',
        h('thead', h('tr', h('th', nameCol), h('th.num', col))),
        h('tbody', rows.map(r => h('tr',
          h('td.mono.break', r.name),
          h('td.num.count', r.value.toLocaleString(),
            h('span.bar', { style: { width: `${(r.value / max) * 100}%` } })))))))
      : h('span.muted', 'No data yet.'));
  };
  el.append(h('h2', 'Top 10 by cardinality'), h('div.grid2',
    table('Series count by metric name', d.seriesCountByMetricName, 'Series', 'Metric'),
    table('Label value count by label name', d.labelValueCountByLabelName, 'Values', 'Label'),
    table('Memory used by label name', d.memoryInBytesByLabelName, 'Bytes', 'Label'),
    table('Series count by label value pair', d.seriesCountByLabelValuePair, 'Series', 'Label pair')));
  // one answer, every metric, for both tables
  const all = api('/api/v1/status/tsdb', { limit: LIMIT });
  el.append(await metricCardinality(hs.numSeries ?? 0, all), await metricBytes(all));
}

const LIMIT = 10000;

/** Bytes in B, KiB, MiB, … with 3 significant digits. */
function size(b) {
  let i = 0;
  for (; b >= 1024 && i < 4; i++) b /= 1024;
  return i ? `${b.toFixed(b < 10 ? 2 : b < 100 ? 1 : 0)} ${'KMGT'[i - 1]}iB` : `${b} B`;
}

/** Every metric name with its head series and share of all series, searchable. */
async function metricCardinality(total, all) {
  const search = h('input', { type: 'search', placeholder: 'Filter metric names', 'aria-label': 'Filter metrics by name' });
  const out = h('div');
  const note = h('span.muted');
  const card = h('section.card#metric-cardinality', { 'aria-label': 'Cardinality by metric' },
    h('div.card-head', h('h2', 'Cardinality by metric'), note, h('span.grow'), search), out);
  let rows;
  try {
    rows = (await all).data.seriesCountByMetricName || [];
  } catch (e) {
    fill(out, errorBox(e));
    return card;
  }
  const max = Math.max(1, ...rows.map(r => r.value));
  note.textContent = `${rows.length.toLocaleString('en-US')} metric${rows.length === 1 ? '' : 's'}${rows.length >= LIMIT ? ` (the ${LIMIT} largest)` : ''} · ${total.toLocaleString('en-US')} series in the head`;
  const paint = () => {
    const w = search.value.trim().toLowerCase();
    const shown = rows.filter(r => !w || r.name.toLowerCase().includes(w));
    fill(out, shown.length
      ? h('div.table-wrap.card-scroll', h('table.card-table',
        h('thead', h('tr', h('th', 'Metric'), h('th.num', 'Series'), h('th.num', 'Share'))),
        h('tbody', shown.slice(0, 2000).map(r => h('tr', { 'data-metric': r.name },
          h('td.mono.break', r.name),
          h('td.num.count', r.value.toLocaleString('en-US'), h('span.bar', { style: { width: `${(r.value / max) * 100}%` } })),
          h('td.num', total ? `${((r.value / total) * 100).toFixed(1)}%` : '–'))))))
      : h('div.empty', 'No metric matches.'));
  };
  search.addEventListener('input', debounce(paint, 100));
  paint();
  return card;
}

/** The bytes on disk of each metric's series, sortable by series and bytes. */
async function metricBytes(all) {
  const out = h('div');
  const note = h('span.muted');
  const card = h('section.card#metric-bytes', { 'aria-label': 'Bytes on disk by metric' },
    h('div.card-head', h('h2', 'Bytes on disk by metric'), note), out);
  let rows, warn;
  try {
    ({ data: { bytesOnDiskByMetricName: rows = [] }, warnings: [warn] } = await all);
  } catch (e) {
    fill(out, errorBox(e));
    return card;
  }
  const n = x => x.toLocaleString('en-US');
  note.textContent = `${size(rows.reduce((a, r) => a + r.value, 0))} of chunks in ${n(rows.length)} metric${rows.length === 1 ? '' : 's'}`;
  const cols = [['series', 'Series', n], ['blockBytes', 'Blocks', size], ['headBytes', 'Head', size], ['value', 'Total', size]];
  if (rows.some(r => r.histogramBytes)) cols.splice(3, 0, ['histogramBytes', 'Histograms', size]);
  const max = Math.max(1, ...rows.map(r => r.value));
  let key = 'value', desc = true;
  const paint = () => {
    const shown = [...rows].sort((a, b) => (desc ? b[key] - a[key] : a[key] - b[key]) || (a.name < b.name ? -1 : 1));
    fill(out, rows.length
      ? h('div.table-wrap.card-scroll', h('table.card-table',
        h('thead', h('tr', h('th', 'Metric'), cols.map(([k, label]) => h('th.num', { 'aria-sort': k === key ? `${desc ? 'de' : 'a'}scending` : 'none' },
          h('button.sort', {
            type: 'button', 'data-key': k,
            onclick: () => { desc = k !== key || !desc; key = k; paint(); out.querySelector(`[data-key=${k}]`).focus(); },
          }, label, k === key ? (desc ? ' ↓' : ' ↑') : ''))))),
        h('tbody', shown.slice(0, 2000).map(r => h('tr', { 'data-metric': r.name },
          h('td.mono.break', r.name),
          cols.map(([k, , f]) => h('td.num', { class: k, title: k !== 'series' && `${n(r[k])} bytes` }, f(r[k]),
            k === 'value' && h('span.bar', { style: { width: `${(r.value / max) * 100}%` } }))))))))
      : h('div.empty', warn || 'No data yet.'));
  };
  paint();
  return card;
}

// ---------------------------------------------------------------- flags

async function flags(el) {
  const search = h('input', { type: 'search', placeholder: 'Filter flags', 'aria-label': 'Filter flags' });
  const out = h('div.card');
  el.append(h('h1', 'Command-line flags'), h('div.toolbar', search), out);
  let d;
  try {
    d = await get('/api/v1/status/flags');
  } catch (e) {
    fill(out, errorBox(e));
    return;
  }
  const entries = Object.entries(d).sort((a, b) => a[0].localeCompare(b[0]));
  const paint = () => {
    const w = search.value.toLowerCase();
    const rows = entries.filter(([k, v]) => !w || k.toLowerCase().includes(w) || String(v).toLowerCase().includes(w))
      .map(([k, v]) => h('tr', h('th', { scope: 'row' }, h('code', `--${k}`)), h('td', v === '' ? h('span.muted', '(empty)') : v)));
    fill(out, rows.length
      ? h('div.table-wrap', h('table.kv', h('thead', h('tr', h('th', 'Flag'), h('th', 'Value'))), h('tbody', rows)))
      : emptyState('No flags match'));
  };
  search.addEventListener('input', debounce(paint, 100));
  paint();
}

// --------------------------------------------------------------- config

async function config(el) {
  const pre = h('pre.block', { tabindex: '0', 'aria-label': 'Configuration (YAML)' }, 'Loading…');
  const copy = h('button.btn', { type: 'button' }, icon(ICONS.copy), 'Copy');
  el.append(h('div.toolbar', h('h1.flush', 'Configuration'), h('span.grow'), copy), h('div.card', h('div.card-body', pre)));
  let d;
  try {
    d = await get('/api/v1/status/config');
  } catch (e) {
    pre.replaceWith(errorBox(e));
    return;
  }
  pre.textContent = d.yaml || '';
  if (!d.yaml) pre.replaceWith(emptyState('Empty configuration'));
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(d.yaml);
      copy.lastChild.textContent = 'Copied';
    } catch {
      // No clipboard (insecure context): select the text instead.
      getSelection().selectAllChildren(pre);
      copy.lastChild.textContent = 'Selected';
    }
    setTimeout(() => { copy.lastChild.textContent = 'Copy'; }, 1500);
  });
}
