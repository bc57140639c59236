// PromQL function signatures: the FUNCTIONS table of
// promql/src/parser/functions.rs (name, argument types, variadic, return
// type), row for row; a test in src/web/ui.rs checks that they agree, and
// AGGREGATIONS below against the parser's aggregation operators. Types as
// in the Rust table: V = instant vector, M = range vector, S = scalar,
// Str = string. variadic: 0 = exact arity, n > 0 = up to n trailing
// arguments may be left out, -1 = last one repeats.
const ROWS = [
  ["abs", "V", 0, "V"],
  ["absent", "V", 0, "V"],
  ["absent_over_time", "M", 0, "V"],
  ["acos", "V", 0, "V"],
  ["acosh", "V", 0, "V"],
  ["asin", "V", 0, "V"],
  ["asinh", "V", 0, "V"],
  ["atan", "V", 0, "V"],
  ["atanh", "V", 0, "V"],
  ["avg_over_time", "M", 0, "V"],
  ["ceil", "V", 0, "V"],
  ["changes", "M", 0, "V"],
  ["clamp", "V,S,S", 0, "V"],
  ["clamp_max", "V,S", 0, "V"],
  ["clamp_min", "V,S", 0, "V"],
  ["cos", "V", 0, "V"],
  ["cosh", "V", 0, "V"],
  ["count_over_time", "M", 0, "V"],
  ["day_of_month", "V", 1, "V"],
  ["day_of_week", "V", 1, "V"],
  ["day_of_year", "V", 1, "V"],
  ["days_in_month", "V", 1, "V"],
  ["deg", "V", 0, "V"],
  ["delta", "M", 0, "V"],
  ["deriv", "M", 0, "V"],
  ["double_exponential_smoothing", "M,S,S", 0, "V"],
  ["end", "", 0, "S"],
  ["exp", "V", 0, "V"],
  ["first_over_time", "M", 0, "V"],
  ["floor", "V", 0, "V"],
  ["histogram_avg", "V", 0, "V"],
  ["histogram_count", "V", 0, "V"],
  ["histogram_fraction", "S,S,V", 0, "V"],
  ["histogram_quantile", "S,V", 0, "V"],
  ["histogram_quantiles", "V,Str,S", -1, "V"],
  ["histogram_stddev", "V", 0, "V"],
  ["histogram_stdvar", "V", 0, "V"],
  ["histogram_sum", "V", 0, "V"],
  ["hour", "V", 1, "V"],
  ["idelta", "M", 0, "V"],
  ["increase", "M", 0, "V"],
  ["info", "V,V", 1, "V"],
  ["irate", "M", 0, "V"],
  ["label_join", "V,Str,Str,Str", -1, "V"],
  ["label_replace", "V,Str,Str,Str,Str", 0, "V"],
  ["last_over_time", "M", 0, "V"],
  ["ln", "V", 0, "V"],
  ["log10", "V", 0, "V"],
  ["log2", "V", 0, "V"],
  ["mad_over_time", "M", 0, "V"],
  ["max_of", "S,S", 0, "S"],
  ["max_over_time", "M", 0, "V"],
  ["min_of", "S,S", 0, "S"],
  ["min_over_time", "M", 0, "V"],
  ["minute", "V", 1, "V"],
  ["month", "V", 1, "V"],
  ["pi", "", 0, "S"],
  ["predict_linear", "M,S", 0, "V"],
  ["present_over_time", "M", 0, "V"],
  ["quantile_over_time", "S,M", 0, "V"],
  ["rad", "V", 0, "V"],
  ["range", "", 0, "S"],
  ["rate", "M", 0, "V"],
  ["resets", "M", 0, "V"],
  ["round", "V,S", 1, "V"],
  ["scalar", "V", 0, "S"],
  ["sgn", "V", 0, "V"],
  ["sin", "V", 0, "V"],
  ["sinh", "V", 0, "V"],
  ["sort", "V", 0, "V"],
  ["sort_by_label", "V,Str", -1, "V"],
  ["sort_by_label_desc", "V,Str", -1, "V"],
  ["sort_desc", "V", 0, "V"],
  ["sqrt", "V", 0, "V"],
  ["start", "", 0, "S"],
  ["stddev_over_time", "M", 0, "V"],
  ["stdvar_over_time", "M", 0, "V"],
  ["step", "", 0, "S"],
  ["sum_over_time", "M", 0, "V"],
  ["tan", "V", 0, "V"],
  ["tanh", "V", 0, "V"],
  ["time", "", 0, "S"],
  ["timestamp", "V", 0, "V"],
  ["ts_of_first_over_time", "M", 0, "V"],
  ["ts_of_last_over_time", "M", 0, "V"],
  ["ts_of_max_over_time", "M", 0, "V"],
  ["ts_of_min_over_time", "M", 0, "V"],
  ["vector", "S", 0, "V"],
  ["year", "V", 1, "V"],
];

const TYPE_NAMES = { V: 'instant-vector', M: 'range-vector', S: 'scalar', Str: 'string' };

/** Function signatures by name: { name, args: [type], variadic, ret }. */
export const FUNCTIONS = new Map(ROWS.map(([name, args, variadic, ret]) =>
  [name, { name, args: args ? args.split(/,\s*/) : [], variadic, ret }]));

/** A readable signature, e.g. "round(instant-vector, [scalar]) → instant-vector". */
export function signature(fn) {
  const n = fn.args.length;
  const parts = fn.args.map((t, i) => {
    let s = TYPE_NAMES[t];
    if (fn.variadic > 0 && i >= n - fn.variadic) s = `[${s}]`;
    if (fn.variadic < 0 && i === n - 1) s += ', …';
    return s;
  });
  return `${fn.name}(${parts.join(', ')}) → ${TYPE_NAMES[fn.ret]}`;
}

/** Aggregation operators, with the type of the parameter some of them take. */
export const AGGREGATIONS = new Map([
  ['sum', ''], ['avg', ''], ['min', ''], ['max', ''], ['count', ''], ['group', ''],
  ['stddev', ''], ['stdvar', ''], ['topk', 'S'], ['bottomk', 'S'], ['quantile', 'S'],
  ['count_values', 'Str'], ['limitk', 'S'], ['limit_ratio', 'S'],
]);

export function aggSignature(name) {
  const p = AGGREGATIONS.get(name);
  return `${name}(${p ? TYPE_NAMES[p] + ', ' : ''}instant-vector) → instant-vector`;
}

/** Keywords and word operators. */
export const KEYWORDS = ['by', 'without', 'on', 'ignoring', 'group_left', 'group_right',
  'bool', 'offset', 'and', 'or', 'unless', 'atan2'];
