// The page in a real browser: serves web/dist on 127.0.0.1, drives
// Debian's Chromium headless with playwright-core, and checks what a
// student sees — the seed question's rendered answer, text, NumPy code and
// exact check verdict; live answers as they type; a diagnostic with its
// caret, after which the page still answers; the copy buttons; a panic in
// the engine that the page survives; the phone layout. Screenshots go to
// web/test-results/ (git-ignored; CI keeps them as artifacts).
//
//   node --test web/tests/browser.test.mjs   (after web/build.sh;
//   CHROMIUM overrides /usr/bin/chromium)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFile, mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join, extname, normalize } from 'node:path';
import { chromium } from 'playwright-core';

const web = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(web, 'dist');
const results = join(web, 'test-results');
const SEED = 'index.html#cmd=diff&expr=A%20X%20X%5ET%20A%5ET&wrt=X_ij';
const SEED_TEXT = 'A E_ij X^T A^T + A X E_ij^T A^T';
const SEED_TEX = String.raw`\frac{\partial M}{\partial X_{ij}} = A E_{ij} X^\top A^\top + A X E_{ij}^\top A^\top`;
const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css',
  '.wasm': 'application/wasm', '.woff2': 'font/woff2', '.woff': 'font/woff',
};

let server, base, context, profile;

before(async () => {
  // a static server for dist/ on loopback, on a free port
  server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^\/+/, '');
    try {
      const body = await readFile(join(dist, path || 'index.html'));
      res.writeHead(200, { 'content-type': TYPES[extname(path)] || 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${server.address().port}/`;
  await mkdir(results, { recursive: true });
  profile = await mkdtemp(join(tmpdir(), 'matcalc-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1100, height: 900 },
  });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base.slice(0, -1) });
});

after(async () => {
  await context?.close();
  await new Promise((r) => server.close(r));
  await rm(profile, { recursive: true, force: true });
});

/// A new page with console errors collected.
async function open(url) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(base + url);
  return { page, errors };
}

const text = (page) => page.locator('#text');

test('the seed link shows the rendered answer, text, NumPy code and an exact check', async () => {
  const { page, errors } = await open(SEED);
  await assert.doesNotReject(text(page).filter({ hasText: SEED_TEXT }).waitFor({ timeout: 10000 }));
  const [readyMs, firstMs] = await page.evaluate(() => [window.__matcalcReadyMs, window.__matcalcFirstAnswerMs]);
  console.log(`# engine loaded ${Math.round(readyMs)} ms, first answer ${Math.round(firstMs)} ms after the navigation started`);
  // the goal is 1 s (about 0.3 s measured here); the bound leaves room for
  // a machine shared with other builds
  assert.ok(firstMs < 2000, `first answer after ${firstMs} ms`);
  assert.equal(await text(page).textContent(), SEED_TEXT);
  // KaTeX rendered it: the MathML annotation holds the LaTeX it was given
  const tex = await page.locator('#math .katex annotation').textContent();
  assert.equal(tex, SEED_TEX);
  assert.ok(await page.locator('#math .katex-html').isVisible());
  assert.match(await page.locator('#numpy').textContent(), /def differential\(/);
  await page.locator('#verdict').filter({ hasText: 'verified exactly at' }).waitFor({ timeout: 10000 });
  assert.match(await page.locator('#verdict').textContent(), /✓ check: verified exactly at \d+ points/);
  assert.match(await page.locator('#index').textContent(), /∂M_kl\/∂X_ij = /);
  assert.match(await page.locator('#version').textContent(), /^\d+\.\d+\.\d+/);
  assert.equal(await page.locator('#cmd').inputValue(), 'entrywise');
  assert.equal(await page.locator('#wrt').inputValue(), 'X');
  // the derivation, folded until asked for
  await page.locator('#steps > summary').click();
  await page.locator('#steps-math .katex').first().waitFor({ timeout: 10000 });
  assert.match(await page.locator('#steps-text').textContent(), /product rule/i);
  await page.screenshot({ path: join(results, 'seed.png'), fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});

test('typing a new expression changes the answer and the address', async () => {
  const { page, errors } = await open(SEED);
  await text(page).filter({ hasText: SEED_TEXT }).waitFor();
  await page.locator('#cmd').selectOption('grad');
  await page.locator('#expr').fill('');
  await page.locator('#expr').pressSequentially('tr(X^T A X)', { delay: 15 });
  await text(page).filter({ hasText: /^A X \+ A\^T X$/ }).waitFor({ timeout: 10000 });
  assert.match(page.url(), /#cmd=grad&expr=tr\(X%5ET%20A%20X\)&wrt=X$/);
  assert.match(await page.locator('#numpy').textContent(), /def gradient\(/);
  await page.locator('#form-select').selectOption('factor');
  await text(page).filter({ hasText: /^\(A \+ A\^T\) X$/ }).waitFor({ timeout: 10000 });
  // the variable is offered from the expression's names
  await page.locator('#expr').fill('norm2(A w - b)^2');
  await text(page).filter({ hasText: 'w' }).waitFor();
  assert.deepEqual(await page.locator('#wrt option').evaluateAll((os) => os.map((o) => o.value)), ['A', 'w', 'b']);
  assert.equal(await page.locator('#wrt').inputValue(), 'w');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a bad input shows the diagnostic with its caret, and the page answers the next input', async () => {
  const { page, errors } = await open(SEED);
  await text(page).filter({ hasText: SEED_TEXT }).waitFor();
  await page.locator('#expr').fill('A X X^T A^T +');
  await page.locator('#error').waitFor({ state: 'visible', timeout: 10000 });
  assert.match(await page.locator('#error-message').textContent(), /^error: /);
  // under the end of the input (13 characters), with the label's words
  assert.match(await page.locator('#caret').textContent(), /^ {13}\^ \S/);
  assert.equal(await page.locator('#expr').getAttribute('aria-invalid'), 'true');
  await page.screenshot({ path: join(results, 'error.png') });
  await page.locator('#expr').fill('X X^T');
  await page.locator('#cmd').selectOption('diff');
  await text(page).filter({ hasText: /^dX X\^T \+ X dX\^T$/ }).waitFor({ timeout: 10000 });
  assert.ok(await page.locator('#error').isHidden());
  assert.equal(await page.locator('#caret').textContent(), '');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a panic in the engine shows an error and the page keeps working', async () => {
  const { page } = await open(SEED);
  await text(page).filter({ hasText: SEED_TEXT }).waitFor();
  await page.evaluate(() => window.__matcalcPanic());
  await page.locator('#error-message').filter({ hasText: 'internal error' }).waitFor({ timeout: 10000 });
  assert.match(await page.locator('#error-message').textContent(), /on purpose/);
  await page.locator('#expr').fill('x^T A x');
  await page.locator('#cmd').selectOption('hessian');
  await text(page).filter({ hasText: /^A \+ A\^T$/ }).waitFor({ timeout: 10000 });
  await page.close();
});

test('a slow input computes in the worker: the page never freezes', async () => {
  // `check` of this expression takes over a second natively (about 1.3 s
  // on this machine in release, several times that in wasm): exact
  // verification through the 24th power of an inverse, every kind
  const page = await context.newPage();
  // the longest the page's own thread went without running a timer
  await page.addInitScript(() => {
    window.__maxLag = 0;
    let last = performance.now();
    setInterval(() => {
      const now = performance.now();
      window.__maxLag = Math.max(window.__maxLag, now - last);
      last = now;
    }, 20);
  });
  await page.goto(base + 'index.html#cmd=check&expr=x%5ET%20(A%20%2B%20x%20x%5ET)%5E-24%20x&wrt=x');
  await page.locator('#results[aria-busy="true"]').waitFor({ timeout: 5000 });
  await page.waitForTimeout(300);
  assert.equal(await page.locator('#results').getAttribute('aria-busy'), 'true', 'the slow job is still running');
  await page.evaluate(() => { window.__maxLag = 0; });
  await page.locator('#cmd').selectOption('grad');
  await page.locator('#expr').fill('x^T x');
  await text(page).filter({ hasText: /^2 x$/ }).waitFor({ timeout: 15000 });
  const lag = await page.evaluate(() => window.__maxLag);
  console.log(`# longest stall of the page's thread while the engine worked: ${Math.round(lag)} ms`);
  assert.ok(lag < 500, `the page's thread stalled for ${lag} ms`);
  await page.close();
});

test('the copy buttons put the text and the NumPy code on the clipboard', async () => {
  const { page } = await open(SEED);
  await text(page).filter({ hasText: SEED_TEXT }).waitFor();
  // by keyboard: focus the button and press Enter
  await page.locator('button[data-copy="text"]').focus();
  await page.keyboard.press('Enter');
  await page.locator('button[data-copy="text"]').filter({ hasText: 'Copied' }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), SEED_TEXT);
  await page.locator('button[data-copy="numpy"]').click();
  const numpy = await page.evaluate(() => navigator.clipboard.readText());
  assert.equal(numpy, await page.locator('#numpy').textContent());
  assert.match(numpy, /^import numpy as np/m);
  await page.close();
});

test('the examples and the keyboard: a link reproduces its state, Tab reaches every control', async () => {
  const { page } = await open(SEED);
  await text(page).filter({ hasText: SEED_TEXT }).waitFor();
  await page.getByRole('link', { name: 'least squares', exact: true }).click();
  await page.locator('#math .katex').filter({ hasText: '∂f' }).waitFor({ timeout: 10000 });
  assert.equal(await page.locator('#expr').inputValue(), 'norm2(A x - b)^2');
  assert.equal(await page.locator('#cmd').inputValue(), 'grad');
  assert.match(await text(page).textContent(), /A\^T/);
  // keyboard alone: Tab from the expression box through the fields
  await page.locator('#expr').focus();
  const order = [];
  for (let i = 0; i < 5; i++) {
    await page.keyboard.press('Tab');
    order.push(await page.evaluate(() => document.activeElement.id || document.activeElement.tagName));
  }
  assert.deepEqual(order, ['SUMMARY', 'cmd', 'wrt', 'decls', 'form-select']);
  await page.locator('#cmd').focus();
  await page.keyboard.press('ArrowDown'); // grad → hessian
  await text(page).filter({ hasText: /^2 A\^T A$/ }).waitFor({ timeout: 10000 });
  await page.close();
});

test('on a phone the page fits the screen', async () => {
  const page = await context.newPage();
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(base + SEED);
  await text(page).filter({ hasText: SEED_TEXT }).waitFor();
  await page.locator('#verdict').filter({ hasText: 'verified' }).waitFor();
  const [scroll, width] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  assert.ok(scroll <= width, `the page is ${scroll}px wide on a ${width}px screen`);
  await page.screenshot({ path: join(results, 'phone.png'), fullPage: true });
  await page.close();
});

test('once loaded, the page works offline', async () => {
  const { page } = await open(SEED);
  await text(page).filter({ hasText: SEED_TEXT }).waitFor();
  // the service worker is installed (its cache filled) after the first answer
  await page.evaluate(() => navigator.serviceWorker.ready);
  await context.setOffline(true);
  try {
    await page.reload();
    await text(page).filter({ hasText: SEED_TEXT }).waitFor({ timeout: 10000 });
    await page.locator('#expr').fill('X^T X');
    await text(page).filter({ hasText: /^E_ij\^T X \+ X\^T E_ij$/ }).waitFor({ timeout: 10000 });
    assert.ok(await page.locator('#math .katex').isVisible());
  } finally {
    await context.setOffline(false);
  }
  await page.close();
});
