// A small PromQL tokenizer, enough for highlighting and for finding the
// completion context at the cursor. It never fails: unknown characters
// become "op" tokens and unterminated strings run to the end.

import { FUNCTIONS, AGGREGATIONS, KEYWORDS } from './functions.js';

const KW = new Set(KEYWORDS);
const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const MATCH_OPS = new Set(['=', '!=', '=~', '!~']);

/** Tokens: { t: type, s: start, e: end, v: text }; types: ws, comment, str, num, dur, id, op. */
export function tokenize(src) {
  const out = [];
  let i = 0;
  const n = src.length;
  while (i < n) {
    const c = src[i];
    const start = i;
    let t;
    if (/\s/.test(c)) {
      while (i < n && /\s/.test(src[i])) i++;
      t = 'ws';
    } else if (c === '#') {
      while (i < n && src[i] !== '\n') i++;
      t = 'comment';
    } else if (c === '"' || c === "'" || c === '`') {
      i++;
      while (i < n && src[i] !== c) {
        if (src[i] === '\\' && c !== '`') i++;
        i++;
      }
      if (i < n) i++;
      t = 'str';
    } else if (/[0-9.]/.test(c) && /[0-9.]/.test(src[i + 1] ?? '') || /[0-9]/.test(c)) {
      const m = /^(?:\d+(?:ms|[smhdwy]))+/.exec(src.slice(i, i + 40));
      if (m) {
        i += m[0].length;
        t = 'dur';
      } else {
        const m2 = /^(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)/.exec(src.slice(i, i + 60));
        i += m2 ? m2[0].length : 1;
        t = 'num';
      }
    } else if (/[a-zA-Z_:]/.test(c)) {
      while (i < n && /[\w:]/.test(src[i])) i++;
      t = 'id';
    } else {
      const two = src.slice(i, i + 2);
      i += ['!=', '=~', '!~', '==', '>=', '<='].includes(two) ? 2 : 1;
      t = 'op';
    }
    out.push({ t, s: start, e: i, v: src.slice(start, i) });
  }
  return out;
}

/** Refines identifier tokens into fn, agg, kw, label, metric (for highlighting). */
export function classify(tokens) {
  const stack = [];
  let prev = null; // previous non-space token
  for (let k = 0; k < tokens.length; k++) {
    const tok = tokens[k];
    if (tok.t === 'ws' || tok.t === 'comment') continue;
    const top = stack[stack.length - 1];
    if (tok.t === 'op') {
      if ('({['.includes(tok.v)) {
        stack.push({ ch: tok.v, owner: prev && prev.t !== 'op' ? prev : null });
      } else if (')}]'.includes(tok.v)) {
        stack.pop();
      }
    } else if (tok.t === 'id') {
      const next = nextNonSpace(tokens, k);
      const lower = tok.v.toLowerCase();
      if (top?.ch === '{') {
        tok.c = 'label';
      } else if (top?.ch === '(' && top.owner && GROUPING.has(top.owner.v.toLowerCase())) {
        tok.c = 'label';
      } else if (next?.v === '(' && FUNCTIONS.has(tok.v)) {
        tok.c = 'fn';
      } else if (AGGREGATIONS.has(lower) && (next?.v === '(' || /^(by|without)$/i.test(next?.v ?? ''))) {
        tok.c = 'agg';
      } else if (KW.has(lower) && prev && (prev.t !== 'op' || ')]}'.includes(prev.v))) {
        tok.c = 'kw';
      } else if (GROUPING.has(lower) && next?.v === '(') {
        tok.c = 'kw';
      } else if (/^(inf|nan)$/i.test(tok.v)) {
        tok.c = 'num';
      } else {
        tok.c = 'metric';
      }
    }
    prev = tok;
  }
  return tokens;
}

function nextNonSpace(tokens, k) {
  for (let j = k + 1; j < tokens.length; j++) {
    if (tokens[j].t !== 'ws' && tokens[j].t !== 'comment') return tokens[j];
  }
  return null;
}

/**
 * What to complete at `pos` in `src`:
 * { kind: 'expr'|'label'|'value'|'duration'|null, from, to, prefix,
 *   metric (selector's metric name), label (for values), quote (open quote
 *   char when inside a string), call: { name, arg } (enclosing call) }.
 */
export function contextAt(src, pos) {
  const tokens = tokenize(src.slice(0, pos));
  const stack = [];
  let prev = null;
  let prev2 = null;
  for (const tok of tokens) {
    if (tok.t === 'ws' || tok.t === 'comment') continue;
    if (tok.t === 'op') {
      if ('({['.includes(tok.v)) {
        const owner = prev && prev.t === 'id' ? prev.v : null;
        stack.push({ ch: tok.v, owner, args: 0, selMetric: tok.v === '{' ? owner : null });
      } else if (')}]'.includes(tok.v)) {
        stack.pop();
      } else if (tok.v === ',' && stack.length) {
        stack[stack.length - 1].args++;
      }
    }
    prev2 = prev;
    prev = tok;
  }
  const last = tokens[tokens.length - 1];
  const top = stack[stack.length - 1];
  const call = enclosingCall(stack);
  const ctx = { kind: null, from: pos, to: pos, prefix: '', call, metric: null, label: null, quote: null };
  // The word continuing after the cursor is replaced too.
  const after = /^[\w:]*/.exec(src.slice(pos))[0];

  if (last && last.t === 'comment') return ctx;
  if (last && last.t === 'str' && last.e === pos && !isClosedString(last.v)) {
    // Inside a string: label value when it follows a matcher operator.
    const { label } = matcherBefore(tokens, tokens.length - 1);
    if (top?.ch === '{' && label) {
      Object.assign(ctx, {
        kind: 'value', label, metric: top.selMetric, quote: last.v[0],
        from: last.s + 1, to: pos + closingAfter(src, pos, last.v[0]), prefix: last.v.slice(1),
      });
    }
    return ctx;
  }
  const word = last && last.e === pos && (last.t === 'id' || (last.t === 'num' || last.t === 'dur')) ? last : null;
  const before = word ? prev2 : prev;
  if (word) {
    ctx.from = word.s;
    ctx.prefix = word.v;
  }
  ctx.to = pos + after.length;

  if (top?.ch === '[') {
    if (!word || word.t !== 'id') ctx.kind = 'duration';
    return ctx;
  }
  if (top?.ch === '{') {
    ctx.metric = top.selMetric;
    if (!before || before.v === '{' || before.v === ',') {
      if (!word || word.t === 'id') ctx.kind = 'label';
    } else if (MATCH_OPS.has(before.v) && !word) {
      const { label } = matcherBefore(tokens, tokens.length);
      if (label) Object.assign(ctx, { kind: 'value', label });
    }
    return ctx;
  }
  if (top?.ch === '(' && top.owner && GROUPING.has(top.owner.toLowerCase())) {
    if (!word || word.t === 'id') ctx.kind = 'label';
    return ctx;
  }
  if (word && word.t !== 'id') return ctx;
  // Right after a complete operand, offer binary keywords only.
  const afterOperand = before && (before.t === 'num' || before.t === 'str' || before.t === 'dur' ||
    (before.t === 'op' && ')]}'.includes(before.v)) || (before.t === 'id' && !word));
  ctx.kind = 'expr';
  ctx.afterOperand = !!afterOperand && !!before && !(before.t === 'id' && KW.has(before.v));
  ctx.prevWord = before?.t === 'id' ? before.v.toLowerCase() : null;
  return ctx;
}

function isClosedString(v) {
  if (v.length < 2) return false;
  const q = v[0];
  if (v[v.length - 1] !== q) return false;
  if (q === '`') return true;
  // Closed unless the final quote is escaped.
  let bs = 0;
  for (let i = v.length - 2; i > 0 && v[i] === '\\'; i--) bs++;
  return bs % 2 === 0;
}

function closingAfter(src, pos, q) {
  // Replace the rest of the string up to (and including) its closing quote.
  const rest = src.slice(pos);
  const idx = rest.indexOf(q);
  const nl = rest.indexOf('\n');
  if (idx < 0 || (nl >= 0 && nl < idx)) return 0;
  return idx + 1;
}

function matcherBefore(tokens, idx) {
  // tokens[idx-1..] going back: op, label.
  let j = idx - 1;
  while (j >= 0 && tokens[j].t === 'ws') j--;
  if (j < 0 || !MATCH_OPS.has(tokens[j].v)) return {};
  j--;
  while (j >= 0 && tokens[j].t === 'ws') j--;
  if (j < 0) return {};
  const t = tokens[j];
  if (t.t === 'id') return { label: t.v };
  if (t.t === 'str') return { label: t.v.slice(1, -1) };
  return {};
}

function enclosingCall(stack) {
  for (let i = stack.length - 1; i >= 0; i--) {
    const f = stack[i];
    if (f.ch !== '(') return null;
    if (f.owner && (FUNCTIONS.has(f.owner) || AGGREGATIONS.has(f.owner.toLowerCase()))) {
      return { name: f.owner, arg: f.args };
    }
    if (f.owner && GROUPING.has(f.owner.toLowerCase())) return null;
    return null;
  }
  return null;
}

/**
 * Parses the position out of a parse error ("1:8: parse error: …", possibly
 * behind 'invalid parameter "query": '): { line, col, message } or null.
 */
export function parseErrorPos(msg) {
  const m = /(?:^|: )(\d+):(\d+): (parse error: [\s\S]*)$/.exec(msg || '');
  if (!m) return null;
  return { line: Number(m[1]), col: Number(m[2]), message: m[3] };
}

/** The string offset of a 1-based line:col (columns count characters). */
export function offsetOf(src, line, col) {
  const lines = src.split('\n');
  let off = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i++) off += lines[i].length + 1;
  const text = lines[Math.min(line - 1, lines.length - 1)] ?? '';
  // Columns count Unicode characters; convert to UTF-16 offsets.
  const chars = Array.from(text).slice(0, Math.max(0, col - 1));
  return Math.min(src.length, off + chars.join('').length);
}
