// Targets and Service discovery pages, both from /api/v1/targets.

import {
  h, fill, get, icon, ICONS, labelChips, emptyState, errorBox, formatAgo, formatSeconds,
  formatTime, debounce,
} from './api.js';

const HEALTH = ['up', 'down', 'unknown'];
let timer = null;

export async function mount(el, path) {
  return path === '/service-discovery' ? discovery(el) : targets(el);
}

export function unmount() {
  clearInterval(timer);
  timer = null;
}

function healthBadge(health) {
  const cls = health === 'up' ? 'badge-ok' : health === 'down' ? 'badge-bad' : '';
  return h('span.badge', { class: cls }, health || 'unknown');
}

/** Search text for a target: endpoint, labels, error. */
function haystack(t) {
  return [t.scrapeUrl, t.lastError, ...Object.entries(t.labels || t.discoveredLabels || {}).map(([k, v]) => `${k}="${v}"`)]
    .join(' ').toLowerCase();
}

function matches(t, words) {
  if (!words.length) return true;
  const s = haystack(t);
  return words.every(w => s.includes(w));
}

// -------------------------------------------------------------- targets

async function targets(el) {
  const filter = { health: new Set(HEALTH), text: '', unhealthyPools: false };
  const search = h('input', { type: 'search', placeholder: 'Filter by endpoint, label or error', 'aria-label': 'Filter targets' });
  const healthBtns = HEALTH.map(hl => h('button.btn.on', {
    type: 'button', 'aria-pressed': 'true', onclick: e => {
      if (filter.health.has(hl)) filter.health.delete(hl);
      else filter.health.add(hl);
      e.currentTarget.classList.toggle('on', filter.health.has(hl));
      e.currentTarget.setAttribute('aria-pressed', String(filter.health.has(hl)));
      paint();
    },
  }, hl[0].toUpperCase() + hl.slice(1)));
  const unhealthy = h('input', { type: 'checkbox' });
  const collapseBtn = h('button.btn', { type: 'button' }, 'Collapse all');
  const out = h('div', h('div.loading', 'Loading targets…'));
  const status = h('span.muted', { 'aria-live': 'polite' });
  el.append(h('h1', 'Targets'),
    h('div.toolbar',
      h('div.group', { role: 'group', 'aria-label': 'Show health' }, healthBtns),
      h('label.check', unhealthy, 'Only unhealthy pools'),
      search, collapseBtn, h('span.grow'), status,
      h('button.btn.btn-icon', { type: 'button', title: 'Refresh', onclick: () => load() }, icon(ICONS.refresh, 'Refresh'))),
    out);

  let data = null;
  const open = new Map(); // pool → open?
  search.addEventListener('input', debounce(() => { filter.text = search.value; paint(); }, 120));
  unhealthy.addEventListener('change', () => { filter.unhealthyPools = unhealthy.checked; paint(); });
  collapseBtn.addEventListener('click', () => {
    const anyOpen = [...out.querySelectorAll('details')].some(d => d.open);
    for (const d of out.querySelectorAll('details')) {
      d.open = !anyOpen;
      open.set(d.dataset.pool, !anyOpen);
    }
    collapseBtn.textContent = anyOpen ? 'Expand all' : 'Collapse all';
  });

  function paint() {
    if (!data) return;
    const words = filter.text.toLowerCase().split(/\s+/).filter(Boolean);
    const pools = new Map();
    for (const t of data.activeTargets || []) {
      if (!pools.has(t.scrapePool)) pools.set(t.scrapePool, []);
      pools.get(t.scrapePool).push(t);
    }
    if (!pools.size) {
      fill(out, emptyState('No targets', 'No scrape configuration has discovered any target yet. Add scrape_configs to the configuration file.'));
      return;
    }
    const cards = [];
    for (const [pool, all] of [...pools].sort((a, b) => a[0].localeCompare(b[0]))) {
      const up = all.filter(t => t.health === 'up').length;
      if (filter.unhealthyPools && up === all.length) continue;
      const shown = all.filter(t => filter.health.has(t.health || 'unknown') && matches(t, words));
      if (!shown.length && (words.length || filter.health.size < HEALTH.length)) continue;
      const rows = shown.map(t => h('tr',
        h('td', h('a', { href: t.scrapeUrl, target: '_blank', rel: 'noopener' }, t.scrapeUrl)),
        h('td', { 'data-label': 'State' }, healthBadge(t.health)),
        h('td', { 'data-label': 'Labels' }, labelChips(t.labels)),
        h('td.num', { 'data-label': 'Last scrape', title: t.lastScrape ? formatTime(Date.parse(t.lastScrape), true) : '' }, formatAgo(t.lastScrape)),
        h('td.num', { 'data-label': 'Duration' }, formatSeconds(t.lastScrapeDuration)),
        t.lastError ? h('td', { 'data-label': 'Error' }, h('span.error-text', t.lastError)) : h('td.no-err', h('span.muted', '–'))));
      const d = h('details.card', { open: open.get(pool) ?? true, 'data-pool': pool },
        h('summary.card-head', h('div.pool-head', icon(ICONS.chevron), h('h2', pool),
          h('span.badge', { class: up === all.length ? 'badge-ok' : up === 0 ? 'badge-bad' : 'badge-warn' }, `${up} / ${all.length} up`))),
        shown.length
          ? h('div.table-wrap', h('table.target-table',
            h('thead', h('tr', h('th', 'Endpoint'), h('th', 'State'), h('th', 'Labels'), h('th.num', 'Last scrape'), h('th.num', 'Duration'), h('th', 'Error'))),
            h('tbody', rows)))
          : h('div.empty', 'No targets match the filter.'));
      d.addEventListener('toggle', () => open.set(pool, d.open));
      cards.push(d);
    }
    fill(out, cards.length ? cards : emptyState('No targets match', 'Change the health or text filter to see more.'));
  }

  async function load() {
    try {
      data = await get('/api/v1/targets', { state: 'active' });
      status.textContent = `Updated ${formatTime(Date.now())}`;
      paint();
    } catch (e) {
      fill(out, errorBox(e));
    }
  }
  await load();
  timer = setInterval(() => { if (!document.hidden && el.isConnected) load(); }, 10e3);
}

// ----------------------------------------------------- service discovery

async function discovery(el) {
  const search = h('input', { type: 'search', placeholder: 'Filter by label', 'aria-label': 'Filter targets' });
  const showDropped = h('input', { type: 'checkbox', checked: true });
  const out = h('div', h('div.loading', 'Loading…'));
  el.append(h('h1', 'Service discovery'),
    h('div.toolbar', search, h('label.check', showDropped, 'Show dropped targets')), out);
  let data;
  try {
    data = await get('/api/v1/targets');
  } catch (e) {
    fill(out, errorBox(e));
    return;
  }
  const paint = () => {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    const pools = new Map();
    const add = (pool, t, dropped) => {
      if (!pools.has(pool)) pools.set(pool, []);
      pools.get(pool).push({ t, dropped });
    };
    for (const t of data.activeTargets || []) add(t.scrapePool, t, false);
    for (const t of data.droppedTargets || []) add(t.scrapePool || t.discoveredLabels?.job || '(unknown)', t, true);
    if (!pools.size) {
      fill(out, emptyState('Nothing discovered', 'No scrape configuration has discovered any target.'));
      return;
    }
    const cards = [];
    for (const [pool, items] of [...pools].sort((a, b) => a[0].localeCompare(b[0]))) {
      const active = items.filter(x => !x.dropped).length;
      const droppedCount = data.droppedTargetCounts?.[pool] ?? items.length - active;
      const shown = items.filter(x => (showDropped.checked || !x.dropped) &&
        (!words.length || words.every(w => Object.entries({ ...x.t.discoveredLabels, ...x.t.labels })
          .some(([k, v]) => `${k}="${v}"`.toLowerCase().includes(w)))));
      if (!shown.length && words.length) continue;
      const rows = shown.flatMap(({ t, dropped }) => {
        const steps = h('tr.relabel-row', { hidden: true }, h('td', { colspan: 2 }));
        const btn = h('button.btn.btn-sm', { type: 'button', 'aria-expanded': 'false', title: 'How relabel_configs turned the discovered labels into the target labels' }, 'Relabeling');
        btn.addEventListener('click', () => {
          const open = steps.hidden;
          steps.hidden = !open;
          btn.setAttribute('aria-expanded', String(open));
          if (open && !steps.firstChild.childElementCount) relabelSteps(pool, t.discoveredLabels, steps.firstChild);
        });
        return [h('tr',
          h('td', { 'data-label': 'Discovered' }, labelChips(t.discoveredLabels), h('div.gap-top', btn)),
          h('td', { 'data-label': 'Target' }, dropped ? h('span.badge.badge-warn', 'Dropped') : labelChips(t.labels))), steps];
      });
      cards.push(h('details.card', { open: true },
        h('summary.card-head', h('div.pool-head', icon(ICONS.chevron), h('h2', pool),
          h('span.badge.badge-ok', `${active} active`),
          droppedCount ? h('span.badge.badge-warn', `${droppedCount} dropped`) : null)),
        rows.length
          ? h('div.table-wrap', h('table.sd-table',
            h('thead', h('tr', h('th', 'Discovered labels'), h('th', 'Target labels'))), h('tbody', rows)))
          : h('div.empty', 'No targets to show.')));
    }
    fill(out, cards.length ? cards : emptyState('No targets match the filter'));
  };
  search.addEventListener('input', debounce(paint, 120));
  showDropped.addEventListener('change', paint);
  paint();
}

/** The steps of relabeling `labels` in `pool`, into `el`. */
async function relabelSteps(pool, labels, el) {
  fill(el, h('div.loading', 'Loading relabeling steps…'));
  let d;
  try {
    d = await get('/api/v1/targets/relabel_steps', { scrapePool: pool, labels: JSON.stringify(labels || {}) });
  } catch (e) {
    fill(el, errorBox(e));
    return;
  }
  const steps = d.steps || [];
  if (!steps.length) {
    fill(el, h('div.muted', 'This scrape pool has no relabel_configs: the discovered labels are the target labels (less those starting with __).'));
    return;
  }
  let prev = labels || {};
  const rows = [];
  steps.forEach((st, i) => {
    const r = st.rule || {};
    const fields = [
      r.source_labels?.length ? ['source_labels', `[${r.source_labels.join(', ')}]`] : null,
      r.separator !== undefined && r.separator !== ';' ? ['separator', JSON.stringify(r.separator)] : null,
      r.regex !== undefined && r.regex !== '(.*)' ? ['regex', r.regex] : null,
      r.modulus ? ['modulus', String(r.modulus)] : null,
      r.target_label ? ['target_label', r.target_label] : null,
      r.replacement !== undefined && r.replacement !== '$1' ? ['replacement', JSON.stringify(r.replacement)] : null,
    ].filter(Boolean);
    const out = st.output || {};
    const chips = Object.entries(out).map(([k, v]) => h('span.chip', { class: prev[k] !== v && 'chip-changed', title: prev[k] === v ? '' : prev[k] === undefined ? 'added by this step' : `was ${JSON.stringify(prev[k])}` },
      h('span.chip-k', k), '=', h('span.chip-v', v)));
    const removed = Object.keys(prev).filter(k => !(k in out));
    rows.push(h('tr.relabel-step', { 'data-keep': String(st.keep) },
      h('td.num', String(i + 1)),
      h('td', h('div', h('b', r.action || 'replace')), h('dl.rule-meta', fields.map(([k, v]) => [h('dt', k), h('dd.mono', v)]))),
      h('td', st.keep
        ? [h('div.chips', chips), removed.length ? h('div.muted.gap-top', `removed: ${removed.join(', ')}`) : null]
        : h('span.badge.badge-warn', 'Dropped')),
      h('td', h('span.badge', { class: st.keep ? 'badge-ok' : 'badge-bad' }, st.keep ? 'keep' : 'drop'))));
    if (st.keep) prev = out;
  });
  fill(el, h('div.table-wrap', h('table.relabel-table', { 'aria-label': 'Relabeling steps' },
    h('thead', h('tr', h('th.num', '#'), h('th', 'Rule'), h('th', 'Labels after the rule'), h('th', 'Result'))),
    h('tbody', rows))));
}
