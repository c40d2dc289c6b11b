// Measures the dashboard's tree with one node of many children, against a
// real server: the children API at shallow and deep pages, and in Chromium
// the time to first rows, to expand, to page in more while scrolling, the
// DOM size and the JS heap. Also the size of what the browser downloads.
//   NODESPACE_BIN=build/release/nodespace node web/bench/tree_bench.js [children] [--out FILE]
import { writeFileSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { cleanup, cli, launchBrowser, makeDatabase, repo, startServer } from '../e2e/harness.js';

const args = process.argv.slice(2);
const children = Number(args.find((a) => /^\d+$/.test(a)) || 100000);
const outIndex = args.indexOf('--out');
const out = outIndex >= 0 ? args[outIndex + 1] : null;

const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const ms = (x) => x.toFixed(1);
const lines = [];
const say = (s) => {
  lines.push(s);
  console.log(s);
};

const t0 = performance.now();
const db = makeDatabase('bench', (path, dir) => {
  const rows = [JSON.stringify({ id: 'big', content: '# Many children' })];
  for (let i = 0; i < children; i++) rows.push(JSON.stringify({ id: 'c' + i, parent_id: 'big', content: 'child number ' + i }));
  writeFileSync(join(dir, 'big.jsonl'), rows.join('\n') + '\n');
  cli(path, 'import', join(dir, 'big.jsonl'));
});
const importMs = performance.now() - t0;
const server = await startServer(db.db);
try {
  say(`# Dashboard tree, one node with ${children.toLocaleString('en')} children`);
  say('');
  say(`import of ${(children + 1).toLocaleString('en')} nodes (CLI, setup): ${ms(importMs)} ms`);
  say('');
  say('| children API (200 per page, child_counts=true) | p50 ms | p95 ms |');
  say('|---|---|---|');
  for (const [label, after] of [
    ['first page', ''],
    ['middle page', 'c' + Math.floor(children / 2)],
    ['last page', 'c' + (children - 201)],
  ]) {
    const times = [];
    for (let i = 0; i < 40; i++) {
      const s = performance.now();
      const r = await fetch(server.url + '/v1/nodes/big/children?limit=200&child_counts=true' + (after ? '&after=' + after : ''));
      await r.json();
      times.push(performance.now() - s);
    }
    say(`| ${label} | ${ms(pct(times, 50))} | ${ms(pct(times, 95))} |`);
  }
  const roots = [];
  for (let i = 0; i < 40; i++) {
    const s = performance.now();
    await (await fetch(server.url + '/v1/roots?child_counts=true&limit=200')).json();
    roots.push(performance.now() - s);
  }
  say(`| roots (counting the ${children.toLocaleString('en')} children) | ${ms(pct(roots, 50))} | ${ms(pct(roots, 95))} |`);

  const browser = await launchBrowser();
  const page = await (await browser.newContext({ viewport: { width: 1360, height: 860 } })).newPage();
  let s = performance.now();
  await page.goto(server.url + '/#/tree');
  await page.getByRole('treeitem').first().waitFor();
  const firstRows = performance.now() - s;
  s = performance.now();
  await page.getByRole('button', { name: /^Expand Many children/ }).click();
  await page.getByText('child number 0', { exact: true }).waitFor();
  const expand = performance.now() - s;
  const pages = [];
  const frames = [];
  for (let i = 0; i < 20; i++) {
    const before = await page.evaluate(() => document.querySelector('[data-testid=tree] > div').offsetHeight);
    s = performance.now();
    await page.evaluate(() => {
      const t = document.querySelector('[data-testid=tree]');
      t.scrollTop = t.scrollHeight;
    });
    await page.waitForFunction((h) => document.querySelector('[data-testid=tree] > div').offsetHeight > h, before);
    pages.push(performance.now() - s);
  }
  // Scroll cost with 4,000+ rows loaded: time per scroll step, in the page.
  const step = await page.evaluate(async () => {
    const t = document.querySelector('[data-testid=tree]');
    const times = [];
    for (let i = 0; i < 60; i++) {
      const s = performance.now();
      t.scrollTop = (i * 997) % Math.max(1, t.scrollHeight - t.clientHeight);
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      times.push(performance.now() - s);
    }
    return times;
  });
  frames.push(...step);
  const dom = await page.evaluate(() => document.querySelectorAll('*').length);
  const rows = await page.getByRole('treeitem').count();
  const heap = await page.evaluate(() => (performance.memory ? performance.memory.usedJSHeapSize : -1));
  const loaded = await page.evaluate(() => document.querySelector('[data-testid=tree] > div').offsetHeight / 28);
  await browser.close();

  say('');
  say('| in Chromium (headless) | value |');
  say('|---|---|');
  say(`| page load to first tree rows | ${ms(firstRows)} ms |`);
  say(`| expand the node to its first children | ${ms(expand)} ms |`);
  say(`| scroll to the end, next page of 200 drawn (p50 / p95 of 20) | ${ms(pct(pages, 50))} / ${ms(pct(pages, 95))} ms |`);
  say(`| one scroll jump with ${Math.round(loaded).toLocaleString('en')} rows loaded, two frames (p50 / p95) | ${ms(pct(frames, 50))} / ${ms(pct(frames, 95))} ms |`);
  say(`| tree rows in the DOM / elements in the page | ${rows} / ${dom} |`);
  say(`| JS heap in use | ${(heap / 1048576).toFixed(1)} MiB |`);

  const dist = join(repo, 'build/release/web-dist/assets');
  let raw = 0;
  let gz = 0;
  for (const f of readdirSync(dist)) {
    const bytes = readFileSync(join(dist, f));
    raw += statSync(join(dist, f)).size;
    gz += gzipSync(bytes).length;
  }
  say(`| dashboard assets (JS + CSS) | ${(raw / 1024).toFixed(0)} KiB, ${(gz / 1024).toFixed(0)} KiB gzipped |`);
} finally {
  await server.stop();
  cleanup(db.root);
}
if (out) writeFileSync(out, lines.join('\n') + '\n');
