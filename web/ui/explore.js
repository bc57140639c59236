// The query page's history: past queries kept in the browser's
// localStorage, searchable, click to reuse.

import { h, fill, formatAgo, debounce } from './api.js';

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
