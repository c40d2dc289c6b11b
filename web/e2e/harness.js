// What the end-to-end tests share: a real `nodespace serve` on loopback
// over a fresh database, and headless Chromium (Debian's, driven by
// playwright-core; nothing is downloaded).
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, copyFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, '../..');
export const bin = resolve(process.env.NODESPACE_BIN || join(repo, 'build/release/nodespace'));
export const artifacts = resolve(process.env.NODESPACE_E2E_ARTIFACTS || join(repo, 'build/e2e-artifacts'));
const browserPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export function cli(db, ...args) {
  return execFileSync(bin, args, { env: { ...process.env, NODESPACE_DB: db }, encoding: 'utf8' });
}

// The WordNet sample the README's demo uses (generated from Debian's
// wordnet-base when absent).
export function sampleFile() {
  const file = join(repo, 'sample/wordnet-sample.jsonl');
  if (!existsSync(file)) execFileSync('python3', [join(repo, 'scripts/make_sample.py')], { cwd: repo });
  return file;
}

// A database in a fresh directory, filled by `fill(dir)`.
export function makeDatabase(name, fill) {
  const root = mkdtempSync(join(tmpdir(), 'nodespace-e2e-'));
  const db = join(root, name);
  cli(db, 'init');
  fill(db, root);
  return { db, root };
}

// Starts `nodespace serve` on a free loopback port; resolves once it listens.
export async function startServer(db, extraArgs = []) {
  const portFile = join(dirname(db), 'port-' + Date.now());
  const child = spawn(bin, ['serve', '--port', '0', '--port-file', portFile, '--no-access-log', ...extraArgs], {
    env: { ...process.env, NODESPACE_DB: db },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const { readFileSync } = await import('node:fs');
  for (let i = 0; i < 300; i++) {
    if (existsSync(portFile)) {
      const port = readFileSync(portFile, 'utf8').trim();
      if (port) {
        return {
          url: 'http://127.0.0.1:' + port,
          stop: () =>
            new Promise((done) => {
              child.once('exit', done);
              child.kill('SIGTERM');
            }),
        };
      }
    }
    if (child.exitCode !== null) throw new Error('nodespace serve exited with ' + child.exitCode);
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error('nodespace serve did not start in 30 s');
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: browserPath,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
}

// A page that fails the test on any script error or console error.
// `setup(page)` runs before the first navigation (to intercept requests).
export async function openPage(browser, url, errors, setup = null) {
  const context = await browser.newContext({ viewport: { width: 1360, height: 860 } });
  const page = await context.newPage();
  if (setup) await setup(page);
  page.on('pageerror', (e) => errors.push('page error: ' + e.message));
  // 4xx answers are part of the flows under test (a 409 conflict); the
  // browser logs each as a console error, so those are told apart by status.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) {
      errors.push('console error: ' + m.text());
    }
  });
  page.on('response', (r) => {
    if (r.status() >= 500 || (r.status() === 404 && !new URL(r.url()).pathname.startsWith('/v1/'))) {
      errors.push(r.status() + ' ' + r.url());
    }
  });
  await page.goto(url);
  return page;
}

// Saves a screenshot as a test artefact; with NODESPACE_UPDATE_SCREENSHOTS=1
// also as the copy docs/ shows.
export async function screenshot(page, name) {
  mkdirSync(artifacts, { recursive: true });
  const file = join(artifacts, name + '.png');
  await page.screenshot({ path: file });
  if (process.env.NODESPACE_UPDATE_SCREENSHOTS === '1') {
    mkdirSync(join(repo, 'docs/screenshots'), { recursive: true });
    copyFileSync(file, join(repo, 'docs/screenshots', name + '.png'));
  }
}

export async function api(base, method, path, body) {
  const res = await fetch(base + path, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

export function cleanup(root) {
  rmSync(root, { recursive: true, force: true });
}

export { writeFileSync, join };
