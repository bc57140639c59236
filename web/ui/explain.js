// The Explain tab of a query panel: the expression's syntax tree (from
// /api/v1/parse_query), each node written back as PromQL and evaluated on
// its own at the panel's time, with how many series it gives and their
// labels.

import { h, fill, api, formatDuration, metricNode, errorBox } from './api.js';

const PLAIN_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const PLAIN_LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const MAX_NODES = 40;

function dur(ms) {
  return ms < 0 ? `-${formatDuration(-ms)}` : formatDuration(ms);
}

function modifiers(n) {
  let s = '';
  if (n.offset) s += ` offset ${dur(n.offset)}`;
  if (n.startOrEnd) s += ` @ ${n.startOrEnd}()`;
  else if (n.timestamp !== null && n.timestamp !== undefined) s += ` @ ${n.timestamp / 1000}`;
  return s;
}

function selector(n) {
  const name = n.name || '';
  const ms = (n.matchers || []).filter(m => !(name && m.name === '__name__' && m.type === '=' && m.value === name));
  const label = k => (PLAIN_LABEL.test(k) ? k : JSON.stringify(k));
  const inner = ms.map(m => `${label(m.name)}${m.type}${JSON.stringify(m.value)}`);
  if (name && !PLAIN_NAME.test(name)) return `{${[JSON.stringify(name), ...inner].join(', ')}}`;
  return inner.length || !name ? `${name}{${inner.join(', ')}}` : name;
}

const PRECEDENCE = {
  or: 1, and: 2, unless: 2, '==': 3, '!=': 3, '<=': 3, '<': 3, '>=': 3, '>': 3,
  '+': 4, '-': 4, '*': 5, '/': 5, '%': 5, atan2: 5, '^': 6,
};

/** An operand of binary operator `op` on `side`, in parentheses when its own operator binds looser. */
function operand(x, op, side) {
  const text = toPromQL(x);
  if (x.type !== 'binaryExpr') return text;
  const [p, q] = [PRECEDENCE[x.op], PRECEDENCE[op]];
  const rightAssoc = op === '^';
  const loose = p < q || (p === q && (side === 'rhs') !== rightAssoc);
  return loose ? `(${text})` : text;
}

/** A syntax tree node (parse_query's JSON) written as PromQL. */
export function toPromQL(n) {
  const sub = x => (x.type === 'binaryExpr' ? `(${toPromQL(x)})` : toPromQL(x));
  switch (n.type) {
    case 'numberLiteral': return String(n.val);
    case 'stringLiteral': return JSON.stringify(n.val);
    case 'parenExpr': return `(${toPromQL(n.expr)})`;
    case 'unaryExpr': return `${n.op}${sub(n.expr)}`;
    case 'vectorSelector': return selector(n) + modifiers(n);
    case 'matrixSelector': return `${selector(n)}[${dur(n.range)}]${modifiers(n)}`;
    case 'subquery': return `${sub(n.expr)}[${dur(n.range)}:${n.step ? dur(n.step) : ''}]${modifiers(n)}`;
    case 'call': return `${n.func.name}(${n.args.map(toPromQL).join(', ')})`;
    case 'aggregation': {
      const by = n.without || n.grouping?.length ? ` ${n.without ? 'without' : 'by'} (${n.grouping.join(', ')})` : '';
      return `${n.op}${by} (${n.param ? `${toPromQL(n.param)}, ` : ''}${toPromQL(n.expr)})`;
    }
    case 'binaryExpr': {
      let m = '';
      const mt = n.matching;
      if (mt) {
        if (mt.on || mt.labels?.length) m += ` ${mt.on ? 'on' : 'ignoring'} (${mt.labels.join(', ')})`;
        if (mt.card === 'many-to-one') m += ` group_left (${(mt.include || []).join(', ')})`;
        if (mt.card === 'one-to-many') m += ` group_right (${(mt.include || []).join(', ')})`;
      }
      return `${operand(n.lhs, n.op, 'lhs')} ${n.op}${n.bool ? ' bool' : ''}${m} ${operand(n.rhs, n.op, 'rhs')}`;
    }
    default: throw new Error(`unknown node type ${n.type}`);
  }
}

function children(n) {
  switch (n.type) {
    case 'parenExpr': case 'unaryExpr': case 'subquery': return [n.expr];
    case 'call': return n.args;
    case 'aggregation': return n.param ? [n.param, n.expr] : [n.expr];
    case 'binaryExpr': return [n.lhs, n.rhs];
    default: return [];
  }
}

const KIND = {
  aggregation: 'aggregation', binaryExpr: 'binary operation', call: 'function call', matrixSelector: 'range selector',
  vectorSelector: 'selector', subquery: 'subquery', numberLiteral: 'number', stringLiteral: 'string',
  parenExpr: 'parentheses', unaryExpr: 'unary operation',
};

/** Renders the tree of `expr` evaluated at `time` (ms) into `el`. */
export async function explain(el, expr, time, signal) {
  fill(el, h('div.loading', 'Parsing…'));
  let tree;
  try {
    tree = (await api('/api/v1/parse_query', { query: expr }, { signal })).data;
  } catch (e) {
    if (e.name !== 'AbortError') fill(el, errorBox(e));
    return;
  }
  let count = 0;
  const build = (n, depth) => {
    if (++count > MAX_NODES) return null;
    const text = toPromQL(n);
    const stats = h('div.ex-stats.muted', 'Evaluating…');
    const li = h('li.ex-node', { 'data-expr': text, 'data-depth': depth },
      h('div.ex-head', h('code.ex-expr', text), h('span.badge', KIND[n.type] || n.type)), stats);
    const kids = children(n).map(c => build(c, depth + 1)).filter(Boolean);
    if (kids.length) li.append(h('ul.ex-tree', kids));
    evaluate(text, n, stats, time, signal);
    return li;
  };
  const root = build(tree, 0);
  fill(el, h('p.muted', `Each part of the expression evaluated on its own at the panel's evaluation time.`),
    h('ul.ex-tree.ex-root', root),
    count > MAX_NODES ? h('div.alert.alert-warn', `Only the first ${MAX_NODES} parts are shown.`) : null);
}

async function evaluate(text, n, el, time, signal) {
  if (n.type === 'numberLiteral' || n.type === 'stringLiteral') {
    fill(el, `${n.type === 'numberLiteral' ? 'number' : 'string'} ${text}`);
    el.dataset.series = '';
    return;
  }
  let res;
  try {
    res = (await api('/api/v1/query', { query: text, time: time / 1000 }, { signal })).data;
  } catch (e) {
    if (e.name !== 'AbortError') fill(el, h('span.error-text', e.message));
    return;
  }
  const { resultType, result } = res;
  if (resultType === 'scalar') {
    el.dataset.series = '';
    fill(el, `scalar ${result[1]}`);
    return;
  }
  const labels = new Map();
  for (const r of result) {
    for (const [k, v] of Object.entries(r.metric || {})) {
      if (!labels.has(k)) labels.set(k, new Set());
      labels.get(k).add(v);
    }
  }
  el.dataset.series = String(result.length);
  fill(el,
    h('span', h('b', `${result.length} series`), resultType === 'matrix' ? ` · ${result.reduce((a, r) => a + (r.values?.length || 0), 0)} samples` : ''),
    labels.size ? h('span.ex-labels', ' · labels: ',
      [...labels].sort((a, b) => a[0].localeCompare(b[0])).map(([k, vs], i) =>
        [i ? ', ' : '', h('span.m-label', k), h('span.muted', ` (${vs.size})`)])) : null,
    result.length ? h('div.ex-sample', h('span.muted', 'e.g. '), metricNode(result[0].metric)) : null);
}
