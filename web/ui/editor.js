// The expression input: a textarea over a highlighted mirror, with
// completion of metric names, label names and values, functions and
// durations, a signature hint, and parse errors marked in place.
//
// Keys: Enter runs, Shift+Enter inserts a newline, Ctrl+Space opens the
// completion list, ↑/↓ move in it, Tab or Enter accept, Escape closes.

import { h, get, fill } from './api.js';
import { tokenize, classify, contextAt, offsetOf } from './promql.js';
import { FUNCTIONS, AGGREGATIONS, KEYWORDS, signature, aggSignature } from './functions.js';

const DURATIONS = ['1m', '5m', '10m', '15m', '30m', '1h', '6h', '12h', '1d', '1w', '30s', '2m'];
const MAX_ITEMS = 200;

// --------------------------------------------------- shared data cache

const cache = new Map(); // key → { at, promise }

function cached(key, ttl, load) {
  const hit = cache.get(key);
  if (hit && Date.now() - hit.at < ttl) return hit.promise;
  const promise = load().catch(() => []);
  cache.set(key, { at: Date.now(), promise });
  return promise;
}

const metricNames = () => cached('names', 60e3, () => get('/api/v1/label/__name__/values'));
const metadata = () => cached('meta', 300e3, () => get('/api/v1/metadata').then(d => d || {}));
const labelNames = metric => cached(`ln:${metric || ''}`, 30e3, () =>
  get('/api/v1/labels', metric ? { 'match[]': `{__name__=${JSON.stringify(metric)}}` } : {}));
const labelValues = (label, metric) => cached(`lv:${label}:${metric || ''}`, 30e3, () =>
  get(`/api/v1/label/${encodeURIComponent(label)}/values`,
    metric ? { 'match[]': `{__name__=${JSON.stringify(metric)}}` } : {}));

/** Metric names for other parts of the UI (e.g. units). */
export { metricNames };

// --------------------------------------------------------- the editor

let uid = 0;

export class Editor {
  /**
   * @param {object} o
   * @param {string} o.value initial expression
   * @param {() => void} o.onRun called on Enter
   * @param {(v: string) => void} o.onChange called on every edit
   */
  constructor({ value = '', onRun, onChange, label = 'Expression' }) {
    this.onRun = onRun;
    this.onChange = onChange;
    this.id = `ed${++uid}`;
    this.error = null; // { offset }
    this.items = [];
    this.sel = 0;
    this.ctx = null;
    this.seq = 0;

    this.mirror = h('div.mirror', { 'aria-hidden': 'true' });
    this.ta = h('textarea', {
      rows: 1, spellcheck: false, autocapitalize: 'off', autocomplete: 'off',
      placeholder: 'Expression (press Enter to run, Shift+Enter for a new line)',
      'aria-label': label, role: 'combobox', 'aria-autocomplete': 'list',
      'aria-expanded': 'false', 'aria-controls': `${this.id}-list`,
    });
    this.ta.value = value;
    this.list = h('ul.complete', { id: `${this.id}-list`, role: 'listbox', hidden: true });
    this.sig = h('div.sig-help', { hidden: true, 'aria-live': 'polite' });
    this.el = h('div.editor', this.mirror, this.ta, this.list, this.sig);

    this.ta.addEventListener('input', () => {
      this.setError(null);
      this.render();
      this.onChange?.(this.ta.value);
      this.complete(false);
    });
    this.ta.addEventListener('keydown', e => this.keydown(e));
    this.ta.addEventListener('click', () => this.complete(false, true));
    this.ta.addEventListener('blur', () => setTimeout(() => {
      if (document.activeElement !== this.ta) this.close(true);
    }, 150));
    this.ta.addEventListener('scroll', () => { this.mirror.scrollTop = this.ta.scrollTop; });
    this.list.addEventListener('mousedown', e => e.preventDefault());
    this.list.addEventListener('click', e => {
      const li = e.target.closest('li');
      if (li) this.accept(Number(li.dataset.i));
    });
    this.ro = new ResizeObserver(() => this.autosize());
    this.ro.observe(this.ta);
    this.render();
  }

  get value() { return this.ta.value; }

  set value(v) {
    this.ta.value = v;
    this.setError(null);
    this.render();
  }

  focus() { this.ta.focus(); }

  /** Replaces the selection (or inserts at the cursor) with `text`, as typing would. */
  insert(text) {
    const from = this.ta.selectionStart ?? this.ta.value.length;
    const to = this.ta.selectionEnd ?? from;
    this.ta.focus();
    this.ta.setSelectionRange(from, to);
    if (!document.execCommand?.('insertText', false, text)) {
      this.ta.setRangeText(text, from, to, 'end');
      this.ta.dispatchEvent(new Event('input'));
    }
    this.close(true);
  }

  /** Sets the whole expression as an edit (undoable, reported by onChange). */
  replaceAll(text) {
    this.ta.focus();
    this.ta.select();
    if (!document.execCommand?.('insertText', false, text)) {
      this.ta.value = text;
      this.ta.dispatchEvent(new Event('input'));
    }
    this.close(true);
  }

  /** Marks the error at 1-based line:col, or clears it (null). */
  setError(pos) {
    this.error = pos ? { offset: offsetOf(this.ta.value, pos.line, pos.col) } : null;
    this.el.classList.toggle('has-error', !!pos);
    if (pos) this.render();
  }

  autosize() {
    this.ta.style.height = 'auto';
    this.ta.style.height = `${this.ta.scrollHeight + 2}px`;
  }

  /** Repaints the highlighted mirror. */
  render() {
    const src = this.ta.value;
    const toks = classify(tokenize(src));
    const nodes = [];
    const err = this.error?.offset;
    let errDone = err === undefined;
    for (const t of toks) {
      const cls = t.t === 'id' ? `tok-${t.c}` : t.t === 'op' || t.t === 'ws' ? '' : `tok-${t.t}`;
      if (!errDone && err >= t.s && err < t.e && t.t !== 'ws') {
        nodes.push(h('span', { class: [cls, 'tok-err'] }, t.v));
        errDone = true;
      } else if (!errDone && err >= t.s && err < t.e) {
        // Error inside whitespace: mark the character at the position.
        const k = err - t.s;
        nodes.push(t.v.slice(0, k), h('span.tok-err', t.v[k]), t.v.slice(k + 1));
        errDone = true;
      } else {
        nodes.push(cls ? h('span', { class: cls }, t.v) : t.v);
      }
    }
    if (!errDone) nodes.push(h('span.tok-err-end', '\u200b'));
    // A trailing newline needs a character after it to take up a line.
    nodes.push('\u200b');
    fill(this.mirror, nodes);
    this.autosize();
  }

  keydown(e) {
    if (this.autoPair(e)) return;
    const open = !this.list.hidden;
    if (open && (e.key === 'ArrowDown' || e.key === 'ArrowUp')) {
      e.preventDefault();
      const n = this.items.length;
      this.select((this.sel + (e.key === 'ArrowDown' ? 1 : n - 1)) % n);
    } else if (open && (e.key === 'Enter' && !e.shiftKey || e.key === 'Tab')) {
      e.preventDefault();
      const it = this.items[this.sel];
      // Enter on a word that is already complete runs the query.
      if (e.key === 'Enter' && it && !it.call && it.label === this.ctx?.prefix) {
        this.close(true);
        this.onRun?.();
      } else {
        this.accept(this.sel);
      }
    } else if (open && e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      this.close();
    } else if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      this.close(true);
      this.onRun?.();
    } else if (e.key === ' ' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      this.complete(true);
    } else if (e.key === 'Escape') {
      this.close(true);
    }
  }

  /** Closes brackets as they open, steps over closers, deletes empty pairs. */
  autoPair(e) {
    if (e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return false;
    const { selectionStart: s, selectionEnd: t, value } = this.ta;
    if (s !== t) return false;
    const next = value[s] ?? '';
    const pairs = { '(': ')', '[': ']', '{': '}' };
    let text = null;
    let skip = false;
    if (pairs[e.key] && /^$|[\s)\]},]/.test(next) && !inString(value, s)) {
      text = e.key + pairs[e.key];
    } else if (')]}'.includes(e.key) && e.key === next && !inString(value, s)) {
      skip = true;
    } else if ((e.key === '"' || e.key === "'") && next === e.key && inString(value, s) === e.key) {
      skip = true;
    } else if (e.key === 'Backspace' && next && pairs[value[s - 1]] === next) {
      this.ta.setSelectionRange(s - 1, s + 1);
      text = '';
    } else {
      return false;
    }
    e.preventDefault();
    if (text !== null) {
      const at = text ? s + 1 : s - 1;
      if (!(text ? document.execCommand?.('insertText', false, text) : document.execCommand?.('delete'))) {
        this.ta.setRangeText(text, text ? s : s - 1, text ? s : s + 1, 'end');
        this.ta.dispatchEvent(new Event('input'));
      }
      this.ta.setSelectionRange(at, at);
    } else if (skip) {
      this.ta.setSelectionRange(s + 1, s + 1);
    }
    this.complete(false);
    return true;
  }

  /** Updates completions for the cursor; `force` shows them even with no prefix. */
  async complete(force, clickOnly = false) {
    const src = this.ta.value;
    const pos = this.ta.selectionStart;
    if (pos !== this.ta.selectionEnd) return this.close(true);
    const ctx = contextAt(src, pos);
    this.showSignature(ctx.call);
    if (clickOnly) return this.close();
    const seq = ++this.seq;
    let items = [];
    const p = ctx.prefix;
    const want = force || p.length > 0 || ctx.kind === 'value' || ctx.kind === 'duration' || ctx.kind === 'label' && /[{,(]\s*$/.test(src.slice(0, pos));
    if (!ctx.kind || !want) return this.close();
    if (ctx.kind === 'expr') {
      items = await this.exprItems(ctx);
    } else if (ctx.kind === 'label') {
      const names = await labelNames(ctx.metric);
      items = names.filter(n => n !== '__name__').map(n => ({ label: n, kind: 'label', insert: n }));
    } else if (ctx.kind === 'value') {
      const vals = await labelValues(ctx.label, ctx.label === '__name__' ? null : ctx.metric);
      items = vals.map(v => ({ label: v, kind: 'value', insert: v }));
    } else if (ctx.kind === 'duration') {
      items = DURATIONS.map(d => ({ label: d, kind: 'dur', insert: d }));
    }
    if (seq !== this.seq || document.activeElement !== this.ta) return;
    this.ctx = ctx;
    this.show(rank(items, p), p);
  }

  async exprItems(ctx) {
    const items = [];
    if (ctx.afterOperand) {
      for (const k of KEYWORDS) items.push({ label: k, kind: 'kw', insert: k, detail: 'keyword' });
      return items;
    }
    const [names, meta] = await Promise.all([metricNames(), metadata()]);
    for (const n of names) {
      const m = meta[n]?.[0];
      items.push({ label: n, kind: 'metric', insert: n, detail: m ? `${m.type}${m.help ? ' · ' + m.help : ''}` : '' });
    }
    for (const f of FUNCTIONS.values()) {
      items.push({ label: f.name, kind: 'fn', insert: f.name, call: true, detail: signature(f) });
    }
    for (const a of AGGREGATIONS.keys()) {
      items.push({ label: a, kind: 'agg', insert: a, call: true, detail: aggSignature(a) });
    }
    for (const k of KEYWORDS) items.push({ label: k, kind: 'kw', insert: k, detail: 'keyword' });
    return items;
  }

  show(items, prefix) {
    this.items = items.slice(0, MAX_ITEMS);
    // Nothing to offer, or only the word already typed.
    if (!this.items.length || this.items.length === 1 && this.items[0].label === prefix && this.ctx.kind !== 'value') {
      return this.close();
    }
    const kinds = { metric: 'M', fn: 'f', agg: 'A', kw: 'K', label: 'L', value: 'V', dur: 'D' };
    fill(this.list, this.items.map((it, i) => h('li', {
      role: 'option', id: `${this.id}-o${i}`, 'data-i': i, 'aria-selected': 'false',
    },
    h('span', { class: ['c-kind', `k-${it.kind}`], 'aria-hidden': 'true' }, kinds[it.kind]),
    h('span.c-label', highlight(it.label, prefix)),
    it.detail ? h('span.c-detail', { title: it.detail }, it.detail) : null)));
    this.list.hidden = false;
    this.sig.hidden = true;
    this.ta.setAttribute('aria-expanded', 'true');
    this.place();
    this.select(0);
  }

  /** Positions the list under the caret. */
  place() {
    const pos = caretXY(this.ta, this.ctx.from);
    const width = this.el.clientWidth;
    this.list.style.top = `${pos.top + 22}px`;
    this.list.style.left = `${Math.max(0, Math.min(pos.left, width - 280))}px`;
  }

  select(i) {
    const prev = this.list.children[this.sel];
    prev?.setAttribute('aria-selected', 'false');
    this.sel = i;
    const li = this.list.children[i];
    if (!li) return;
    li.setAttribute('aria-selected', 'true');
    li.scrollIntoView({ block: 'nearest' });
    this.ta.setAttribute('aria-activedescendant', li.id);
  }

  close(hideSig = false) {
    this.list.hidden = true;
    this.items = [];
    this.ta.setAttribute('aria-expanded', 'false');
    this.ta.removeAttribute('aria-activedescendant');
    if (hideSig) this.sig.hidden = true;
    this.seq++;
  }

  accept(i) {
    const it = this.items[i];
    const ctx = this.ctx;
    if (!it || !ctx) return;
    const src = this.ta.value;
    let text = it.insert;
    let caret = null; // relative to insertion start
    const rest = src.slice(ctx.to);
    if (ctx.kind === 'value') {
      const esc = JSON.stringify(text).slice(1, -1);
      if (ctx.quote) {
        text = ctx.quote === '`' ? text : ctx.quote === "'" ? esc.replace(/\\"/g, '"').replace(/'/g, "\\'") : esc;
        text += ctx.quote;
      } else {
        text = `"${esc}"`;
      }
    } else if (ctx.kind === 'label' && this.inSelector(ctx) && !/^\s*(=|!=|=~|!~)/.test(rest)) {
      text += '=""';
      caret = text.length - 1;
    } else if (it.call && !/^\s*\(/.test(rest)) {
      text += '()';
      caret = text.length - 1;
    } else if (it.kind === 'dur' && !/^\s*[\]:]/.test(rest)) {
      text += ']';
    } else if (it.kind === 'kw' && !/^\s/.test(rest)) {
      text += ' ';
    }
    const from = ctx.from;
    this.ta.focus();
    this.ta.setSelectionRange(from, ctx.to);
    // execCommand keeps the browser's undo history; fall back if missing.
    if (!document.execCommand?.('insertText', false, text)) {
      this.ta.setRangeText(text, from, ctx.to, 'end');
      this.ta.dispatchEvent(new Event('input'));
    }
    const at = from + (caret ?? text.length);
    this.ta.setSelectionRange(at, at);
    this.close();
    // Chain: after a label name, offer its values; after a call, its argument.
    if (caret !== null) this.complete(ctx.kind === 'label');
    else this.showSignature(contextAt(this.ta.value, at).call);
  }

  inSelector(ctx) {
    return ctx.metric !== null || /\{[^}]*$/.test(this.ta.value.slice(0, ctx.from));
  }

  showSignature(call) {
    let text = null;
    if (call) {
      const f = FUNCTIONS.get(call.name);
      if (f) {
        text = signature(f);
      } else if (AGGREGATIONS.has(call.name.toLowerCase())) {
        text = aggSignature(call.name.toLowerCase());
      }
    }
    if (!text) {
      this.sig.hidden = true;
      return;
    }
    // Underline the argument the cursor is in.
    const m = /^(\w+)\((.*)\)( → .*)$/.exec(text);
    const parts = m[2] ? m[2].split(', ') : [];
    let idx = call.arg;
    if (idx >= parts.length && parts.length && parts[parts.length - 1] === '…') idx = parts.length - 2;
    fill(this.sig, h('b', m[1]), '(', parts.map((p, i) => [i ? ', ' : '', i === idx ? h('span.cur', p) : p]), ')', m[3]);
    this.sig.hidden = !this.list.hidden;
  }

  destroy() {
    this.ro.disconnect();
  }
}

/** The quote character of the string the offset is in, if any. */
function inString(src, pos) {
  const toks = tokenize(src.slice(0, pos));
  const last = toks[toks.length - 1];
  if (!last || last.t !== 'str' || last.e !== pos) return null;
  const q = last.v[0];
  const closed = last.v.length > 1 && last.v.endsWith(q) && (q === '`' || !/(^|[^\\])(\\\\)*\\.$/.test(last.v));
  return closed ? null : q;
}

/** Orders matches: prefix matches first, then substring, then subsequence. */
function rank(items, prefix) {
  if (!prefix) return items;
  const p = prefix.toLowerCase();
  const scored = [];
  for (const it of items) {
    const l = it.label.toLowerCase();
    let s;
    if (l === p) s = 0;
    else if (l.startsWith(p)) s = 1;
    else if (l.includes(p)) s = 2;
    else if (subseq(l, p)) s = 3;
    else continue;
    scored.push([s, l.length, it]);
  }
  scored.sort((a, b) => a[0] - b[0] || a[1] - b[1] || (a[2].label < b[2].label ? -1 : 1));
  return scored.map(x => x[2]);
}

function subseq(s, p) {
  let j = 0;
  for (let i = 0; i < s.length && j < p.length; i++) if (s[i] === p[j]) j++;
  return j === p.length;
}

function highlight(label, prefix) {
  if (!prefix) return label;
  const i = label.toLowerCase().indexOf(prefix.toLowerCase());
  if (i < 0) return label;
  return [label.slice(0, i), h('mark', label.slice(i, i + prefix.length)), label.slice(i + prefix.length)];
}

/** Pixel position of character `pos` inside the textarea, relative to it. */
function caretXY(ta, pos) {
  const cs = getComputedStyle(ta);
  const probe = h('div', {
    style: {
      position: 'absolute', visibility: 'hidden', whiteSpace: 'pre-wrap', overflowWrap: 'anywhere',
      wordWrap: 'break-word', width: `${ta.clientWidth}px`, font: cs.font,
      padding: cs.padding, border: cs.border, boxSizing: cs.boxSizing, letterSpacing: cs.letterSpacing,
    },
  }, ta.value.slice(0, pos));
  const mark = h('span', '\u200b');
  probe.append(mark);
  ta.parentNode.append(probe);
  const r = { top: mark.offsetTop - ta.scrollTop, left: mark.offsetLeft };
  probe.remove();
  return r;
}
