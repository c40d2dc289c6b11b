// The dashboard end to end: a real server over the WordNet sample, pages
// in headless Chromium. Run by ctest (e2e.dashboard) or `npm run test:e2e`
// with NODESPACE_BIN pointing at the binary.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  api,
  cleanup,
  cli,
  join,
  launchBrowser,
  makeDatabase,
  openPage,
  sampleFile,
  screenshot,
  startServer,
  writeFileSync,
} from './harness.js';

const GUITAR = 'wn-03467517';
const INSTRUMENT = 'wn-03800933'; // musical instrument
let server;
let browser;
let root;
const errors = [];

before(async () => {
  ({ root } = makeDatabase('db', (db) => {
    cli(db, 'import', sampleFile());
    cli(db, 'embed'); // fits the built-in embedder: semantic search
  }));
  server = await startServer(join(root, 'db'));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (root) cleanup(root);
  assert.deepEqual(errors, [], 'the pages logged errors');
});

test('the tree lists roots, expands lazily and moves with the keyboard', async () => {
  // Without the change feed, so that a write behind the page's back stays
  // unseen until the page tries a move (the conflict below).
  const page = await openPage(browser, server.url + '/#/tree', errors, (p) =>
    p.route('**/v1/changes*', (route) => route.abort()),
  );
  const tree = page.getByRole('tree', { name: 'Nodes' });
  const entity = tree.getByRole('treeitem').first();
  await assert.doesNotReject(entity.waitFor());
  assert.match(await entity.textContent(), /entity/);
  assert.equal(await entity.getAttribute('aria-expanded'), 'false');

  await page.getByRole('button', { name: /^Expand entity/ }).click();
  await page.waitForFunction(() => document.querySelectorAll('[role=treeitem][aria-level="2"]').length >= 2);
  assert.equal(await entity.getAttribute('aria-expanded'), 'true');

  // Keyboard: down to the first child, Enter opens it in the node view.
  await tree.focus();
  await page.keyboard.press('Home');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await page.waitForURL(/#\/node\//);
  const firstChild = decodeURIComponent(page.url().split('#/node/')[1]);
  await page.getByTestId('node-view').waitFor();

  // Alt+ArrowDown moves it below its next sibling (a reorder with If-Match).
  const before = await api(server.url, 'GET', '/v1/nodes/wn-00001740/children');
  assert.equal(before.body.nodes[0].id, firstChild);
  await page.keyboard.press('Alt+ArrowDown');
  await page.waitForFunction(
    async (id) => {
      const r = await fetch('/v1/nodes/wn-00001740/children');
      return (await r.json()).nodes[1]?.id === id;
    },
    firstChild,
  );
  await screenshot(page, 'tree');

  // A stale move is refused and shown, not lost: move the node elsewhere
  // behind the page's back, then ask the page to move it again.
  const node = (await api(server.url, 'GET', '/v1/nodes/' + firstChild)).body;
  await api(server.url, 'PATCH', '/v1/nodes/' + firstChild, { content: node.content + ' (edited)' });
  await tree.focus();
  await page.keyboard.press('Alt+ArrowUp');
  const conflict = page.getByTestId('move-conflict');
  await conflict.waitFor();
  assert.match(await conflict.textContent(), /changed since it was loaded/);
  await conflict.getByRole('button', { name: 'Retry the move' }).click();
  await page.waitForFunction(
    async (id) => {
      const r = await fetch('/v1/nodes/wn-00001740/children');
      return (await r.json()).nodes[0]?.id === id;
    },
    firstChild,
  );
  await page.context().close();
});

test('a node dragged onto another moves under it; a task status saves from its menu', async () => {
  const source = (await api(server.url, 'POST', '/v1/nodes', { content: '# Drag source' })).body;
  const target = (await api(server.url, 'POST', '/v1/nodes', { content: '# Drop target' })).body;
  const task = (
    await api(server.url, 'POST', '/v1/nodes', {
      parent_id: target.id,
      node_type: 'task',
      content: 'water the ferns',
      properties: { task: { status: 'open', due: '2026-12-01' } },
    })
  ).body;
  const page = await openPage(browser, server.url + '/#/tree', errors);
  const from = page.getByRole('treeitem').filter({ hasText: 'Drag source' });
  const onto = page.getByRole('treeitem').filter({ hasText: 'Drop target' });
  await from.waitFor();
  await from.dragTo(onto);
  await page.waitForFunction(
    async ([id, parent]) => (await (await fetch('/v1/nodes/' + id)).json()).parent_id === parent,
    [source.id, target.id],
  );

  await page.goto(server.url + '/#/node/' + task.id);
  const status = page.getByLabel('Status');
  assert.equal(await status.inputValue(), 'open');
  assert.equal(await page.getByLabel('Due').inputValue(), '2026-12-01');
  await status.selectOption('done');
  await page.getByText('Saved version 2').waitFor();
  const stored = (await api(server.url, 'GET', '/v1/nodes/' + task.id)).body;
  assert.equal(stored.properties.task.status, 'done');
  assert.equal(stored.properties.task.due, '2026-12-01');
  await page.context().close();
});

test('with keys required the dashboard asks for one, then works', async () => {
  const keyed = makeDatabase('keyed', (db, dir) => {
    writeFileSync(join(dir, 'few.jsonl'), JSON.stringify({ id: 'k1', content: '# Behind a key' }) + '\n');
    cli(db, 'import', join(dir, 'few.jsonl'));
  });
  const key = JSON.parse(cli(keyed.db, '--json', 'keys', 'create', '--role', 'write')).key;
  const keyedServer = await startServer(keyed.db, ['--require-keys']);
  try {
    const page = await openPage(browser, keyedServer.url + '/#/tree', errors);
    const dialog = page.getByRole('dialog', { name: 'API key' });
    await dialog.waitFor();
    await dialog.getByLabel('Key').fill(key);
    await dialog.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('treeitem').filter({ hasText: 'Behind a key' }).waitFor();
    await page.getByTestId('feed-state').filter({ hasText: 'live' }).waitFor();
    assert.equal(await page.getByRole('dialog').count(), 0);
    await page.context().close();
  } finally {
    await keyedServer.stop();
    cleanup(keyed.root);
  }
});

test('an edit saves with its version and appears live in a second browser', async () => {
  const a = await openPage(browser, server.url + '/#/node/' + GUITAR, errors);
  const b = await openPage(browser, server.url + '/#/node/' + GUITAR, errors);
  await a.getByTestId('node-view').waitFor();
  await b.getByTestId('node-view').waitFor();
  await b.getByTestId('feed-state').filter({ hasText: 'live' }).waitFor();
  const version = Number(await a.getByTestId('node-view').getAttribute('data-version'));

  await a.getByRole('button', { name: 'Edit', exact: true }).click();
  await a.getByLabel('Content (Markdown)').fill('guitar: a **stringed** instrument, edited in the dashboard');
  await a.getByRole('button', { name: 'Save' }).click();
  await a.getByText('Saved version ' + (version + 1)).waitFor();

  // The second page follows the change feed.
  await b.getByTestId('node-content').getByText('edited in the dashboard').waitFor();
  assert.equal(await b.getByTestId('node-view').getAttribute('data-version'), String(version + 1));
  assert.equal(await b.locator('[data-testid=node-content] strong').textContent(), 'stringed');
  await screenshot(b, 'node');

  // Both edit; the later save meets a conflict that shows both texts.
  await b.getByRole('button', { name: 'Edit', exact: true }).click();
  await a.getByRole('button', { name: 'Edit', exact: true }).click();
  await a.getByLabel('Content (Markdown)').fill('guitar: first writer wins');
  await a.getByRole('button', { name: 'Save' }).click();
  await a.getByText('Saved version ' + (version + 2)).waitFor();
  await b.getByLabel('Content (Markdown)').fill('guitar: second writer');
  await b.getByRole('button', { name: 'Save' }).click();
  const conflict = b.getByTestId('edit-conflict');
  await conflict.waitFor();
  assert.match(await conflict.textContent(), /first writer wins/);
  assert.match(await conflict.textContent(), /second writer/);
  await conflict.getByRole('button', { name: /Keep mine/ }).click();
  await b.getByText('Saved version ' + (version + 3)).waitFor();
  const stored = await api(server.url, 'GET', '/v1/nodes/' + GUITAR);
  assert.equal(stored.body.content, 'guitar: second writer');
  assert.equal(stored.body.version, version + 3);
  await a.context().close();
  await b.context().close();
});

test('search in text, semantic and hybrid modes with facets and EXPLAIN', async () => {
  const page = await openPage(browser, server.url + '/#/search', errors);
  const box = page.getByRole('searchbox', { name: 'Search' });

  await box.fill('stringed instrument');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.getByTestId('hit').first().waitFor();
  const marks = await page.locator('[data-testid=snippet] mark').allTextContents();
  assert.ok(marks.length > 0, 'text hits carry highlighted snippets');
  assert.ok(marks.every((m) => /string|instrument/i.test(m)), marks.join(','));
  const facet = page.locator('.facet[data-field=type]');
  assert.match(await facet.textContent(), /text\s*[\d,]+/);

  await page.getByLabel('Semantic').check();
  await box.fill('a large cat that hunts');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  // The hits are replaced by nearest neighbours: vector ranks only.
  await page.waitForFunction(() => {
    const ranks = [...document.querySelectorAll('[data-testid=hit] .rank')].map((e) => e.textContent);
    return ranks.length > 0 && ranks.every((r) => r.startsWith('vector'));
  });
  assert.match(await page.getByTestId('results').textContent(), /hunt/i);

  await page.getByLabel('Hybrid').check();
  await page.getByLabel('EXPLAIN (show the plan)').check();
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.getByTestId('explain').waitFor();
  // Fused: hits carry both rankings.
  await page.waitForFunction(() => {
    const ranks = [...document.querySelectorAll('[data-testid=hit] .rank')].map((e) => e.textContent);
    return ranks.some((r) => r.startsWith('text')) && ranks.some((r) => r.startsWith('vector'));
  });
  assert.match(await page.getByTestId('explain').textContent(), /strategy/);

  // A facet value narrows the results to it.
  await page.getByLabel('Text (BM25)').check();
  await box.fill('instrument');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.waitForFunction(() => {
    const ranks = [...document.querySelectorAll('[data-testid=hit] .rank')].map((e) => e.textContent);
    return ranks.length > 0 && ranks.every((r) => r.startsWith('text'));
  });
  // A facet value becomes a filter (type = text: every sample node).
  await page.locator('.facet[data-field=type] .facet-value').first().click();
  await page.locator('.facet[data-field=type] .facet-value.on').waitFor();
  assert.match(await page.getByTestId('result-summary').textContent(), /20 shown of [\d,]+ matches/);
  await screenshot(page, 'search');
  await page.context().close();
});

test('the scaling page shows the phase, every metric and charts of real samples', async () => {
  // Some load, and one operator action for the timeline.
  for (let i = 0; i < 20; i++) await api(server.url, 'POST', '/v1/query', { text: 'instrument', cache: false });
  await api(server.url, 'POST', '/v1/scaling/actions/EnableQueryCache');
  const page = await openPage(browser, server.url + '/#/scaling', errors);
  await page.getByTestId('phase').waitFor();
  assert.match(await page.getByTestId('phase').textContent(), /Phase 1: Personal/);
  const rows = page.locator('[data-testid=metrics-table] tbody tr');
  assert.equal(await rows.count(), 18);
  const nodes = (await api(server.url, 'GET', '/v1/stats')).body.node_count;
  assert.match(
    await page.getByTestId('metrics-table').textContent(),
    new RegExp('node_count\\s*' + nodes.toLocaleString('en')),
  );
  // Each poll adds a sample; two make a line.
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=chart-nodes]').dataset.points) >= 2, null, {
    timeout: 20000,
  });
  const drawn = await page.evaluate(() => {
    const canvas = document.querySelector('[data-testid=chart-latency] canvas');
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let coloured = 0;
    for (let i = 0; i < data.length; i += 4) if (data[i + 3] > 0) coloured++;
    return coloured;
  });
  assert.ok(drawn > 500, 'the latency chart is drawn');
  assert.match(await page.getByTestId('timeline').textContent(), /EnableQueryCache/);
  await screenshot(page, 'scaling');
  await page.context().close();
});

test('a zipped Markdown folder imports with task progress', async () => {
  const vault = join(root, 'garden');
  execFileSync('python3', [
    '-c',
    `import os, sys, zipfile
base = sys.argv[1]
os.makedirs(base + '/notes', exist_ok=True)
open(base + '/Welcome.md', 'w').write('# Welcome\\n\\nSee [[Plants]].\\n')
open(base + '/notes/Plants.md', 'w').write('# Plants\\n\\n- [ ] cut the bracken\\n- moss\\n')
with zipfile.ZipFile(base + '.zip', 'w') as z:
    for d, _, files in os.walk(base):
        for f in files:
            p = os.path.join(d, f)
            z.write(p, os.path.relpath(p, os.path.dirname(base)))`,
    vault,
  ]);
  const page = await openPage(browser, server.url + '/#/import', errors);
  await page.getByLabel('File').setInputFiles(vault + '.zip');
  await page.getByRole('button', { name: 'Import' }).click();
  const task = page.getByTestId('import-task');
  await page.waitForFunction(() => document.querySelector('[data-testid=import-task]')?.dataset.state === 'succeeded', null, {
    timeout: 30000,
  });
  assert.match(await page.getByTestId('import-result').textContent(), /vault\s*garden/);
  assert.match(await task.textContent(), /nodes_created\s*[1-9]/);
  await screenshot(page, 'import');
  const found = await api(server.url, 'POST', '/v1/query', { text: 'bracken' });
  assert.equal(found.body.hits.length, 1);
  await page.context().close();
});

test('a node with 100,000 children stays a short DOM and pages in as it scrolls', async () => {
  const big = makeDatabase('big', (db, dir) => {
    const lines = [JSON.stringify({ id: 'big', content: '# One hundred thousand children' })];
    for (let i = 0; i < 100000; i++) {
      lines.push(JSON.stringify({ id: 'c' + i, parent_id: 'big', content: 'child number ' + i }));
    }
    writeFileSync(join(dir, 'big.jsonl'), lines.join('\n') + '\n');
    cli(db, 'import', join(dir, 'big.jsonl'));
  });
  const bigServer = await startServer(big.db);
  try {
    const page = await openPage(browser, bigServer.url + '/#/tree', errors);
    const row = page.getByRole('treeitem').first();
    await row.waitFor();
    assert.match(await row.textContent(), /100,000/);
    await page.getByRole('button', { name: /^Expand One hundred/ }).click();
    await page.getByText('child number 0', { exact: true }).waitFor();
    const height = () => page.evaluate(() => document.querySelector('[data-testid=tree] > div').offsetHeight);
    const first = await height();
    assert.ok((await page.getByRole('treeitem').count()) < 120, 'only rows in view exist');
    // Scrolling to the end of what is loaded loads the next page.
    await page.evaluate(() => {
      const t = document.querySelector('[data-testid=tree]');
      t.scrollTop = t.scrollHeight;
    });
    await page.waitForFunction((h) => document.querySelector('[data-testid=tree] > div').offsetHeight > h, first);
    assert.ok((await page.getByRole('treeitem').count()) < 120);
    await page.context().close();
  } finally {
    await bigServer.stop();
    cleanup(big.root);
  }
});
