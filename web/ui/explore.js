// Helpers of the query page: the query history (kept in the browser's
// localStorage, searchable, click to reuse) and the metrics explorer
// (fuzzy search over metric names with their type, help and labels).

import { h, fill, get, icon, ICONS, emptyState, errorBox, formatAgo, debounce } from './api.js';

// ------------------------------------------------------------ history

const HISTORY_KEY = 'flint.queryHistory';
const HISTORY_MAX = 250;

/** Past queries, most recent first: [{ expr, at (ms) }]. */
export function historyList() {
  try {
    const v = JSON.parse(localStorage.getItem(HISTORY_KEY) || '[]');
    return Array.isArray(v) ? v.filter(x => x && typeof x.expr === 'string') : [];
  } catch {
    return [];
  }
}

/** Puts an executed expression at the top of the history. */
export function remember(expr) {
  expr = expr.trim();
  if (!expr) return;
  const list = historyList().filter(x => x.expr !== expr);
  list.unshift({ expr, at: Date.now() });
  try {
    localStorage.setItem(HISTORY_KEY, JSON.stringify(list.slice(0, HISTORY_MAX)));
  } catch { /* storage full or disabled */ }
}

let openPopover = null;

function closePopover() {
  openPopover?.();
  openPopover = null;
}

/**
 * Opens the history under `anchor`; `onPick(expr)` when one is chosen.
 */
export function showHistory(anchor, onPick) {
  closePopover();
  const search = h('input', { type: 'search', placeholder: 'Search past queries', 'aria-label': 'Search query history' });
  const list = h('ul.pop-list', { role: 'listbox', 'aria-label': 'Past queries' });
  const clear = h('button.btn.btn-sm', { type: 'button' }, 'Clear history');
  const el = h('div.popover', { role: 'dialog', 'aria-label': 'Query history' },
    h('div.pop-head', search, clear), list);
  const paint = () => {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    const all = historyList();
    const shown = all.filter(x => words.every(w => x.expr.toLowerCase().includes(w)));
    fill(list, shown.length
      ? shown.slice(0, 100).map(x => h('li', { role: 'option' },
        h('button.pop-item', { type: 'button', title: 'Use this query', onclick: () => { closePopover(); onPick(x.expr); } },
          h('code.pop-expr', x.expr), h('span.muted.pop-when', formatAgo(x.at)))))
      : h('li.empty', all.length ? 'No past query matches.' : 'No queries yet: executed queries are kept here, in this browser.'));
  };
  clear.addEventListener('click', () => {
    localStorage.removeItem(HISTORY_KEY);
    paint();
  });
  search.addEventListener('input', debounce(paint, 80));
  const outside = e => {
    if (!el.contains(e.target) && !anchor.contains(e.target)) closePopover();
  };
  const esc = e => {
    if (e.key === 'Escape') {
      closePopover();
      anchor.focus();
    }
  };
  document.addEventListener('mousedown', outside);
  el.addEventListener('keydown', esc);
  openPopover = () => {
    document.removeEventListener('mousedown', outside);
    el.remove();
  };
  anchor.after(el);
  paint();
  search.focus();
}

// --------------------------------------------------- fuzzy matching

/**
 * Scores `name` against the fuzzy query `q` (lower case): the positions of
 * the matched characters and a score (lower is better), or null. A
 * substring beats scattered characters; matches at word starts (after
 * `_` or `:`) and early ones score better.
 */
export function fuzzy(name, q) {
  if (!q) return { score: 0, at: [] };
  const l = name.toLowerCase();
  const i = l.indexOf(q);
  if (i >= 0) {
    const wordStart = i === 0 || l[i - 1] === '_' || l[i - 1] === ':';
    return { score: (i === 0 ? 0 : wordStart ? 1 : 2) * 1000 + l.length, at: [...q].map((_, k) => i + k) };
  }
  const at = [];
  let gaps = 0, j = 0;
  for (let k = 0; k < l.length && j < q.length; k++) {
    if (l[k] === q[j]) {
      if (at.length && k !== at[at.length - 1] + 1 && !(l[k - 1] === '_' || l[k - 1] === ':')) gaps++;
      at.push(k);
      j++;
    }
  }
  if (j < q.length) return null;
  return { score: 3000 + gaps * 100 + at[0] + l.length / 100, at };
}

function marked(name, at) {
  const set = new Set(at);
  const out = [];
  let run = '', inMark = false;
  const flush = () => {
    if (run) out.push(inMark ? h('mark', run) : run);
    run = '';
  };
  [...name].forEach((c, k) => {
    if (set.has(k) !== inMark) {
      flush();
      inMark = set.has(k);
    }
    run += c;
  });
  flush();
  return out;
}

// --------------------------------------------------- metrics explorer

const TYPE_CLASS = { counter: 'badge-ok', gauge: 'badge-warn', histogram: 'badge-bad', summary: 'badge-bad' };

/**
 * Opens the metrics explorer; `onInsert(name)` inserts a chosen metric
 * name into the expression.
 */
export async function showExplorer(onInsert) {
  const search = h('input', { type: 'search', placeholder: 'Search metrics (fuzzy: letters in order)', 'aria-label': 'Search metrics' });
  const list = h('ul.mx-list', { 'aria-label': 'Metrics' });
  const count = h('span.muted', { 'aria-live': 'polite' });
  const close = h('button.btn.btn-icon', { type: 'button', title: 'Close' }, icon(ICONS.close, 'Close'));
  const dlg = h('dialog.modal', { 'aria-label': 'Metrics explorer' },
    h('div.modal-head', h('h2', 'Metrics explorer'), h('span.grow'), count, close),
    h('div.modal-body', search, list));
  close.addEventListener('click', () => dlg.close());
  dlg.addEventListener('close', () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
  search.focus();
  fill(list, h('li.loading', 'Loading metrics…'));
  let names, meta;
  try {
    [names, meta] = await Promise.all([get('/api/v1/label/__name__/values'), get('/api/v1/metadata').then(d => d || {})]);
  } catch (e) {
    fill(list, h('li', errorBox(e)));
    return;
  }
  const info = name => {
    // a histogram's or summary's series carry the family's metadata
    const base = meta[name] ? name : name.replace(/_(bucket|count|sum|total|created)$/, '');
    return (meta[base] || [])[0] || null;
  };
  const LIMIT = 300;
  const paint = () => {
    const q = search.value.trim().toLowerCase();
    const hits = [];
    for (const n of names) {
      const m = fuzzy(n, q);
      if (m) hits.push([m, n]);
    }
    hits.sort((a, b) => a[0].score - b[0].score || (a[1] < b[1] ? -1 : 1));
    count.textContent = `${hits.length} of ${names.length} metrics`;
    fill(list, hits.length
      ? hits.slice(0, LIMIT).map(([m, n]) => row(n, m.at, info(n)))
      : h('li', emptyState('No metric matches')));
  };
  const row = (name, at, md) => {
    const labels = h('div.mx-labels', { hidden: true });
    const labelsBtn = h('button.btn.btn-sm', { type: 'button', 'aria-expanded': 'false' }, 'Labels');
    labelsBtn.addEventListener('click', () => {
      const show = labels.hidden;
      labels.hidden = !show;
      labelsBtn.setAttribute('aria-expanded', String(show));
      if (show && !labels.childElementCount) loadLabels(name, labels);
    });
    return h('li.mx-row', { 'data-metric': name },
      h('div.mx-top',
        h('button.mx-name', { type: 'button', title: 'Insert at the cursor', onclick: () => { dlg.close(); onInsert(name); } }, marked(name, at)),
        md ? h('span.badge.mx-type', { class: TYPE_CLASS[md.type] }, md.type) : null,
        h('span.grow'), labelsBtn),
      md?.help ? h('div.mx-help', md.help) : null,
      labels);
  };
  search.addEventListener('input', debounce(paint, 60));
  paint();
}

/** The label names of a metric's series, with their values. */
async function loadLabels(name, el) {
  fill(el, h('div.loading', 'Loading labels…'));
  let series;
  try {
    series = await get('/api/v1/series', { 'match[]': `{__name__=${JSON.stringify(name)}}`, start: Date.now() / 1000 - 3600 });
  } catch (e) {
    fill(el, errorBox(e));
    return;
  }
  const byLabel = new Map();
  for (const s of series) {
    for (const [k, v] of Object.entries(s)) {
      if (k === '__name__') continue;
      if (!byLabel.has(k)) byLabel.set(k, new Set());
      byLabel.get(k).add(v);
    }
  }
  if (!byLabel.size) {
    fill(el, h('div.muted', series.length ? 'No labels besides the name.' : 'No series in the last hour.'));
    return;
  }
  fill(el, h('table.mx-label-table',
    h('caption.muted', `${series.length} series`),
    h('thead', h('tr', h('th', 'Label'), h('th.num', 'Values'), h('th', 'Some values'))),
    h('tbody', [...byLabel].sort((a, b) => a[0].localeCompare(b[0])).map(([k, vs]) => h('tr',
      h('td.mono.mx-label', k), h('td.num', String(vs.size)),
      h('td', h('div.chips', [...vs].sort().slice(0, 8).map(v => h('span.chip', h('span.chip-v', v))),
        vs.size > 8 ? h('span.muted', `+${vs.size - 8} more`) : null)))))));
}
