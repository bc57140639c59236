// The web UI's graph against uPlot: draws the same generated data (S series
// × N points on one time grid) in headless Chromium, once with flint's own
// canvas chart (web/ui/chart.js, through `Chart.setData` as the query page
// calls it) and once with uPlot (one y scale, one stroke colour a series,
// no points, its legend off), and reports per size the median and range
// over several repetitions of
//
//   first draw   flint: setData (legend and canvas); uPlot: new uPlot(...)
//   redraw       flint: draw() alone (what a resize or a legend click does);
//                uPlot: redraw()
//   zoom         the middle quarter of the time range: flint: setData with
//                those points (the page re-queries the range; the query is
//                not counted); uPlot: setScale('x', …) on the data it holds
//
// each timed two ways: "sync", from the call until the canvases are
// rasterised (a 1×1 getImageData on each), and "frame", until two
// animation frames later (the page painted). Also prints the bytes each
// adds to the embedded UI. The machine is noisy: compare within one run.
//
//   node benches/ui_chart.mjs [--uplot DIR] [--reps 7] [--sizes 2000x1000,200x1000]
//
// DIR (or UPLOT_DIR) is an unpacked `uplot` npm package (`npm pack uplot`,
// then `tar xzf uplot-*.tgz`: the `package` folder); without it only
// flint's chart is measured. Chromium: FLINT_CHROMIUM, or `chromium` on
// the PATH; playwright-core: tests/ui/node_modules (`npm ci` in tests/ui).
// A missing browser or playwright-core prints `SKIP ui_chart: <reason>`.

import { createRequire } from 'node:module';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve, extname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const UI = join(ROOT, 'web/ui');
const ORIGIN = 'http://flint-bench.invalid';

function skip(reason) {
  console.log(`SKIP ui_chart: ${reason}`);
  process.exit(0);
}

// ------------------------------------------------------------ arguments

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const reps = Number(opt('reps', '7'));
const sizes = opt('sizes', '2000x1000,200x1000').split(',').map(s => s.split('x').map(Number));
const uplotDir = opt('uplot', process.env.UPLOT_DIR || '');

// ------------------------------------------------------------ prerequisites

function findChromium() {
  if (process.env.FLINT_CHROMIUM) {
    if (!existsSync(process.env.FLINT_CHROMIUM)) skip(`FLINT_CHROMIUM=${process.env.FLINT_CHROMIUM} does not exist`);
    return process.env.FLINT_CHROMIUM;
  }
  for (const dir of (process.env.PATH || '').split(':')) {
    for (const name of ['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome']) {
      const p = join(dir, name);
      if (existsSync(p)) return p;
    }
  }
  skip('no Chromium found (install Debian\'s `chromium`, or set FLINT_CHROMIUM)');
}

const chromiumPath = findChromium();
let chromium;
try {
  const req = createRequire(join(ROOT, 'tests/ui/package.json'));
  const pw = await import(pathToFileURL(req.resolve('playwright-core')).href);
  chromium = pw.chromium ?? pw.default.chromium;
} catch {
  skip('tests/ui/node_modules has no playwright-core (run `npm ci` in tests/ui)');
}

let uplot = null;
if (!uplotDir) {
  console.log('SKIP uPlot: no --uplot DIR or UPLOT_DIR given (an unpacked `uplot` npm package); measuring flint only');
} else if (!existsSync(join(uplotDir, 'dist/uPlot.iife.min.js'))) {
  console.log(`SKIP uPlot: ${uplotDir}/dist/uPlot.iife.min.js does not exist; measuring flint only`);
} else {
  const pkg = JSON.parse(readFileSync(join(uplotDir, 'package.json'), 'utf8'));
  uplot = { dir: uplotDir, version: pkg.version };
}

// ------------------------------------------------------------ sizes

const bytes = p => {
  const b = readFileSync(p);
  return { raw: b.length, gz: gzipSync(b, { level: 9 }).length };
};
const kb = n => `${(n / 1000).toFixed(1)} KB`;
const uiTotal = readdirSync(UI).reduce((a, f) => a + statSync(join(UI, f)).size, 0);
const chartJs = bytes(join(UI, 'chart.js'));
console.log(`embedded UI: ${kb(uiTotal)} in web/ui`);
console.log(`flint chart.js: ${kb(chartJs.raw)} (gzip ${kb(chartJs.gz)}), unminified`);
if (uplot) {
  const js = bytes(join(uplot.dir, 'dist/uPlot.iife.min.js'));
  const css = bytes(join(uplot.dir, 'dist/uPlot.min.css'));
  console.log(`uPlot ${uplot.version}: uPlot.iife.min.js ${kb(js.raw)} (gzip ${kb(js.gz)}) + uPlot.min.css ${kb(css.raw)} (gzip ${kb(css.gz)})`);
}

// ------------------------------------------------------------ the page

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<link rel="stylesheet" href="/assets/app.css">
${uplot ? '<link rel="stylesheet" href="/uplot/uPlot.min.css"><script src="/uplot/uPlot.iife.min.js"></script>' : ''}
<style>#box { width: 1200px; margin: 20px; }</style>
</head><body><div id="box"></div></body></html>`;

const TYPES = { '.js': 'text/javascript', '.css': 'text/css', '.html': 'text/html' };

// Runs in the page: generates the data, draws it with one chart, times it.
async function benchInPage({ lib, S, N, reps }) {
  const box = document.getElementById('box');
  box.replaceChildren();
  const { Chart, seriesColor } = await import('/assets/chart.js');
  // Deterministic random walks around per-series levels.
  let seed = 12345;
  const rnd = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const step = 15000, start = 1.7e12;
  const ys = [];
  for (let i = 0; i < S; i++) {
    const v = new Float64Array(N);
    let x = 10 + rnd() * 90;
    for (let k = 0; k < N; k++) {
      x += (rnd() - 0.5) * 2;
      v[k] = x;
    }
    ys.push(v);
  }
  const frame = () => new Promise(r => requestAnimationFrame(() => r()));
  const flush = () => {
    for (const c of box.querySelectorAll('canvas')) {
      if (c.width && c.height) c.getContext('2d').getImageData(0, 0, 1, 1);
    }
  };
  const time = async fn => {
    const t0 = performance.now();
    fn();
    await null; // uPlot commits its drawing in a microtask
    flush();
    const t1 = performance.now();
    await frame();
    await frame();
    return { sync: t1 - t0, frame: performance.now() - t0 };
  };
  const z0 = Math.floor(N * 3 / 8), z1 = Math.floor(N * 5 / 8); // the middle quarter
  const out = { first: [], redraw: [], zoom: [], drawOnly: [] };

  if (lib === 'flint') {
    const chart = new Chart();
    box.append(chart.el, chart.legendBar, chart.legend);
    const full = () => ({
      series: ys.map((v, i) => ({ metric: { __name__: 'bench', i: String(i) }, values: v })),
      start, step, stacked: false, yMin: null, unit: '',
    });
    const zoomed = () => ({
      series: ys.map((v, i) => ({ metric: { __name__: 'bench', i: String(i) }, values: v.slice(z0, z1 + 1) })),
      start: start + z0 * step, step, stacked: false, yMin: null, unit: '',
    });
    // warm up (and let the resize observer's first draw pass)
    chart.setData(full());
    await frame(); await frame();
    for (let r = 0; r < reps; r++) {
      const d = full();
      out.first.push(await time(() => chart.setData(d)));
      out.drawOnly.push(chart.lastDraw);
      out.redraw.push(await time(() => chart.draw()));
      const z = zoomed();
      out.zoom.push(await time(() => chart.setData(z)));
    }
    chart.destroy();
  } else {
    const xs = Array.from({ length: N }, (_, k) => (start + k * step) / 1000);
    const data = [xs, ...ys.map(v => Array.from(v))];
    const opts = {
      width: 1200, height: 360,
      legend: { show: false },
      scales: { x: { time: true } },
      series: [{}, ...ys.map((_, i) => ({ stroke: seriesColor(i, false), width: 1, points: { show: false } }))],
    };
    let u = new uPlot(opts, data, box); // warm up
    await frame(); await frame();
    for (let r = 0; r < reps; r++) {
      u.destroy();
      out.first.push(await time(() => { u = new uPlot(opts, data, box); }));
      out.redraw.push(await time(() => u.redraw()));
      out.zoom.push(await time(() => u.setScale('x', { min: xs[z0], max: xs[z1] })));
    }
    u.destroy();
  }
  return out;
}

const stats = xs => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  const med = s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  return { med, min: s[0], max: s[s.length - 1] };
};
const fmt = ({ med, min, max }) => `${med.toFixed(0)} ms (${min.toFixed(0)}–${max.toFixed(0)})`;

const browser = await chromium.launch({
  executablePath: chromiumPath,
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
  timeout: 30000,
});
try {
  console.log(`Chromium ${browser.version()} (headless, --disable-gpu: software rendering), ${reps} repetitions after a warm-up`);
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, deviceScaleFactor: 1, colorScheme: 'light' });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', e => errors.push(e.message));
  await page.route(`${ORIGIN}/**`, route => {
    const path = new URL(route.request().url()).pathname;
    let file = null;
    if (path === '/') return route.fulfill({ body: PAGE, contentType: 'text/html' });
    if (path.startsWith('/assets/')) file = join(UI, path.slice('/assets/'.length));
    else if (uplot && path.startsWith('/uplot/')) file = join(uplot.dir, 'dist', path.slice('/uplot/'.length));
    if (!file || !existsSync(file)) return route.fulfill({ status: 404, body: 'not found' });
    return route.fulfill({ body: readFileSync(file), contentType: TYPES[extname(file)] || 'application/octet-stream' });
  });
  await page.goto(`${ORIGIN}/`);
  page.setDefaultTimeout(600000);
  for (const [S, N] of sizes) {
    for (const lib of uplot ? ['flint', 'uplot'] : ['flint']) {
      const out = await page.evaluate(benchInPage, { lib, S, N, reps });
      if (errors.length) throw new Error(`page error: ${errors.join('; ')}`);
      const name = lib === 'flint' ? 'flint chart.js' : `uPlot ${uplot.version}`;
      const line = (what, xs) =>
        `  ${what.padEnd(12)} sync ${fmt(stats(xs.map(x => x.sync))).padEnd(22)} frame ${fmt(stats(xs.map(x => x.frame)))}`;
      console.log(`${S} series × ${N} points, ${name}: median (min–max)`);
      console.log(line('first draw', out.first));
      if (lib === 'flint') console.log(`  ${'of it draw()'.padEnd(12)} ${fmt(stats(out.drawOnly))} (script only)`);
      console.log(line('redraw', out.redraw));
      console.log(line('zoom', out.zoom));
    }
  }
} finally {
  await browser.close();
}
