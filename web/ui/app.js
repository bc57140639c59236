// Entry point: theme, navigation and page routing (pages render themselves
// into <main> from the HTTP API).

import { h, icon, ICONS, errorBox, PREFIX, PAGE_TITLE } from './api.js';

/** The app path of a URL path: without the route prefix. */
const appPath = p => (PREFIX && p.startsWith(PREFIX) ? p.slice(PREFIX.length) : p);

const PAGES = {
  '/query': () => import('./query.js'),
  '/graph': () => import('./query.js'),
  '/alerts': () => import('./alerts.js'),
  '/rules': () => import('./alerts.js'),
  '/targets': () => import('./targets.js'),
  '/service-discovery': () => import('./targets.js'),
  '/status': () => import('./status.js'),
  '/tsdb-status': () => import('./status.js'),
  '/flags': () => import('./status.js'),
  '/config': () => import('./status.js'),
  '/agent': () => Promise.resolve({ mount: mountAgent }),
};

/** The page an agent shows at `/`: what agent mode is, where to look. */
function mountAgent(el) {
  el.append(
    h('h1', 'Agent mode'),
    h('p', 'This server runs in agent mode: it scrapes its targets and sends the samples by remote write, ',
      'keeping them on disk until every remote has them. It stores nothing to query, so the query, ',
      'alerts and rules pages are not available.'),
    h('p', h('a', { href: `${PREFIX}/targets` }, 'Targets'), ' · ',
      h('a', { href: `${PREFIX}/service-discovery` }, 'Service discovery'), ' · ',
      h('a', { href: `${PREFIX}/config` }, 'Configuration'), ' · ',
      h('a', { href: `${PREFIX}/flags` }, 'Command-line flags')));
}

const TITLES = {
  '/query': 'Query', '/graph': 'Query', '/alerts': 'Alerts', '/rules': 'Rules',
  '/targets': 'Targets', '/service-discovery': 'Service discovery',
  '/status': 'Runtime & build information', '/tsdb-status': 'TSDB status',
  '/flags': 'Command-line flags', '/config': 'Configuration', '/agent': 'Agent',
};

const main = document.getElementById('main');
let current = null; // { path, page } of the rendered page
let renderSeq = 0;

// ------------------------------------------------------------- theme

const mq = matchMedia('(prefers-color-scheme: dark)');

function effectiveTheme() {
  return document.documentElement.dataset.theme || (mq.matches ? 'dark' : 'light');
}

function paintThemeButton() {
  const btn = document.getElementById('theme-toggle');
  const dark = effectiveTheme() === 'dark';
  btn.replaceChildren(...[icon(dark ? ICONS.sun : ICONS.moon)].flat());
  btn.setAttribute('aria-label', dark ? 'Switch to light theme' : 'Switch to dark theme');
  btn.title = btn.getAttribute('aria-label');
}

function setTheme(t) {
  document.documentElement.dataset.theme = t;
  try { localStorage.setItem('flint.theme', t); } catch { /* private mode */ }
  paintThemeButton();
  window.dispatchEvent(new Event('themechange'));
}

document.getElementById('theme-toggle').addEventListener('click', () =>
  setTheme(effectiveTheme() === 'dark' ? 'light' : 'dark'));
mq.addEventListener('change', () => {
  if (!document.documentElement.dataset.theme) {
    paintThemeButton();
    window.dispatchEvent(new Event('themechange'));
  }
});
paintThemeButton();

const localTime = document.getElementById('local-time');
localTime.checked = localStorage.getItem('flint.localTime') === '1';
localTime.addEventListener('change', () => {
  localStorage.setItem('flint.localTime', localTime.checked ? '1' : '0');
  window.dispatchEvent(new Event('timezonechange'));
});

// ----------------------------------------------------------- routing

function markNav(path) {
  for (const el of document.querySelectorAll('.nav a, .nav summary')) {
    const match = (el.dataset.match || el.getAttribute('href') || '').split(' ');
    el.classList.toggle('active', match.includes(path));
    if (el.tagName === 'A') {
      if (match.includes(path)) el.setAttribute('aria-current', 'page');
      else el.removeAttribute('aria-current');
    }
  }
}

async function route() {
  const path = appPath(location.pathname).replace(/\/+$/, '') || '/query';
  const seq = ++renderSeq;
  const load = PAGES[path];
  markNav(path);
  document.title = `${TITLES[path] || 'Not found'} · ${PAGE_TITLE}`;
  if (current?.page.unmount) current.page.unmount();
  current = null;
  if (!load) {
    main.replaceChildren(h('div.page', h('h1', 'Page not found'),
      h('p', 'No such page. ', h('a', { href: `${PREFIX}/query` }, 'Go to the query page.'))));
    return;
  }
  let page;
  try {
    page = await load();
  } catch (e) {
    main.replaceChildren(errorBox(new Error(`Could not load this page: ${e.message}`)));
    return;
  }
  if (seq !== renderSeq) return;
  const root = h('div.page');
  main.replaceChildren(root);
  current = { path, page };
  try {
    await page.mount(root, path);
  } catch (e) {
    if (seq === renderSeq) root.append(errorBox(e));
  }
}

/** Navigate within the app without a page load. */
export function navigate(url) {
  history.pushState(null, '', url);
  route();
  main.focus({ preventScroll: true });
  scrollTo(0, 0);
}

document.addEventListener('click', e => {
  const a = e.target.closest('a[href]');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  if (a.target || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !(appPath(url.pathname) in PAGES)) return;
  e.preventDefault();
  a.closest('details')?.removeAttribute('open');
  if (url.pathname === location.pathname && url.search === location.search && !url.hash) return;
  navigate(url.pathname + url.search + url.hash);
});

// Close the Status menu when clicking elsewhere or pressing Escape.
document.addEventListener('click', e => {
  for (const d of document.querySelectorAll('details.menu[open]')) {
    if (!d.contains(e.target)) d.removeAttribute('open');
  }
});
document.addEventListener('keydown', e => {
  if (e.key === 'Escape') {
    for (const d of document.querySelectorAll('details.menu[open]')) {
      d.removeAttribute('open');
      d.querySelector('summary').focus();
    }
  }
});

addEventListener('popstate', () => {
  // The query page keeps its own state in the URL and handles this itself.
  if (current?.page.popstate && location.pathname === current.path) {
    current.page.popstate();
    return;
  }
  route();
});

route();
