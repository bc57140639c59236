// Drives flint's web UI in headless Chromium (playwright-core with the
// system browser) and reports what the pages show as one JSON line on
// stdout; tests/ui.rs starts flint and a scrape target, runs this script and
// checks the report against the HTTP API.
//
//   node ui_test.mjs <base-url> <screenshot-dir>
//
// Environment:
//   CHROMIUM_PATH  the browser executable (required)
//   UI_JOB         the scrape job whose target the targets page must show
//   UI_TARGET      that target's address (host:port)
//   UI_TABLE_EXPR  the expression typed on the query page (a gauge)
//   UI_RATE_EXPR   the expression opened as a Prometheus /graph link (a rate)
//   UI_RANGE       the graph range to set (e.g. "20s")
//   UI_DOWN_JOB    a scrape job whose only target is down (an error shown)
//   UI_FORMAT_EXPR an expression to format with the Format button
//   UI_EXPLAIN_EXPR an expression opened on the Explain tab
//   UI_HEATMAP_EXPR an expression with histogram and float series, graphed
//   UI_HEATMAP_END  the end of its graph (Unix seconds)
//
// Log lines go to stderr; a failed wait or step exits with status 1.

import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const [base, shots] = process.argv.slice(2);
const env = name => {
  const v = process.env[name];
  if (!v) fail(`${name} is not set`);
  return v;
};
const TIMEOUT = 15000;

function log(...a) {
  console.error('[ui]', ...a);
}

function fail(msg) {
  console.error(`[ui] FAIL: ${msg}`);
  process.exit(1);
}

if (!base || !shots) fail('usage: node ui_test.mjs <base-url> <screenshot-dir>');
mkdirSync(shots, { recursive: true });

const job = env('UI_JOB');
const target = env('UI_TARGET');
const tableExpr = env('UI_TABLE_EXPR');
const rateExpr = env('UI_RATE_EXPR');
const range = env('UI_RANGE');
const downJob = env('UI_DOWN_JOB');
const formatExpr = env('UI_FORMAT_EXPR');
const explainExpr = env('UI_EXPLAIN_EXPR');
const heatmapExpr = env('UI_HEATMAP_EXPR');
const heatmapEnd = env('UI_HEATMAP_END');

const report = { screenshots: [], pageErrors: [] };

const browser = await chromium.launch({
  executablePath: env('CHROMIUM_PATH'),
  headless: true,
  // playwright gives the browser a fresh temporary profile (user data dir)
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
  timeout: 30000,
});

let page;
try {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 860 },
    deviceScaleFactor: 1,
    colorScheme: 'light',
    timezoneId: 'UTC',
  });
  context.setDefaultTimeout(TIMEOUT);
  // Reads a rendered series name (`name{a="b", …}` as the UI draws it:
  // .m-name, then .m-label / .m-value pairs with JSON-quoted values) back
  // into a label map, so the test compares labels rather than layout.
  await context.addInitScript(() => {
    window.__readMetric = el => {
      if (!el) return null;
      const m = {};
      const name = el.querySelector('.m-name');
      if (name) m.__name__ = name.textContent;
      const ks = el.querySelectorAll('.m-label'), vs = el.querySelectorAll('.m-value');
      ks.forEach((k, i) => { m[k.textContent] = JSON.parse(vs[i].textContent); });
      return m;
    };
  });
  page = await context.newPage();
  page.on('pageerror', e => report.pageErrors.push(`pageerror: ${e.message}`));
  page.on('console', m => {
    if (m.type() === 'error') report.pageErrors.push(`console.error: ${m.text()}`);
  });
  page.on('requestfailed', r => {
    // an aborted superseded query is normal; anything else is not
    const err = r.failure()?.errorText || '';
    if (!err.includes('ERR_ABORTED')) report.pageErrors.push(`request failed: ${r.url()} ${err}`);
  });

  const shot = async name => {
    const path = join(shots, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    report.screenshots.push(path);
    log('screenshot', path);
  };

  // ------------------------------------------------ query page: table
  log('open', `${base}/query`);
  await page.goto(`${base}/query`);
  let panel = page.getByRole('region', { name: 'Query panel' }).first();
  const editor = panel.getByRole('combobox', { name: 'Expression' });
  await editor.waitFor();
  await editor.click();
  await editor.pressSequentially(tableExpr, { delay: 15 });
  await editor.press('Escape'); // close the completion list if it opened
  await panel.getByRole('button', { name: 'Execute' }).click();
  await waitTable(panel);
  report.typed = {
    editor: await editor.inputValue(),
    url: page.url(),
    tableSelected: await panel.getByRole('tab', { name: 'Table' }).getAttribute('aria-selected'),
    rows: await tableRows(panel),
    info: await panel.locator('.tab-info').textContent(),
    cost: await costOf(panel),
  };
  log('table rows', report.typed.rows.length);
  await shot('1-query-table');

  // ------------------------------------------------ query page: graph
  await panel.getByRole('tab', { name: 'Graph' }).click();
  const rangeIn = panel.getByRole('textbox', { name: 'Range' });
  await rangeIn.fill(range);
  await rangeIn.press('Enter'); // commits the value (change event)
  await rangeIn.blur();
  report.graph = await graphReport(panel);
  report.graph.url = page.url();
  log('graph legend', report.graph.legend.length, 'lines', report.graph.linesDrawn);
  await shot('2-query-graph');

  // --------------------------- a Prometheus-style link: the same query
  const link = `/graph?g0.expr=${encodeURIComponent(tableExpr)}&g0.tab=1`;
  log('open', base + link);
  await page.goto(base + link);
  panel = page.getByRole('region', { name: 'Query panel' }).first();
  await waitTable(panel);
  report.link = {
    href: link,
    editor: await panel.getByRole('combobox', { name: 'Expression' }).inputValue(),
    tableSelected: await panel.getByRole('tab', { name: 'Table' }).getAttribute('aria-selected'),
    rows: await tableRows(panel),
  };
  await shot('3-graph-link-table');

  // ------------------- a Prometheus-style link: a rate, on the Graph tab
  const rateLink = `/graph?g0.expr=${encodeURIComponent(rateExpr)}&g0.tab=0&g0.stacked=0&g0.range_input=${range}`;
  log('open', base + rateLink);
  await page.goto(base + rateLink);
  panel = page.getByRole('region', { name: 'Query panel' }).first();
  report.rate = await graphReport(panel);
  report.rate.href = rateLink;
  report.rate.editor = await panel.getByRole('combobox', { name: 'Expression' }).inputValue();
  report.rate.graphSelected = await panel.getByRole('tab', { name: 'Graph' }).getAttribute('aria-selected');
  report.rate.cost = await costOf(panel);
  report.rate.span = await panel.locator('.chart').evaluate(el => ({ start: Number(el.dataset.start), end: Number(el.dataset.end) }));
  await shot('4-rate-graph');

  // ------------------------------------------------------ targets page
  log('open', `${base}/targets`);
  await page.goto(`${base}/targets`);
  const pool = page.locator(`details.card[data-pool="${job}"]`);
  const row = pool.locator('tbody tr').filter({ hasText: target });
  await row.first().waitFor();
  await page.getByText(/^Updated /).waitFor();
  report.targets = {
    heading: await page.getByRole('heading', { level: 1 }).textContent(),
    poolHeading: await pool.getByRole('heading', { level: 2 }).textContent(),
    poolBadge: await pool.locator('summary .badge').textContent(),
    rows: await row.evaluateAll(trs => trs.map(tr => ({
      endpoint: tr.querySelector('td a')?.textContent,
      href: tr.querySelector('td a')?.getAttribute('href'),
      health: tr.querySelector('[data-label="State"] .badge')?.textContent,
      labels: Object.fromEntries([...tr.querySelectorAll('.chip')].map(c =>
        [c.querySelector('.chip-k').textContent, c.querySelector('.chip-v').textContent])),
      error: tr.querySelector('.error-text')?.textContent ?? null,
    }))),
  };
  await shot('5-targets');

  // ------------------------------------------------ value-axis units
  // the unit the graph puts on its value axis for each expression
  report.units = await page.evaluate(async exprs => {
    const { guessUnit } = await import('/assets/query.js');
    return Object.fromEntries(exprs.map(e => [e, guessUnit(e)]));
  }, [
    'http_request_duration_seconds_bucket',
    'rate(http_request_duration_seconds_bucket[1m])',
    'rate(http_request_size_bytes_bucket{le="100"}[5m])',
    'histogram_quantile(0.9, rate(http_request_duration_seconds_bucket[5m]))',
    'rate(http_request_duration_seconds_count[1m])',
    'http_request_duration_seconds_sum / http_request_duration_seconds_count',
    'process_resident_memory_bytes',
  ]);

  // ------------------------------------------- query cost under a panel
  // (the typed table query, and the rate graph: read before moving on)
  report.cost = {
    table: report.typed.cost,
    rate: report.rate.cost,
  };

  // ------------------------------------------- drag-to-zoom on the graph
  log('open', base + rateLink);
  await page.goto(base + rateLink);
  panel = page.getByRole('region', { name: 'Query panel' }).first();
  await graphReport(panel);
  const chartEl = panel.locator('.chart');
  const geo = async () => chartEl.evaluate(el => ({
    start: Number(el.dataset.start), end: Number(el.dataset.end),
    left: Number(el.dataset.plotLeft), width: Number(el.dataset.plotWidth),
    yMin: Number(el.dataset.yMin), yMax: Number(el.dataset.yMax),
  }));
  const before = await geo();
  const box = await chartEl.boundingBox();
  const xa = box.x + before.left + before.width * 0.25, xb = box.x + before.left + before.width * 0.75;
  const y = box.y + box.height / 2;
  const at = x => before.start + ((x - box.x - before.left) / before.width) * (before.end - before.start);
  await page.mouse.move(xa, y);
  await page.mouse.down();
  await page.mouse.move((xa + xb) / 2, y, { steps: 4 });
  await page.mouse.move(xb, y, { steps: 4 });
  await page.mouse.up();
  await page.waitForURL(/g0\.end_input=/);
  const zoomedUrl = page.url();
  const zoomedParams = new URL(zoomedUrl).searchParams;
  const endInput = zoomedParams.get('g0.end_input');
  // the zoomed graph is drawn over the new span
  await page.waitForFunction(e => {
    const c = document.querySelector('.chart');
    return c && Number(c.dataset.end) === e;
  }, Date.parse(`${endInput.replace(' ', 'T')}Z`));
  const after = await geo();
  await shot('6-zoomed-graph');
  const zoomOut = panel.getByRole('button', { name: 'Zoom out' });
  const zoomOutVisible = await zoomOut.isVisible();
  await zoomOut.click();
  await page.waitForURL(u => !u.searchParams.has('g0.end_input'));
  report.zoom = {
    before, after, selected: { from: at(xa), to: at(xb) },
    url: zoomedUrl, rangeInput: zoomedParams.get('g0.range_input'), endInput,
    endMs: Date.parse(`${endInput.replace(' ', 'T')}Z`),
    zoomOutVisible, backUrl: page.url(),
    backRange: new URL(page.url()).searchParams.get('g0.range_input'),
  };
  // the browser's Back button returns to the zoomed span as well
  await page.goBack();
  await page.waitForURL(/g0\.end_input=/);
  report.zoom.backButtonUrl = page.url();

  // ------------------------------------------- start the Y axis at 0
  const gaugeGraph = `/graph?g0.expr=${encodeURIComponent(tableExpr)}&g0.tab=0&g0.range_input=${range}`;
  log('open', base + gaugeGraph);
  await page.goto(base + gaugeGraph);
  panel = page.getByRole('region', { name: 'Query panel' }).first();
  await graphReport(panel);
  const yBefore = (await geo()).yMin;
  const yZero = panel.getByRole('checkbox', { name: 'Start Y axis at 0' });
  await yZero.check();
  await page.waitForURL(/g0\.y_axis_min=0/);
  const yChecked = (await geo()).yMin;
  await shot('7-y-axis-zero');
  await page.reload();
  panel = page.getByRole('region', { name: 'Query panel' }).first();
  await graphReport(panel);
  report.yAxis = {
    before: yBefore, checked: yChecked, url: page.url(),
    afterReload: (await geo()).yMin,
    boxAfterReload: await panel.getByRole('checkbox', { name: 'Start Y axis at 0' }).isChecked(),
  };

  // ------------------------------------------- exemplars on the graph
  const exGraph = `/graph?g0.expr=${encodeURIComponent(tableExpr)}&g0.tab=0&g0.range_input=1h`;
  log('open', base + exGraph);
  await page.goto(base + exGraph);
  panel = page.getByRole('region', { name: 'Query panel' }).first();
  await panel.locator('.tab-info', { hasText: /^\d+ series · \d+ points · / }).waitFor();
  await panel.locator('.legend .legend-item').first().waitFor();
  const exemplarsBefore = await panel.locator('.chart').evaluate(el => el.dataset.exemplars ?? '0');
  await panel.getByRole('checkbox', { name: 'Show exemplars' }).check();
  await page.waitForURL(/g0\.show_exemplars=1/);
  await page.waitForFunction(() => Number(document.querySelector('.chart')?.dataset.exemplars) > 0, null, { timeout: TIMEOUT });
  const exChart = panel.locator('.chart');
  const ex = await exChart.evaluate(el => ({
    count: Number(el.dataset.exemplars), x: Number(el.dataset.exemplarX), y: Number(el.dataset.exemplarY),
  }));
  const exBox = await exChart.boundingBox();
  await page.mouse.move(exBox.x + ex.x, exBox.y + ex.y);
  const exTip = panel.locator('.tooltip');
  await exTip.waitFor({ state: 'visible' });
  await shot('7b-exemplars');
  report.exemplars = {
    before: Number(exemplarsBefore), count: ex.count, url: page.url(),
    tip: await exTip.textContent(), tipLabel: await exTip.getAttribute('aria-label'),
  };
  await page.mouse.move(0, 0);

  // ------------------------------------------------------ query history
  log('open', `${base}/query`);
  await page.goto(`${base}/query`);
  panel = page.getByRole('region', { name: 'Query panel' }).first();
  const stored = await page.evaluate(() => JSON.parse(localStorage.getItem('flint.queryHistory') || '[]').map(x => x.expr));
  await panel.getByRole('button', { name: 'Query history' }).click();
  const hist = page.getByRole('dialog', { name: 'Query history' });
  await hist.waitFor();
  const histItems = () => hist.locator('.pop-expr').allTextContents();
  const allItems = await histItems();
  await hist.getByRole('searchbox', { name: 'Search query history' }).fill('rate(');
  await page.waitForFunction(() => [...document.querySelectorAll('.popover .pop-expr')].every(e => e.textContent.includes('rate(')));
  const filtered = await histItems();
  await shot('8-history');
  await hist.locator('.pop-item').first().click();
  await waitTable(panel);
  report.history = {
    stored, allItems, filtered,
    editor: await panel.getByRole('combobox', { name: 'Expression' }).inputValue(),
    popoverGone: await hist.count() === 0,
    rows: (await tableRows(panel)).length,
  };

  // --------------------------------------------------- metrics explorer
  await page.goto(`${base}/query`);
  panel = page.getByRole('region', { name: 'Query panel' }).first();
  const ed = panel.getByRole('combobox', { name: 'Expression' });
  await ed.click();
  await ed.pressSequentially('avg()', { delay: 15 });
  await ed.press('Escape');
  await ed.press('ArrowLeft'); // the cursor between the parentheses
  const beforeInsert = await ed.inputValue();
  await panel.getByRole('button', { name: 'Metrics explorer' }).click();
  const mx = page.getByRole('dialog', { name: 'Metrics explorer' });
  await mx.waitFor();
  const fuzzyQuery = 'uitmpcel';
  await mx.getByRole('searchbox', { name: 'Search metrics' }).fill(fuzzyQuery);
  // the list is repainted for the query: every row a fuzzy match
  await page.waitForFunction(q => {
    const rows = [...document.querySelectorAll('dialog .mx-row')];
    const fits = n => { let j = 0; for (const c of n) if (c === q[j]) j++; return j === q.length; };
    return rows.length > 0 && rows.every(r => fits(r.dataset.metric));
  }, fuzzyQuery);
  const mxRows = await mx.locator('.mx-row').evaluateAll(rs => rs.map(r => ({
    name: r.dataset.metric,
    type: r.querySelector('.mx-type')?.textContent ?? null,
    help: r.querySelector('.mx-help')?.textContent ?? null,
  })));
  const first = mx.locator('.mx-row').first();
  await first.getByRole('button', { name: 'Labels' }).click();
  await first.locator('table.mx-label-table tbody tr').first().waitFor();
  const mxLabels = await first.locator('table.mx-label-table tbody tr').evaluateAll(trs => Object.fromEntries(trs.map(tr =>
    [tr.querySelector('.mx-label').textContent, Number(tr.querySelector('td.num').textContent)])));
  await shot('9-metrics-explorer');
  await first.locator('.mx-name').click();
  await mx.waitFor({ state: 'detached' });
  report.explorer = {
    query: fuzzyQuery, beforeInsert, rows: mxRows, labels: mxLabels,
    editor: await ed.inputValue(),
  };

  // ------------------------------------------------------ Format button
  await ed.fill(formatExpr);
  await panel.getByRole('button', { name: 'Format expression' }).click();
  await page.waitForFunction(([sel, v]) => document.querySelector(sel).value !== v,
    ['section.panel textarea', formatExpr]);
  report.format = { input: formatExpr, editor: await ed.inputValue(), url: page.url() };

  // ------------------------------------------- Explain: the syntax tree
  const explainLink = `/graph?g0.expr=${encodeURIComponent(explainExpr)}&g0.tab=explain`;
  log('open', base + explainLink);
  await page.goto(base + explainLink);
  panel = page.getByRole('region', { name: 'Query panel' }).first();
  await panel.locator('.ex-node').first().waitFor();
  await page.waitForFunction(() => {
    const st = [...document.querySelectorAll('.ex-stats')];
    return st.length > 0 && st.every(e => e.dataset.series !== undefined);
  });
  report.explain = {
    selected: await panel.getByRole('tab', { name: 'Explain' }).getAttribute('aria-selected'),
    nodes: await panel.locator('.ex-node').evaluateAll(ns => ns.map(n => ({
      expr: n.dataset.expr, depth: Number(n.dataset.depth),
      series: n.querySelector(':scope > .ex-stats').dataset.series,
    }))),
  };
  await shot('14-explain');
  // nodes written back as PromQL for a range of syntax
  report.explain.roundTrip = await page.evaluate(async exprs => {
    const { toPromQL } = await import('/assets/explain.js');
    const out = [];
    for (const e of exprs) {
      const r = await (await fetch(`/api/v1/parse_query?query=${encodeURIComponent(e)}`)).json();
      out.push([e, toPromQL(r.data)]);
    }
    return out;
  }, [
    'sum without (instance) (rate(ui_requests_total{code!="500",path=~"/a|/b"}[5m] offset 1m))',
    'topk(2, ui_temperature_celsius) > bool on (room) group_left (env) ui_temperature_celsius * -1',
    'max_over_time(ui_temperature_celsius[10m:30s] @ 1700000000) - ignoring (room) group_right () vector(1)',
    'label_replace(ui_temperature_celsius, "x", "$1", "room", "(.*)")',
    '{__name__=~"ui_.*", room="attic"} unless {"ui.odd name", room!~"h.*"}',
    'ui_temperature_celsius @ start() offset -5m',
    '(1 + 2) / 3 ^ 2 ^ 1',
    'quantile by (room) (0.9, -ui_temperature_celsius)',
    'count_over_time(ui_temperature_celsius[1m:])',
  ]);

  // --------------------------------------------------------------- alerts
  log('open', `${base}/alerts`);
  await page.goto(`${base}/alerts`);
  await page.locator('.alert-group').first().waitFor();
  const alertView = () => page.locator('.alert-group').evaluateAll(gs => gs.map(g => ({
    group: g.dataset.group,
    rules: [...g.querySelectorAll('.rule-item')].map(r => ({ name: r.dataset.rule, state: r.dataset.state })),
  })));
  const stateBtn = s => page.getByRole('group', { name: 'Show states' }).locator(`button[data-state="${s}"]`);
  const allAlerts = await alertView();
  await stateBtn('firing').click();
  await stateBtn('inactive').click();
  const pendingOnly = await alertView();
  const pendingUrl = page.url();
  await shot('10-alerts-pending');
  await stateBtn('firing').click();
  await stateBtn('inactive').click();
  await page.getByRole('searchbox', { name: 'Filter alerts' }).fill('freez');
  await page.waitForFunction(() => document.querySelectorAll('.alert-group .rule-item').length === 1);
  const searched = await alertView();
  await page.reload();
  await page.locator('.alert-group').first().waitFor();
  report.alerts = {
    all: allAlerts, pendingOnly, pendingUrl, searched, searchUrl: page.url(),
    afterReload: await alertView(),
    searchAfterReload: await page.getByRole('searchbox', { name: 'Filter alerts' }).inputValue(),
  };

  // --------------------------------- service discovery: relabel steps
  log('open', `${base}/service-discovery`);
  await page.goto(`${base}/service-discovery`);
  const sdCard = page.locator('details.card', { has: page.getByRole('heading', { name: job, exact: true }) });
  await sdCard.locator('tbody tr').first().waitFor();
  const stepsOf = async rowText => {
    const tr = sdCard.locator('tbody > tr:not(.relabel-row)').filter({ hasText: rowText }).first();
    await tr.getByRole('button', { name: 'Relabeling' }).click();
    const table = tr.locator('xpath=following-sibling::tr[1]').locator('table.relabel-table');
    await table.locator('tbody tr').first().waitFor();
    return table.locator('tbody tr').evaluateAll(trs => trs.map(r => ({
      action: r.querySelector('td:nth-child(2) b').textContent,
      keep: r.dataset.keep === 'true',
      output: Object.fromEntries([...r.querySelectorAll('.chip')].map(c =>
        [c.querySelector('.chip-k').textContent, c.querySelector('.chip-v').textContent])),
      changed: [...r.querySelectorAll('.chip-changed .chip-k')].map(c => c.textContent),
    })));
  };
  report.relabel = {
    active: await stepsOf(`__address__=${target}`),
    dropped: await stepsOf('__address__=dropped.'),
  };
  await shot('11-relabel-steps');

  // ------------------------------------------ TSDB: cardinality by metric
  log('open', `${base}/tsdb-status`);
  await page.goto(`${base}/tsdb-status`);
  const card = page.getByRole('region', { name: 'Cardinality by metric' });
  await card.locator('tbody tr').first().waitFor();
  const allMetricRows = await card.locator('tbody tr').count();
  await card.getByRole('searchbox', { name: 'Filter metrics by name' }).fill('ui_');
  await page.waitForFunction(() => [...document.querySelectorAll('#metric-cardinality tbody tr')]
    .every(tr => tr.dataset.metric.includes('ui_')));
  report.cardinality = {
    allRows: allMetricRows,
    rows: await card.locator('tbody tr').evaluateAll(trs => trs.map(tr => ({
      name: tr.dataset.metric, series: Number(tr.querySelector('td.count').textContent.replace(/,/g, '')),
    }))),
  };
  await card.scrollIntoViewIfNeeded();
  await shot('12-tsdb-cardinality');

  // ------------------------------------------ TSDB: bytes on disk by metric
  const bytesCard = page.getByRole('region', { name: 'Bytes on disk by metric' });
  await bytesCard.locator('tbody tr').first().waitFor();
  const bytesRows = () => bytesCard.locator('tbody tr').evaluateAll(trs => trs.map(tr => ({
    name: tr.dataset.metric,
    series: Number(tr.querySelector('td.series').textContent.replace(/,/g, '')),
    total: tr.querySelector('td.value').textContent,
    totalBytes: Number(tr.querySelector('td.value').title.replace(/,| bytes/g, '')),
  })));
  const sortOf = async () => bytesCard.locator('th[aria-sort]:not([aria-sort="none"])')
    .evaluate(th => `${th.textContent.trim()} ${th.getAttribute('aria-sort')}`);
  report.bytes = { byTotal: await bytesRows(), sortedBy: [await sortOf()] };
  const seriesHeader = bytesCard.getByRole('button', { name: /^Series/ });
  await seriesHeader.click();
  report.bytes.bySeries = await bytesRows();
  report.bytes.sortedBy.push(await sortOf());
  await seriesHeader.press('Enter');
  report.bytes.bySeriesUp = await bytesRows();
  report.bytes.sortedBy.push(await sortOf());
  await bytesCard.getByRole('button', { name: /^Total/ }).click();
  await bytesCard.scrollIntoViewIfNeeded();
  await shot('12b-tsdb-bytes');

  // ------------------------------------- a native histogram in the table
  await page.goto(`${base}/graph?g0.expr=${encodeURIComponent('ui_request_seconds')}&g0.tab=1`);
  panel = page.getByRole('region', { name: 'Query panel' }).first();
  await waitTable(panel);
  await panel.locator('.hist summary').first().click();
  report.histogram = await panel.locator('.hist').first().evaluate(el => ({
    head: el.querySelector('span').textContent,
    summary: el.querySelector('summary').textContent,
    buckets: [...el.querySelectorAll('table.hist-buckets tr')].map(tr => ({
      range: tr.cells[0].textContent,
      count: tr.cells[1].textContent,
      width: tr.querySelector('td.bar div').style.width,
    })),
  }));

  // ------------------------------ native histograms on the graph: heatmap
  await page.goto(`${base}/graph?g0.expr=${encodeURIComponent(heatmapExpr)}&g0.tab=0&g0.range_input=${range}&g0.end_input=${heatmapEnd}`);
  panel = page.getByRole('region', { name: 'Query panel' }).first();
  await panel.locator('.tab-info', { hasText: /^\d+ series · \d+ points · step 1s · / }).waitFor();
  const heat = panel.locator('.chart[data-mode="heatmap"]');
  await panel.locator('.chart[data-mode="heatmap"][data-cells]').waitFor();
  await panel.locator('.chart:not([data-mode]) + .legend-bar + .legend .legend-item').first().waitFor();
  report.heatmap = {
    info: await panel.locator('.tab-info').textContent(),
    legend: await panel.locator('.chart[data-mode] ~ .legend').first().evaluate(el =>
      [...el.querySelectorAll('.legend-item')].map(b => window.__readMetric(b.querySelector('.metric')))),
    floatLegend: await panel.locator('.chart:not([data-mode]) + .legend-bar + .legend').evaluate(el =>
      [...el.querySelectorAll('.legend-item')].map(b => window.__readMetric(b.querySelector('.metric')))),
    light: await heatmapReport(heat),
  };
  const cell = report.heatmap.light;
  const heatBox = await heat.boundingBox();
  await page.mouse.move(heatBox.x + cell.cellX, heatBox.y + cell.cellY);
  const heatTip = heat.locator('.tooltip');
  await heatTip.waitFor({ state: 'visible' });
  report.heatmap.tip = await heatTip.evaluate(el => ({
    ...el.dataset, text: el.textContent, metric: window.__readMetric(el.querySelector('.metric')),
  }));
  await shot('15-heatmap');
  await page.mouse.move(0, 0);
  await page.locator('#theme-toggle').click();
  await page.waitForFunction(() => document.documentElement.dataset.theme === 'dark');
  report.heatmap.dark = await heatmapReport(heat);
  await page.mouse.move(heatBox.x + cell.cellX, heatBox.y + cell.cellY);
  await heatTip.waitFor({ state: 'visible' });
  await shot('15b-heatmap-dark');
  await page.mouse.move(0, 0);
  await page.locator('#theme-toggle').click();
  await page.waitForFunction(() => document.documentElement.dataset.theme === 'light');
  await panel.locator('.chart[data-mode] ~ .legend .legend-item[data-i="1"]').first().click();
  await page.waitForFunction(() => document.querySelector('.chart[data-mode]').dataset.selected === '1');
  report.heatmap.second = await heatmapReport(heat);
  await heat.scrollIntoViewIfNeeded();
  await shot('15b-heatmap-negative-buckets');
  await panel.getByRole('group', { name: 'Histograms drawn as' }).getByRole('button', { name: 'Count' }).click();
  await page.waitForURL(/g0\.histogram_view=count/);
  const counts = await graphReport(panel);
  report.heatmap.countUrl = page.url();
  report.heatmap.countLegend = counts.legend;
  report.heatmap.countLines = counts.linesDrawn;
  await shot('15c-heatmap-count');

  // ----------------- targets page: endpoints on one line beside an error
  await page.setViewportSize({ width: 900, height: 860 });
  log('open', `${base}/targets`);
  await page.goto(`${base}/targets`);
  const downPool = page.locator(`details.card[data-pool="${downJob}"]`);
  await downPool.locator('.error-text').first().waitFor();
  report.targetsLayout = await page.evaluate(pool => {
    const a = document.querySelector(`details.card[data-pool="${pool}"] tbody tr td a`);
    const input = document.querySelector('input[aria-label="Filter targets"]');
    const cs = getComputedStyle(input);
    const ctx = document.createElement('canvas').getContext('2d');
    ctx.font = cs.font;
    return {
      endpoint: a.textContent,
      endpointLines: a.getClientRects().length,
      endpointHeight: a.getBoundingClientRect().height,
      lineHeight: parseFloat(getComputedStyle(a).lineHeight) || 20,
      error: document.querySelector(`details.card[data-pool="${pool}"] .error-text`)?.textContent ?? null,
      placeholder: input.placeholder,
      placeholderWidth: ctx.measureText(input.placeholder).width,
      inputInnerWidth: input.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight),
    };
  }, downJob);
  await shot('13-targets-down');
} catch (e) {
  if (page) {
    const path = join(shots, 'failure.png');
    await page.screenshot({ path, fullPage: true }).catch(() => {});
    log('screenshot', path);
  }
  await browser.close();
  fail(`${e.message}\npage errors so far: ${JSON.stringify(report.pageErrors)}`);
}
await browser.close();
console.log(JSON.stringify(report));

// ------------------------------------------------------------ helpers

/** The query cost shown under a panel: { series, samples, peak, eval, prepare } as shown. */
async function costOf(panel) {
  const cost = panel.getByLabel('Query cost');
  await cost.locator('b[data-k="samples"]').waitFor();
  return cost.locator('b[data-k]').evaluateAll(bs => Object.fromEntries(bs.map(b => [b.dataset.k, b.textContent])));
}

/** Waits for the Table tab's result (its info line says when it evaluated). */
async function waitTable(panel) {
  await panel.locator('.tab-info', { hasText: /results? · evaluated at/ }).waitFor();
  await panel.locator('table.result-table tbody tr').first().waitFor();
}

/** The table's rows as { metric: {labels with __name__}, value }. */
function tableRows(panel) {
  return panel.locator('table.result-table tbody tr').evaluateAll(trs => trs.map(tr => ({
    metric: window.__readMetric(tr.querySelector('.metric')),
    value: tr.querySelector('td.val').textContent,
  })));
}

/**
 * The heatmap's own account of what it drew (rows, cells, the most
 * observations' cell, the lowest bound), how many colours its plot has,
 * and the colour at that cell.
 */
async function heatmapReport(heat) {
  return heat.evaluate(el => {
    const cv = el.querySelector('canvas[role="img"]');
    const d = el.dataset;
    const ctx = cv.getContext('2d');
    const left = Math.ceil(Number(d.plotLeft)) + 1, width = Math.floor(Number(d.plotWidth)) - 2;
    const px = ctx.getImageData(left, 10, width, cv.height - 40).data;
    const colors = new Set();
    for (let o = 0; o < px.length; o += 4) colors.add((px[o] << 16) | (px[o + 1] << 8) | px[o + 2]);
    const at = ctx.getImageData(Number(d.cellX), Number(d.cellY), 1, 1).data;
    return {
      selected: d.selected, rows: Number(d.rows), cells: Number(d.cells), colorMax: Number(d.colorMax),
      cellX: Number(d.cellX), cellY: Number(d.cellY), lowest: d.lowest, colors: colors.size,
      colorsAt: [...at.slice(0, 3)].join(','),
    };
  });
}

/**
 * Waits for the Graph tab to have drawn its range query with a 1 s step
 * (the range set above), then reads the legend and the canvas: for each
 * colour of the chart's palette, how many opaque pixels of it the plot has,
 * over how many columns, and their median row.
 */
async function graphReport(panel) {
  await panel.locator('.tab-info', { hasText: /^\d+ series · \d+ points · step 1s · / }).waitFor();
  await panel.locator('.legend .legend-item').first().waitFor();
  await panel.page().waitForFunction(() => {
    const c = document.querySelector('.chart canvas[role="img"]');
    return c && c.width > 0 && c.height > 0;
  });
  const info = await panel.locator('.tab-info').textContent();
  const data = await panel.evaluate(async el => {
    const { seriesColor } = await import('/assets/chart.js');
    const t = document.documentElement.dataset.theme;
    const dark = t ? t === 'dark' : matchMedia('(prefers-color-scheme: dark)').matches;
    const legend = [...el.querySelectorAll('.legend .legend-item')].map(b => ({
      i: Number(b.dataset.i),
      shown: b.getAttribute('aria-pressed') === 'true',
      metric: window.__readMetric(b.querySelector('.metric')),
      swatch: getComputedStyle(b.querySelector('.swatch')).backgroundColor,
    }));
    const probe = document.createElement('canvas').getContext('2d', { willReadFrequently: true });
    const rgb = c => {
      probe.clearRect(0, 0, 1, 1);
      probe.fillStyle = c;
      probe.fillRect(0, 0, 1, 1);
      return [...probe.getImageData(0, 0, 1, 1).data.slice(0, 3)];
    };
    const PALETTE = 10;
    const palette = Array.from({ length: PALETTE }, (_, i) => rgb(seriesColor(i, dark)));
    const cv = el.querySelector('.chart canvas[role="img"]');
    const px = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
    const stats = palette.map(() => ({ pixels: 0, cols: new Set(), ys: [] }));
    for (let y = 0; y < cv.height; y++) {
      for (let x = 0; x < cv.width; x++) {
        const o = (y * cv.width + x) * 4;
        if (px[o + 3] < 96) continue;
        for (let i = 0; i < PALETTE; i++) {
          const c = palette[i];
          if (Math.abs(px[o] - c[0]) <= 10 && Math.abs(px[o + 1] - c[1]) <= 10 && Math.abs(px[o + 2] - c[2]) <= 10) {
            stats[i].pixels++;
            stats[i].cols.add(x);
            stats[i].ys.push(y);
            break;
          }
        }
      }
    }
    const colors = stats.map((s, i) => {
      s.ys.sort((a, b) => a - b);
      return {
        i, rgb: `rgb(${palette[i].join(', ')})`, pixels: s.pixels, columns: s.cols.size,
        medianY: s.ys.length ? s.ys[s.ys.length >> 1] : null,
      };
    });
    return {
      legend, colors, canvas: { width: cv.width, height: cv.height },
      legendBar: el.querySelector('.legend-bar')?.textContent ?? '',
    };
  });
  return {
    info,
    ...data,
    linesDrawn: data.colors.filter(c => c.pixels > 0).length,
  };
}
