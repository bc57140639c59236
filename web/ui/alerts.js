// Alerts page (/api/v1/rules?type=alert and /api/v1/alerts) and Rules page
// (/api/v1/rules).

import {
  PREFIX, h, fill, get, icon, ICONS, labelChips, emptyState, errorBox, formatAgo, formatSeconds,
  formatTime, formatDuration, debounce,
} from './api.js';

export async function mount(el, path) {
  return path === '/rules' ? rules(el) : alerts(el);
}

const STATES = ['firing', 'pending', 'inactive'];

function stateClass(state) {
  return state === 'firing' ? 'badge-bad' : state === 'pending' ? 'badge-warn' : 'badge-ok';
}

function stateBadge(state) {
  return h('span.badge', { class: stateClass(state) }, state);
}

function healthBadge(health) {
  const cls = health === 'ok' ? 'badge-ok' : health === 'err' ? 'badge-bad' : '';
  return h('span.badge', { class: cls }, health === 'err' ? 'error' : health || 'unknown');
}

function queryLink(expr) {
  const q = new URLSearchParams({ 'g0.expr': expr, 'g0.tab': 'table' });
  return h('a.rule-query', { href: `${PREFIX}/query?${q}`, title: 'Open in the query page' }, expr);
}

function since(t) {
  return t && !t.startsWith('0001') ? h('span', { title: formatTime(Date.parse(t)) }, formatAgo(t)) : h('span.muted', '–');
}

function durationOf(seconds) {
  return seconds ? formatDuration(seconds * 1000) : '0s';
}

// --------------------------------------------------------------- alerts

async function alerts(el) {
  // the filters live in the URL (?state=firing&state=pending&search=…)
  const params = new URLSearchParams(location.search);
  const wanted = params.getAll('state').filter(s => STATES.includes(s));
  const show = new Set(wanted.length ? wanted : STATES);
  const search = h('input', {
    type: 'search', placeholder: 'Filter by alert name, label or group', 'aria-label': 'Filter alerts',
    value: params.get('search') || '',
  });
  const counts = {};
  const btns = STATES.map(s => h('button.btn', {
    type: 'button', 'aria-pressed': String(show.has(s)), class: show.has(s) && 'on', 'data-state': s, onclick: e => {
      if (show.has(s)) show.delete(s); else show.add(s);
      e.currentTarget.classList.toggle('on', show.has(s));
      e.currentTarget.setAttribute('aria-pressed', String(show.has(s)));
      paint();
    },
  }, s[0].toUpperCase() + s.slice(1), counts[s] = h('span.badge', '0')));
  const out = h('div', h('div.loading', 'Loading alerts…'));
  el.append(h('h1', 'Alerts'), h('div.toolbar', h('div.group', { role: 'group', 'aria-label': 'Show states' }, btns), search), out);

  let groups, active;
  try {
    [groups, active] = await Promise.all([
      get('/api/v1/rules', { type: 'alert' }).then(d => d.groups || []),
      get('/api/v1/alerts').then(d => d.alerts || []),
    ]);
  } catch (e) {
    fill(out, errorBox(e));
    return;
  }
  const rulesAll = groups.flatMap(g => (g.rules || []).filter(r => r.type !== 'recording').map(r => ({ g, r })));
  for (const s of STATES) counts[s].textContent = String(rulesAll.filter(x => (x.r.state || 'inactive') === s).length);

  function saveFilters() {
    const q = new URLSearchParams();
    if (show.size < STATES.length) for (const s of STATES) if (show.has(s)) q.append('state', s);
    if (search.value.trim()) q.set('search', search.value.trim());
    const qs = q.toString() ? `?${q}` : '';
    if (qs !== location.search) history.replaceState(null, '', location.pathname + qs);
  }

  function paint() {
    saveFilters();
    if (!rulesAll.length) {
      fill(out, emptyState('No alerting rules',
        active.length
          ? `${active.length} active alert(s) reported, but no alerting rules are loaded.`
          : 'No alerting rules are configured. Add rule_files to the configuration to define alerts; they will show here with their state.'));
      return;
    }
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    const cards = [];
    for (const g of groups) {
      const rs = (g.rules || []).filter(r => r.type !== 'recording');
      const items = rs.filter(r => show.has(r.state || 'inactive') &&
        words.every(w => `${r.name} ${g.name} ${Object.entries(r.labels || {}).map(([k, v]) => `${k}=${v}`).join(' ')}`.toLowerCase().includes(w)));
      if (!items.length) continue;
      const by = s => rs.filter(r => (r.state || 'inactive') === s).length;
      cards.push(h('section.card.alert-group', { 'data-group': g.name },
        h('div.card-head', h('h2', g.name), h('span.muted', g.file), h('span.grow'),
          STATES.filter(by).map(s => h('span.badge', { class: stateClass(s), title: `${by(s)} ${s}` }, `${by(s)} ${s}`))),
        h('div', items.map(r => alertRule(r)))));
    }
    fill(out, cards.length ? cards : emptyState('No alerts match the filter', 'Change the state buttons or the search text.'));
  }
  search.addEventListener('input', debounce(paint, 120));
  paint();
}

function alertRule(r) {
  const list = r.alerts || [];
  return h('details.rule-item', { open: (r.state || 'inactive') !== 'inactive', 'data-rule': r.name, 'data-state': r.state || 'inactive' },
    h('summary.rule-sum', icon(ICONS.chevron), stateBadge(r.state || 'inactive'), h('strong', r.name),
      list.length ? h('span.muted', `${list.length} active`) : null,
      r.health && r.health !== 'ok' ? healthBadge(r.health) : null),
    h('div.card-body',
      queryLink(r.query),
      h('dl.rule-meta',
        r.duration ? [h('dt', 'For'), h('dd', durationOf(r.duration))] : null,
        r.keepFiringFor ? [h('dt', 'Keep firing for'), h('dd', durationOf(r.keepFiringFor))] : null,
        Object.keys(r.labels || {}).length ? [h('dt', 'Labels'), h('dd', labelChips(r.labels))] : null,
        ...Object.entries(r.annotations || {}).map(([k, v]) => [h('dt', k), h('dd', v)]),
        r.lastError ? [h('dt', 'Error'), h('dd.error-text', r.lastError)] : null),
      list.length ? h('div.table-wrap.gap-top', h('table',
        h('thead', h('tr', h('th', 'Labels'), h('th', 'State'), h('th', 'Active since'), h('th.num', 'Value'))),
        h('tbody', list.map(a => h('tr',
          h('td', labelChips(a.labels), Object.keys(a.annotations || {}).length
            ? h('div.muted.annot',
              Object.entries(a.annotations).map(([k, v]) => h('div', h('b', `${k}: `), v))) : null),
          h('td', stateBadge(a.state)),
          h('td', since(a.activeAt)),
          h('td.num.mono', a.value))))))
        : null));
}

// ---------------------------------------------------------------- rules

async function rules(el) {
  const search = h('input', { type: 'search', placeholder: 'Filter by rule name', 'aria-label': 'Filter rules' });
  const onlyErr = h('input', { type: 'checkbox' });
  const out = h('div', h('div.loading', 'Loading rules…'));
  el.append(h('h1', 'Rules'), h('div.toolbar', search, h('label.check', onlyErr, 'Only unhealthy')), out);
  let groups;
  try {
    groups = (await get('/api/v1/rules')).groups || [];
  } catch (e) {
    fill(out, errorBox(e));
    return;
  }
  function paint() {
    if (!groups.length) {
      fill(out, emptyState('No rule groups',
        'No recording or alerting rules are loaded. Rule groups from rule_files will be listed here with their last evaluation, duration and health.'));
      return;
    }
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    const cards = [];
    for (const g of groups) {
      const rs = (g.rules || []).filter(r => (!onlyErr.checked || r.health !== 'ok') &&
        words.every(w => (r.name || '').toLowerCase().includes(w)));
      if (!rs.length && (words.length || onlyErr.checked)) continue;
      cards.push(h('section.card',
        h('div.card-head', h('h2', g.name), h('span.muted', g.file), h('span.grow'),
          h('span.muted', 'Interval ', durationOf(g.interval)),
          h('span.muted', 'Last evaluation ', since(g.lastEvaluation)),
          h('span.muted', 'took ', formatSeconds(g.evaluationTime))),
        rs.length ? h('div.table-wrap', h('table',
          h('thead', h('tr', h('th', 'Rule'), h('th', 'Health'), h('th.num', 'Last evaluation'), h('th.num', 'Duration'))),
          h('tbody', rs.map(r => h('tr',
            h('td',
              h('div', h('span.badge', r.type === 'alerting' ? 'alert' : 'record'), ' ', h('strong', r.name)),
              h('div.gap-top', queryLink(r.query)),
              Object.keys(r.labels || {}).length ? h('div.gap-top', labelChips(r.labels)) : null,
              r.lastError ? h('div.error-text.gap-top', r.lastError) : null),
            h('td', healthBadge(r.health)),
            h('td.num', since(r.lastEvaluation)),
            h('td.num', formatSeconds(r.evaluationTime)))))))
          : h('div.empty', 'This group has no rules.')));
    }
    fill(out, cards.length ? cards : emptyState('No rules match the filter'));
  }
  search.addEventListener('input', debounce(paint, 120));
  onlyErr.addEventListener('change', paint);
  paint();
}
