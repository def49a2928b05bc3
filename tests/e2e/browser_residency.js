// The administration page in a real browser: Debian's Chromium driven by
// playwright-core, against two real siteledgerd processes the C++ test
// (browser_test.cc) started.
//
//   node browser_residency.js PREFIX OUTDIR PAGE_URL EXPIRED_URL FORGED_URL
//
// PREFIX: where npm installed playwright-core; OUTDIR: where the
// screenshots go. Prints one JSON object: {"ok":true,"steps":[...]} or
// {"ok":false,"error":"...","steps":[...]}; exits 0 either way unless the
// browser could not start.
'use strict';
const path = require('path');
const [prefix, outdir, pageUrl, expiredUrl, forgedUrl] = process.argv.slice(2);
const { chromium } = require(path.join(prefix, 'node_modules', 'playwright-core'));

const steps = [];
function step(name, detail) {
  steps.push(detail === undefined ? name : name + ': ' + detail);
}
function check(cond, what) {
  if (!cond) throw new Error(what);
}

async function errorPage(page, url, shot) {
  const response = await page.goto(url);
  check(response.status() === 401, shot + ': status ' + response.status());
  const text = await page.textContent('#page-error');
  check(text && text.length > 0, shot + ': no message');
  const html = await page.content();
  check(!html.includes('sl-token'), shot + ': the error page holds a token');
  check(!html.includes('/api/v1/'), shot + ': the error page calls the API');
  await page.screenshot({ path: path.join(outdir, shot + '.png'), fullPage: true });
  step(shot, text.trim());
}

async function main() {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  const problems = [];
  const failed = [];
  try {
    const context = await browser.newContext({ viewport: { width: 900, height: 1100 } });
    const page = await context.newPage();
    // A CSP violation, a failed script or an uncaught error shows here.
    page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('response', (r) => { if (r.status() >= 400) failed.push(r.status() + ' ' + r.request().method() + ' ' + r.url().replace(/jwt=[^&]*/, 'jwt=...')); });
    // Nothing may be fetched from outside the two servers.
    const origins = new Set([new URL(pageUrl).origin]);
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.hostname !== '127.0.0.1') problems.push('outside request: ' + r.url());
      origins.add(u.origin);
    });

    await errorPage(page, expiredUrl, '01-expired-token');
    await errorPage(page, forgedUrl, '02-forged-token');
    const expectedErrors = problems.length;  // the 401s themselves

    const response = await page.goto(pageUrl);
    check(response.status() === 200, 'page status ' + response.status());
    await page.waitForFunction(() => document.getElementById('region').dataset.region === 'us');
    await page.waitForFunction(() => document.getElementById('u-sites').textContent !== '…');
    const sites = await page.textContent('#u-sites');
    check(Number(sites) > 0, 'usage: sites ' + sites);
    check(await page.isVisible('#start'), 'no Start migration button');
    check(!(await page.isVisible('#rollback')), 'a rollback button before any move');
    check(await page.textContent('#ip-cutoff') !== '', 'no IP cutoff date');
    // Every control has a label or a text.
    const unlabeled = await page.evaluate(() =>
      [...document.querySelectorAll('button, select')].filter((e) =>
        !(e.textContent.trim() || (e.id && document.querySelector('label[for="' + e.id + '"]')))).length);
    check(unlabeled === 0, unlabeled + ' controls without a label');
    await page.screenshot({ path: path.join(outdir, '03-home-us.png'), fullPage: true });
    step('03-home-us', 'region US, ' + sites + ' sites');

    // Start migration, from the keyboard.
    await page.focus('#start');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#confirm-migrate[open]');
    const confirmText = await page.textContent('#confirm-migrate');
    check(/unavailable for a few seconds/.test(confirmText), 'the confirmation says nothing of unavailability');
    await page.click('#announce');
    await page.waitForFunction(() => document.getElementById('announce-result').textContent !== '');
    const announced = await page.textContent('#announce-result');
    check(announced === 'Announcement published.', 'announcement: ' + announced);
    await page.screenshot({ path: path.join(outdir, '04-confirm-migration.png'), fullPage: true });
    step('04-confirm-migration', announced);
    await page.focus('#cm-yes');
    await page.keyboard.press('Enter');
    // The progress bar: seen while copying, and at 100 at the end.
    let seen = -1;
    let shotTaken = false;
    for (let i = 0; i < 600; ++i) {
      const state = await page.evaluate(() => ({
        visible: !document.getElementById('progress-box').hidden,
        value: document.getElementById('progress').value,
        text: document.getElementById('progress-text').textContent,
        result: document.getElementById('result').textContent,
      }));
      if (state.visible) {
        seen = Math.max(seen, state.value);
        if (!shotTaken) {
          await page.screenshot({ path: path.join(outdir, '05-migrating.png'), fullPage: true });
          step('05-migrating', state.text || 'started');
          shotTaken = true;
        }
      }
      if (state.result.startsWith('Done')) break;
      await page.waitForTimeout(100);
    }
    const done = await page.textContent('#result');
    check(done.includes('European Union'), 'migration result: ' + done);
    check(await page.evaluate(() => document.getElementById('progress').value) === 100,
      'the progress bar did not reach the end');
    check(seen >= 0, 'the progress bar was never shown');
    await page.waitForFunction(() => document.getElementById('region').dataset.region === 'eu');
    await page.waitForSelector('#rollback', { state: 'visible' });
    const countdown = await page.textContent('#countdown');
    check(/6 days|7 days/.test(countdown), 'countdown: ' + countdown);
    await page.screenshot({ path: path.join(outdir, '06-moved-eu.png'), fullPage: true });
    step('06-moved-eu', done + ' Rollback: ' + countdown + ' left');

    // Roll back.
    await page.click('#rollback');
    await page.waitForSelector('#confirm-rollback[open]');
    const warn = await page.textContent('#confirm-rollback');
    check(/Changes made since the move will be lost/.test(warn), 'no warning of lost changes');
    await page.screenshot({ path: path.join(outdir, '07-confirm-rollback.png'), fullPage: true });
    step('07-confirm-rollback');
    await page.click('#cr-yes');
    await page.waitForFunction(
      () => document.getElementById('result').textContent.includes('United States'),
      null, { timeout: 60000 });
    await page.waitForFunction(() => document.getElementById('region').dataset.region === 'us');
    check(!(await page.isVisible('#rollback')), 'a rollback button after rolling back');
    await page.screenshot({ path: path.join(outdir, '08-back-us.png'), fullPage: true });
    step('08-back-us', await page.textContent('#result'));

    check(origins.size === 2, 'the page talked to ' + [...origins].join(', '));
    const unexpected = problems.slice(expectedErrors).concat(
      problems.slice(0, expectedErrors).filter((p) => !/401/.test(p)));
    check(unexpected.length === 0, 'browser errors: ' + unexpected.join(' | '));
    console.log(JSON.stringify({ ok: true, steps }));
  } catch (e) {
    console.log(JSON.stringify({ ok: false, error: String(e && e.message || e), problems, failed, steps }));
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
