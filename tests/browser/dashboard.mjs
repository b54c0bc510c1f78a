// Drives veer's admin dashboard in a real headless browser (Debian's
// chromium through playwright-core) the way an operator would.
//
//   node tests/browser/dashboard.mjs ADMIN_URL TOKEN EXPECT_JSON SCREENSHOT_PNG
//
// EXPECT_JSON:
//   {"split": {"route": "api", "before": {"api-v1": 90, "api-v2": 10},
//              "after": {"api-v1": 50, "api-v2": 50}},
//    "blue_green": {"route": "web", "before": "blue", "after": "green"},
//    "pools": ["api-v1", "api-v2"],          // each rendered, every server healthy
//    "generation": 1}                        // optional: shown in the header
//
// Steps: load the page, wait for the routes to render, check the split bar
// shows the "before" weights; try Apply without the token and expect the
// API's 401 error on the page (and no change); enter the token, set the
// "after" weights in the inputs, Apply, wait for the bar to show them; flip
// the blue-green route and wait for the other side to be active; take a
// screenshot.  Any uncaught page error or console error fails the run.
// Exit 0 on success, 1 with a message on stderr otherwise.  No blind
// sleeps: every wait is for a condition, with a deadline.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const WAIT_MS = 15000;

function fail(msg) {
  const e = new Error(msg);
  e.dashboard = true;
  throw e;
}

function log(msg) {
  process.stdout.write(`dashboard: ${msg}\n`);
}

async function main() {
  const [url, token, expectJson, shot] = process.argv.slice(2);
  if (!url || token === undefined || !expectJson || !shot) {
    fail('usage: node dashboard.mjs ADMIN_URL TOKEN EXPECT_JSON SCREENSHOT_PNG');
  }
  const expect = JSON.parse(expectJson);
  const base = url.endsWith('/') ? url : url + '/';

  const userDataDir = mkdtempSync(join(tmpdir(), 'veer-chromium-'));
  let context;
  const problems = [];
  let allowHttpErrors = false;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      // No network here but loopback: without these Chromium stalls on
      // lookups (component updates, sync, QUIC probes).
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1360, height: 900 },
      deviceScaleFactor: 1,
      timeout: 30000,
    });
    const page = context.pages()[0] || await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    page.on('pageerror', (e) => problems.push(`uncaught page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      // The deliberate unauthorized PUT makes Chromium log the 401 response.
      if (allowHttpErrors && /Failed to load resource.*401/.test(m.text())) return;
      problems.push(`console error: ${m.text()}`);
    });
    const checkProblems = () => {
      if (problems.length) fail(problems.join('\n'));
    };

    // sessionStorage starts empty in a fresh profile: read-only until the
    // token is entered.
    const resp = await page.goto(base, { waitUntil: 'domcontentloaded' });
    if (!resp || resp.status() !== 200) fail(`GET ${base}: status ${resp && resp.status()}`);
    const ctype = resp.headers()['content-type'] || '';
    if (!/^text\/html/.test(ctype)) fail(`GET ${base}: Content-Type ${ctype}, want text/html`);

    const sp = expect.split;
    const bg = expect.blue_green;
    const routeSel = (name) => `section.route[data-route="${name}"]`;

    // 1. routes render
    await page.waitForSelector('body[data-loaded="true"]').catch(() =>
      fail('the page never rendered a status (body[data-loaded] not set)'));
    if (sp) {
      await page.waitForSelector(`${routeSel(sp.route)} .seg[data-pool]`).catch(() =>
        fail(`split route ${sp.route} not rendered`));
    }
    if (bg) {
      await page.waitForSelector(`${routeSel(bg.route)}[data-active-side]`).catch(() =>
        fail(`blue-green route ${bg.route} not rendered`));
    }
    log('routes rendered');

    if (expect.generation !== undefined) {
      const gen = (await page.textContent('#generation')).trim();
      if (gen !== String(expect.generation)) fail(`header shows generation ${gen}, want ${expect.generation}`);
    }

    // waits until the split bar shows WEIGHTS (pool -> weight), both as the
    // segments' data and as the percentages a person reads
    const waitWeights = async (weights, what) => {
      try {
        await page.waitForFunction(([sel, w]) => {
          const total = Object.values(w).reduce((a, b) => a + b, 0);
          return Object.entries(w).every(([pool, weight]) => {
            const seg = document.querySelector(`${sel} .seg[data-pool="${pool}"]`);
            const item = document.querySelector(`${sel} .legend li[data-pool="${pool}"] .pct`);
            if (!seg || !item) return false;
            const p = Math.round(weight * 1000 / total) / 10;
            return seg.getAttribute('data-weight') === String(weight) &&
              Math.abs(parseFloat(seg.getAttribute('data-percent')) - p) < 0.05 &&
              Math.abs(parseFloat(item.textContent) - p) < 0.05;
          });
        }, [routeSel(sp.route), weights], { timeout: WAIT_MS });
      } catch (e) {
        const shown = await page.$$eval(`${routeSel(sp.route)} .seg`, (segs) =>
          segs.map((s) => `${s.dataset.pool}=${s.dataset.weight} (${s.dataset.percent}%)`).join(', '));
        fail(`${what}: split bar of ${sp.route} shows ${shown}, want ${JSON.stringify(weights)}`);
      }
    };
    const setWeights = async (weights) => {
      for (const [pool, weight] of Object.entries(weights)) {
        const input = page.locator(`${routeSel(sp.route)} input[data-weight][data-pool="${pool}"]`);
        if (await input.count() !== 1) fail(`no weight input for ${pool} on route ${sp.route}`);
        await input.fill(String(weight));
      }
    };

    if (sp) {
      await waitWeights(sp.before, 'before');
      log(`split ${sp.route} shows ${JSON.stringify(sp.before)}`);
    }

    // 2. pools and servers
    for (const pool of expect.pools || []) {
      const sel = `section.pool-card[data-pool="${pool}"]`;
      await page.waitForSelector(`${sel} tr[data-server]`).catch(() => fail(`pool ${pool}: no server rows`));
      const bad = await page.$$eval(`${sel} tr[data-server]`, (rows) =>
        rows.filter((r) => r.dataset.healthy !== 'true').map((r) => r.dataset.server));
      if (bad.length) fail(`pool ${pool}: servers shown unhealthy: ${bad.join(', ')}`);
    }
    if (expect.pools) log(`pools rendered: ${expect.pools.join(', ')}`);

    // rates appear once two polls were seen
    await page.waitForFunction(() => {
      const el = document.querySelector('section.route [data-rate="requests"] b');
      return el && /\d/.test(el.textContent);
    }).catch(() => fail('no request rate shown after two polls'));

    // 3. without the token a change is refused, the API's error is shown
    // and the weights stay
    if (sp) {
      allowHttpErrors = true;
      await setWeights(sp.after);
      await page.click(`${routeSel(sp.route)} button[data-apply]`);
      await page.waitForSelector(`${routeSel(sp.route)} [data-message][data-ok="false"]`).catch(() =>
        fail('Apply without a token: no error message shown'));
      const msg = (await page.textContent(`${routeSel(sp.route)} [data-message]`)).trim();
      if (!/401/.test(msg)) fail(`Apply without a token: message "${msg}" does not say 401`);
      log(`without token: "${msg}"`);
      await page.click(`${routeSel(sp.route)} button[data-reset]`);
      await waitWeights(sp.before, 'after a refused change');
      allowHttpErrors = false;
    }

    // 4. with the token
    await page.fill('#token', token);
    await page.click('#token-save');
    await page.waitForFunction(() => /token set/.test(document.getElementById('token-state').textContent));

    if (sp) {
      await setWeights(sp.after);
      await page.click(`${routeSel(sp.route)} button[data-apply]`);
      await page.waitForSelector(`${routeSel(sp.route)} [data-message][data-ok]`);
      const ok = await page.getAttribute(`${routeSel(sp.route)} [data-message]`, 'data-ok');
      const msg = (await page.textContent(`${routeSel(sp.route)} [data-message]`)).trim();
      if (ok !== 'true') fail(`Apply with the token failed: "${msg}"`);
      await waitWeights(sp.after, 'after Apply');
      log(`split ${sp.route} now shows ${JSON.stringify(sp.after)}`);
    }

    if (bg) {
      const before = await page.getAttribute(routeSel(bg.route), 'data-active-side');
      if (bg.before && before !== bg.before) fail(`blue-green ${bg.route}: active side ${before}, want ${bg.before}`);
      await page.click(`${routeSel(bg.route)} button[data-flip]`);
      await page.waitForSelector(`${routeSel(bg.route)}[data-active-side="${bg.after}"] .side[data-side="${bg.after}"][data-active="true"]`)
        .catch(async () => {
          const msg = await page.textContent(`${routeSel(bg.route)} [data-message]`);
          fail(`blue-green ${bg.route}: never showed ${bg.after} active (message: "${msg.trim()}")`);
        });
      log(`blue-green ${bg.route} flipped ${before} -> ${bg.after}`);
    }

    // the picture once the bars stopped moving (widths animate), and what
    // it shows is the weights: each segment's width is its share of the bar
    await page.waitForFunction(() => /live/.test(document.getElementById('poll-status').textContent));
    await page.waitForFunction(() => document.getAnimations().every((a) => a.playState !== 'running'))
      .catch(() => fail('the page never stopped animating'));
    if (sp) {
      const widths = await page.$$eval(`${routeSel(sp.route)} .seg`, (segs) => {
        const bar = segs[0].parentElement.getBoundingClientRect().width;
        return segs.map((s) => [s.dataset.pool, s.getBoundingClientRect().width * 100 / bar]);
      });
      const total = Object.values(sp.after).reduce((a, b) => a + b, 0);
      for (const [pool, w] of widths) {
        const want = (sp.after[pool] || 0) * 100 / total;
        if (Math.abs(w - want) > 1.5) fail(`segment ${pool} is ${w.toFixed(1)}% of the bar, want ${want}%`);
      }
    }
    await page.screenshot({ path: shot, fullPage: true });
    log(`screenshot ${shot}`);
    checkProblems();
  } finally {
    if (context) await context.close().catch(() => {});
    rmSync(userDataDir, { recursive: true, force: true });
  }
}

main().then(() => {
  log('ok');
  process.exit(0);
}, (e) => {
  process.stderr.write(`dashboard: FAIL: ${e.dashboard ? e.message : (e.stack || e)}\n`);
  process.exit(1);
});
