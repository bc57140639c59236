// HTTP API access and small helpers shared by every page.

/** The path the server is mounted under (`--web.route-prefix`); '' at the root. */
export const PREFIX = (document.querySelector('meta[name="route-prefix"]')?.content || '').replace(/\/+$/, '');

/** An absolute app path (`/api/...`, `/query`) under the prefix. */
/** The title pages carry after their own name (`--web.page-title`). */
export const PAGE_TITLE = document.querySelector('meta[name="page-title"]')?.content || 'flint';
export const appUrl = p => (p.startsWith('/') ? PREFIX + p : p);

/** An error answered by the API (or the network). */
export class ApiError extends Error {
  constructor(message, type = '', status = 0) {
    super(message);
    this.type = type;
    this.status = status;
  }
}

/**
 * GET (or POST, for long queries) an API path and return its `data`, along
 * with any warnings in `.warnings` of the returned wrapper.
 */
export async function api(path, params = {}, { signal, post = false } = {}) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    for (const x of Array.isArray(v) ? v : [v]) qs.append(k, String(x));
  }
  const body = qs.toString();
  const usePost = post || body.length > 2000;
  let res;
  try {
    res = usePost
      ? await fetch(appUrl(path), {
        method: 'POST', signal, body,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      })
      : await fetch(body ? `${appUrl(path)}?${body}` : appUrl(path), { signal });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(`Cannot reach the server: ${e.message}`, 'network');
  }
  let json;
  try {
    json = await res.json();
  } catch {
    throw new ApiError(`Unexpected answer (HTTP ${res.status}) from ${path}`, 'bad_response', res.status);
  }
  if (json.status !== 'success') {
    throw new ApiError(json.error || `HTTP ${res.status}`, json.errorType || '', res.status);
  }
  return { data: json.data, warnings: json.warnings || [], infos: json.infos || [], stats: json.stats || json.data?.stats || null };
}

/** Just the data of an API answer. */
export async function get(path, params) {
  return (await api(path, params)).data;
}

// ---------------------------------------------------------------- DOM

/**
 * Builds an element: h('a.link#id', { href, onclick }, 'text', child, ...).
 * Attributes starting with "on" become listeners; `class` may be an array;
 * false/null/undefined children are skipped; arrays are flattened.
 */
export function h(spec, attrs, ...children) {
  const m = /^([a-z0-9-]*)((?:[.#][\w-]+)*)$/i.exec(spec);
  const el = document.createElement(m[1] || 'div');
  for (const part of m[2].match(/[.#][\w-]+/g) || []) {
    if (part[0] === '.') el.classList.add(part.slice(1));
    else el.id = part.slice(1);
  }
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.classList.add(...[v].flat().filter(Boolean));
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/** An inline SVG icon from a path. */
export function icon(d, label) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', 'icon');
  svg.setAttribute('aria-hidden', 'true');
  const p = document.createElementNS(ns, 'path');
  p.setAttribute('d', d);
  svg.append(p);
  if (!label) return svg;
  const s = document.createElement('span');
  s.className = 'sr-only';
  s.textContent = label;
  return [svg, s];
}

export const ICONS = {
  plus: 'M11 5h2v6h6v2h-6v6h-2v-6H5v-2h6z',
  minus: 'M5 11h14v2H5z',
  close: 'M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12 19 17.6 17.6 19 12 13.4 6.4 19 5 17.6 10.6 12 5 6.4z',
  left: 'M15.4 6 9.4 12l6 6L14 19.4 6.6 12 14 4.6z',
  right: 'M8.6 18l6-6-6-6L10 4.6 17.4 12 10 19.4z',
  sun: 'M12 7a5 5 0 1 1 0 10 5 5 0 0 1 0-10zm-1-6h2v3h-2zm0 19h2v3h-2zM1 11h3v2H1zm19 0h3v2h-3zM4.2 5.6l1.4-1.4 2.1 2.1-1.4 1.4zm12.1 12.1 1.4-1.4 2.1 2.1-1.4 1.4zM4.2 18.4l2.1-2.1 1.4 1.4-2.1 2.1zM16.3 6.3l2.1-2.1 1.4 1.4-2.1 2.1z',
  moon: 'M12.5 2a9 9 0 1 0 9.4 12.3A7.5 7.5 0 0 1 12.5 2z',
  play: 'M7 4.5v15l12-7.5z',
  refresh: 'M17.7 6.3A8 8 0 1 0 20 12h-2a6 6 0 1 1-1.8-4.2L13 11h7V4z',
  chevron: 'M7.4 8.6 12 13.2l4.6-4.6L18 10l-6 6-6-6z',
  zoomOut: 'M10 3a7 7 0 0 1 5.6 11.2l5.1 5.1-1.4 1.4-5.1-5.1A7 7 0 1 1 10 3zm0 2a5 5 0 1 0 0 10 5 5 0 0 0 0-10zM7 9h6v2H7z',
  history: 'M12 2a10 10 0 1 1 0 20 10 10 0 0 1 0-20zm0 2a8 8 0 1 0 0 16 8 8 0 0 0 0-16zm1 3v5.4l3.5 2.1-1 1.7L11 13.5V7z',
  list: 'M3 5h2v2H3zm4 0h14v2H7zM3 11h2v2H3zm4 0h14v2H7zm-4 6h2v2H3zm4 0h14v2H7z',
  format: 'M3 4h18v2H3zm5 4h13v2H8zm0 4h13v2H8zM3 16h18v2H3zm0 4h12v2H3z',
  copy: 'M16 1H4a2 2 0 0 0-2 2v14h2V3h12zm3 4H8a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h11a2 2 0 0 0 2-2V7a2 2 0 0 0-2-2zm0 16H8V7h11z',
};

/** Replaces the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// ---------------------------------------------------------- formatting

const UNITS_MS = [['y', 31536e6], ['w', 6048e5], ['d', 864e5], ['h', 36e5], ['m', 6e4], ['s', 1e3], ['ms', 1]];

/** "1h30m" → 5400000 (ms); null when invalid. */
export function parseDuration(s) {
  s = String(s).trim();
  if (!s) return null;
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(parseFloat(s) * 1000);
  const re = /(\d+)(ms|[ywdhms])/gy;
  let ms = 0, m, seen = 0;
  while ((m = re.exec(s))) {
    ms += Number(m[1]) * UNITS_MS.find(u => u[0] === m[2])[1];
    seen = re.lastIndex;
  }
  return seen === s.length && ms > 0 ? ms : null;
}

/** 5400000 → "1h30m" */
export function formatDuration(ms) {
  if (ms <= 0) return '0s';
  let out = '';
  for (const [u, n] of UNITS_MS) {
    if (ms >= n) {
      out += Math.floor(ms / n) + u;
      ms %= n;
    }
  }
  return out;
}

/** A duration in seconds, human scaled: "1.24s", "12.3ms", "85µs". */
export function formatSeconds(s) {
  if (s === undefined || s === null || Number.isNaN(s)) return '–';
  const a = Math.abs(s);
  if (a === 0) return '0s';
  if (a < 1e-3) return `${+(s * 1e6).toPrecision(3)}µs`;
  if (a < 1) return `${+(s * 1e3).toPrecision(3)}ms`;
  if (a < 60) return `${+s.toPrecision(3)}s`;
  return formatDuration(Math.round(s) * 1000);
}

/** "3.2s ago" / "in 4m" from a date. */
export function formatAgo(date, now = Date.now()) {
  const t = date instanceof Date ? date.getTime() : Date.parse(date);
  if (!Number.isFinite(t) || t <= 0) return 'never';
  const d = (now - t) / 1000;
  const txt = formatSeconds(Math.abs(d) < 1 ? Math.abs(d) : Math.round(Math.abs(d) * 10) / 10);
  return d >= 0 ? `${txt} ago` : `in ${txt}`;
}

/** Whether timestamps are shown in UTC (the default) or local time. */
export function useUTC() {
  return localStorage.getItem('flint.localTime') !== '1';
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

/** "2024-05-01 12:00:00" in the chosen time zone; with ms when asked. */
export function formatTime(ms, withMs = false) {
  const d = new Date(ms);
  const u = useUTC();
  const s = `${d[u ? 'getUTCFullYear' : 'getFullYear']()}-${pad(d[u ? 'getUTCMonth' : 'getMonth']() + 1)}-${pad(d[u ? 'getUTCDate' : 'getDate']())} ` +
    `${pad(d[u ? 'getUTCHours' : 'getHours']())}:${pad(d[u ? 'getUTCMinutes' : 'getMinutes']())}:${pad(d[u ? 'getUTCSeconds' : 'getSeconds']())}`;
  return withMs ? `${s}.${pad(d[u ? 'getUTCMilliseconds' : 'getMilliseconds'](), 3)}` : s;
}

/** Parses "2024-05-01 12:00[:00[.000]]" (or ISO / Unix seconds) in the chosen zone. */
export function parseTime(s) {
  s = String(s).trim();
  if (!s) return null;
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(parseFloat(s) * 1000);
  const m = /^(\d{4})-(\d\d)-(\d\d)(?:[ T](\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,3}))?)?)?(Z)?$/.exec(s);
  if (!m) {
    const t = Date.parse(s);
    return Number.isFinite(t) ? t : null;
  }
  const p = m.slice(1, 8).map(x => Number(x || 0));
  p[6] = m[7] ? Number(m[7].padEnd(3, '0')) : 0;
  const t = useUTC() || m[8]
    ? Date.UTC(p[0], p[1] - 1, p[2], p[3], p[4], p[5], p[6])
    : new Date(p[0], p[1] - 1, p[2], p[3], p[4], p[5], p[6]).getTime();
  return Number.isFinite(t) ? t : null;
}

/** A sample value as the API gives it ("1", "NaN", "+Inf") for display. */
export function formatValue(v) {
  const n = Number(v);
  if (!Number.isFinite(n)) return String(v);
  return String(v);
}

/** `name{a="b", c="d"}` as text. */
export function formatMetric(metric) {
  const { __name__: name = '', ...rest } = metric || {};
  const labels = Object.entries(rest).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return labels.length || !name ? `${name}{${labels.join(', ')}}` : name;
}

/** `name{a="b"}` as styled elements. */
export function metricNode(metric) {
  const { __name__: name, ...rest } = metric || {};
  const parts = [];
  if (name) parts.push(h('span.m-name', name));
  const keys = Object.keys(rest);
  if (keys.length || !name) {
    parts.push('{');
    keys.forEach((k, i) => {
      if (i) parts.push(', ');
      parts.push(h('span.m-label', k), '=', h('span.m-value', JSON.stringify(rest[k])));
    });
    parts.push('}');
  }
  return h('span.metric', parts);
}

/** Label chips for a label set. */
export function labelChips(labels) {
  return h('div.chips', Object.entries(labels || {}).map(([k, v]) =>
    h('span.chip', h('span.chip-k', k), '=', h('span.chip-v', v))));
}

/** A friendly empty state block. */
export function emptyState(title, text) {
  return h('div.empty', h('strong', title), text ? h('p', text) : null);
}

export function errorBox(err) {
  return h('div.alert.alert-error', { role: 'alert' }, err.message || String(err));
}

/** Debounce a function. */
export function debounce(fn, ms) {
  let t;
  return (...a) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...a), ms);
  };
}
