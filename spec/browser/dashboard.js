// The dashboard driven in headless Chromium (run by spec/browser/dashboard_test.sh, which starts
// the daemon and says where in the environment). Speaks TAP: one line per behaviour, each failing
// if that behaviour broke. Environment: ZEROG_URL, ZEROG_TOKEN, ZEROG (the program), PARKED_JOBS
// (the first-paint phase's jobs folder), HOLD_PID_FILE, CHROMIUM, SCREENS.
'use strict';
const puppeteer = require('puppeteer-core');
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const URL = process.env.ZEROG_URL;
const TOKEN = process.env.ZEROG_TOKEN;
const SCREENS = process.env.SCREENS || 'build/screens';
let n = 0;
let failed = 0;
const dialogs = []; // every dialog the page opened (confirm is accepted; alert is recorded)

async function ok(name, fn) {
  n++;
  const started = Date.now();
  try {
    await fn();
    console.log(`ok ${n} - ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (err) {
    failed++;
    console.log(`not ok ${n} - ${name}`);
    for (const line of String((err && err.stack) || err).split('\n').slice(0, 6)) console.log('# ' + line);
  }
}
function assert(cond, msg) { if (!cond) throw new Error(msg); }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// until(fn, ms, what): polls fn (every 50 ms) until it returns something truthy, or fails saying what
async function until(fn, ms, what) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try { last = await fn(); } catch (err) { last = err; }
    if (last && !(last instanceof Error)) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}` + (last instanceof Error ? ': ' + last.message : ''));
    await sleep(50);
  }
}
async function api(method, p, body) {
  const r = await fetch(URL + p, { method, headers: { Authorization: 'Bearer ' + TOKEN, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.status, data: await r.json().catch(() => null) };
}
async function submit(type, params) {
  const r = await api('POST', '/job/' + type, params || {});
  assert(r.status === 201, `submit ${type}: ${r.status} ${JSON.stringify(r.data)}`);
  return r.data.uuid;
}
const info = async (uuid) => (await api('GET', '/info/' + uuid)).data;
// The text of the page's badges, notes and controls that is shown with less than WCAG AA's 4.5:1
// contrast against the colour behind it.
const lowContrast = (page) => page.evaluate(() => {
  const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const behind = (e) => {
    for (; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor); if (c.length === 3 || c[3] > 0) return c; }
    return [255, 255, 255];
  };
  const bad = [];
  for (const e of document.querySelectorAll('.state, .pill, .notice, .muted, .error, .hint, .req, th, button, .log .m, td.err, a')) {
    if (!e.offsetParent || !e.textContent.trim()) continue;
    const a = lum(rgb(getComputedStyle(e).color)), b = lum(behind(e));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) bad.push(e.className + ' "' + e.textContent.trim().slice(0, 20) + '" ' + ratio.toFixed(2));
  }
  return bad;
});
const text = (page, sel) => page.$eval(sel, (e) => e.textContent).catch(() => null);

async function main() {
  let browser;
  try {
    browser = await puppeteer.launch({ executablePath: process.env.CHROMIUM, headless: true,
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'], protocolTimeout: 30000 });
  } catch (err) {
    console.log('1..0 # SKIP chromium cannot start: ' + String(err.message).split('\n')[0]);
    return;
  }
  fs.mkdirSync(SCREENS, { recursive: true });
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  page.on('dialog', async (d) => { dialogs.push(d.type() + ': ' + d.message()); if (d.type() === 'confirm') await d.accept(); else await d.dismiss(); });
  const pageErrors = [];
  page.on('pageerror', (err) => pageErrors.push(String(err)));
  const goto = async (hash) => { await page.evaluate((h) => { location.hash = h; }, hash); };

  await ok('GET / serves the page without a token, and the page asks for the token once the API answers 401', async () => {
    const res = await page.goto(URL + '/', { waitUntil: 'domcontentloaded' });
    assert(res.status() === 200, 'GET / answered ' + res.status());
    await until(() => page.$eval('#token-dialog', (d) => d.open), 5000, 'the token dialog');
    const closed = await page.evaluate(async () => (await fetch('/jobs')).status);
    assert(closed === 401, 'GET /jobs without the token answered ' + closed);
  });

  await ok('a wrong token is refused and asked again; the right one opens the dashboard and is kept for the session', async () => {
    await page.type('#token-input', 'wrong-token');
    await page.click('#token-form button[type=submit]');
    await until(async () => (await text(page, '#token-error')).includes('refused') && await page.$eval('#token-dialog', (d) => d.open), 5000, 'the refusal');
    await page.type('#token-input', TOKEN);
    await page.click('#token-form button[type=submit]');
    await until(() => page.$eval('#token-dialog', (d) => !d.open), 5000, 'the dialog to close');
    await until(async () => (await page.$$('#submit-type option')).length === 7, 5000, 'the seven job types in the form');
    const kept = await page.evaluate(() => sessionStorage.getItem('zerog.token'));
    assert(kept === TOKEN, 'sessionStorage holds ' + kept);
    await page.reload({ waitUntil: 'domcontentloaded' });
    await until(async () => (await page.$$('#submit-type option')).length === 7, 5000, 'the form after a reload');
    assert(!(await page.$eval('#token-dialog', (d) => d.open)), 'the token was asked again after a reload');
  });

  await ok('the Token button opens the token dialog to change it, and Escape closes it (it could not be left without typing a token)', async () => {
    await page.click('#token-button');
    await until(() => page.$eval('#token-dialog', (d) => d.open), 5000, 'the dialog');
    await page.keyboard.press('Escape');
    await until(() => page.$eval('#token-dialog', (d) => !d.open), 5000, 'Escape to close it');
    const kept = await page.evaluate(() => sessionStorage.getItem('zerog.token'));
    assert(kept === TOKEN, 'the token changed: ' + kept);
  });

  let slow;
  await ok('a job submitted through the form shows in the list with a bar that moves live to 100%', async () => {
    await page.select('#submit-type', 'slow');
    await page.click('#submit button[type=submit]');
    slow = await until(() => page.$eval('#submit-result', (e) => e.dataset.uuid), 5000, 'the submitted uuid');
    const seen = new Set();
    await until(async () => {
      const v = await page.$eval(`#jobs tr[data-uuid="${slow}"] [role=progressbar]`, (b) => b.getAttribute('aria-valuenow')).catch(() => null);
      if (v !== null) seen.add(Number(v));
      return v === '100';
    }, 15000, 'the bar at 100%');
    const between = [...seen].filter((v) => v > 0 && v < 100);
    assert(between.length >= 1, 'no value between 0 and 100 was shown: ' + [...seen]);
    assert(await page.$eval(`#jobs tr[data-uuid="${slow}"]`, (tr) => tr.dataset.state) === 'succeeded', 'not shown succeeded');
    console.log('# the bar showed ' + [...seen].sort((a, b) => a - b).join(', '));
  });

  await ok('a validation error from the server appears next to its field, and nothing is submitted', async () => {
    const before = (await api('GET', '/jobs?type=greet')).data.jobs.length;
    await page.select('#submit-type', 'greet');
    await until(() => page.$('#submit-fields [data-field=name] input'), 2000, 'the name field');
    const hints = await text(page, '#submit-fields [data-field=times] .hint');
    assert(hints.includes('integer') && hints.includes('default 3'), 'the times field says ' + hints);
    assert(await page.$('#submit-fields [data-field=name] .req'), 'name is not marked required');
    await page.click('#submit button[type=submit]');
    await until(async () => /name is required/.test(await text(page, '#submit-fields [data-field=name] .field-error')), 5000, 'the error next to name');
    await page.type('#submit-fields [data-field=name] input', 'Ada');
    await page.type('#submit-fields [data-field=times] input', 'lots');
    await page.click('#submit button[type=submit]');
    await until(async () => /times must be an integer/.test(await text(page, '#submit-fields [data-field=times] .field-error')), 5000, 'the error next to times');
    assert((await text(page, '#submit-fields [data-field=name] .field-error')) === '', 'the name error stayed');
    assert((await api('GET', '/jobs?type=greet')).data.jobs.length === before, 'a job was stored');
    await page.$eval('#submit-fields [data-field=times] input', (i) => { i.value = ''; });
    await page.type('#submit-fields [data-field=times] input', '2');
    await page.click('#submit button[type=submit]');
    const uuid = await until(() => page.$eval('#submit-result', (e) => e.dataset.uuid !== '' && e.textContent.startsWith('Submitted') && e.dataset.uuid), 5000, 'the submit');
    const doc = (await api('GET', '/dump/' + uuid)).data;
    assert(doc.name === 'Ada' && doc.times === 2 && doc.tags[0] === 'a', 'stored ' + JSON.stringify(doc));
  });

  let flaky;
  await ok("a failing job's error message is shown on its page", async () => {
    flaky = await submit('flaky');
    await until(async () => (await info(flaky)).result === 500, 10000, 'the job to fail');
    await goto('#/job/' + flaky);
    await until(async () => (await text(page, '[data-list=errors] .log')).includes('disk full: cannot write /var/spool/flaky'), 5000, 'the error on the page');
    assert((await text(page, '#job-state')) === 'failed', 'state shown: ' + (await text(page, '#job-state')));
    await page.screenshot({ path: path.join(SCREENS, 'job-failed.png') });
  });

  await ok('Retry on a failed job puts it back; its next run succeeds and its page shows the retry', async () => {
    await until(() => page.$('#job-retry'), 3000, 'the retry button');
    await page.click('#job-retry');
    await until(async () => (await text(page, '#job-state')) === 'succeeded', 10000, 'the job to succeed');
    assert((await text(page, '[data-list=events] .log')).includes('Retried by hand'), 'no retry event shown');
    assert(dialogs.some((d) => d.startsWith('confirm: Retry job')), 'no confirmation was asked');
  });

  await ok('Kill on a running job ends it with result 410', async () => {
    const long = await submit('long');
    await goto('#/job/' + long);
    await until(async () => (await text(page, '#job-state')) === 'running', 10000, 'the job to run');
    await page.click('#job-kill');
    await until(async () => (await info(long)).result === 410, 10000, 'result 410');
    await until(async () => (await text(page, '#job-state')) === 'failed', 5000, 'the page to show it failed');
  });

  await ok("a delayed job's page says delayed (not waiting), with its kill button; GET /state says where it is", async () => {
    const r = await api('POST', '/job/long?delay=3600', {});
    assert(r.status === 201, 'submit delayed: ' + r.status);
    const where = await api('GET', '/state/' + r.data.uuid);
    assert(where.status === 200 && where.data.state === 'delayed' && where.data.timeLeftMs > 3500000, 'state ' + JSON.stringify(where));
    await goto('#/job/' + r.data.uuid);
    await until(async () => (await text(page, '#job-state')) === 'delayed', 5000, 'the page to say delayed');
    assert(await page.$('#job-kill'), 'no kill button on a delayed job');
    assert((await api('GET', '/state/00000000-0000-4000-8000-000000000000')).status === 404, 'an unknown job is not 404');
    assert((await api('DELETE', '/job/' + r.data.uuid)).status === 200, 'the delayed job not deleted');
  });

  await ok('an event and a warning holding HTML, and markup in the address, are shown as text: no element is made from them, no script runs', async () => {
    const uuid = await submit('html');
    await goto('#/job/' + uuid);
    const shown = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">';
    await until(async () => (await text(page, '[data-list=events] .log')).includes(shown), 10000, 'the event text');
    await until(async () => (await text(page, '[data-list=warnings] .log')).includes('<b>bold?</b> & <i onmouseover="window.__xss = 3">'), 5000, 'the warning text');
    const made = await page.evaluate(() => ({
      img: document.querySelectorAll('img').length, b: document.querySelectorAll('main b').length,
      i: document.querySelectorAll('i').length, scripts: document.scripts.length, xss: window.__xss }));
    assert(made.img === 0 && made.i === 0 && made.scripts === 1 && made.xss === undefined, 'made: ' + JSON.stringify(made));
    assert(!dialogs.some((d) => d.startsWith('alert')), 'an alert ran: ' + dialogs);
    // markup in the address (a link someone sends) is shown as text too
    const bad = '<img src=x onerror="window.__xss = 4">';
    await goto('#/job/' + encodeURIComponent(bad));
    await until(async () => ((await text(page, '#job')) || '').includes('Job ' + bad), 5000, 'the uuid from the address shown as text');
    const after = await page.evaluate(() => ({ img: document.querySelectorAll('img').length, xss: window.__xss }));
    assert(after.img === 0 && after.xss === undefined, 'made from the address: ' + JSON.stringify(after));
  });

  await ok('a job with 20,000 events: its page shows the latest 500 and says how many are not shown, and reads the lists again only when the job changes', async () => {
    const uuid = await submit('many');
    await until(async () => (await info(uuid)).result === 200, 20000, 'the job to record its events');
    const seen = [];
    const count = (req) => { if (req.url().includes('showLogs=true')) seen.push(Date.now()); };
    page.on('request', count);
    const started = Date.now();
    await goto('#/job/' + uuid);
    await until(async () => ((await text(page, '[data-list=events] h2')) || '') === 'Events (20000)', 10000, 'the events list');
    const shownMs = Date.now() - started;
    const items = await page.$$eval('[data-list=events] .log li', (lis) => lis.map((li) => li.textContent));
    assert(items.length === 501 && items[0] === '19,500 earlier not shown (GET /dump/UUID?showLogs=true has them all)' &&
      items[500].endsWith('event 20000'), 'the list: ' + items.length + ' ' + items[0] + ' … ' + items[items.length - 1]);
    const readsToShow = seen.length; // (1, or 2 when the job was still being written at the first)
    seen.length = 0;
    await sleep(2500); // three polls of an unchanged job (the fault's length, not a sync)
    page.off('request', count);
    console.log(`# 20,000 events: the page shown in ${shownMs} ms after ${readsToShow} read(s) of the lists; ${seen.length} more in 2.5 s unchanged`);
    assert(seen.length === 0, seen.length + ' reads of the whole document while it did not change');
    await goto('#/');
  });

  await ok('an address with a malformed %-escape shows that job as not found, and the page goes on polling (it froze)', async () => {
    await goto('#/job/%E0%A4%A');
    await until(async () => ((await text(page, '#job')) || '').includes('Job %E0%A4%A'), 5000, 'the job page saying what was asked');
    await goto('#/');
    await until(() => page.$eval('#overview', (o) => !o.hidden), 5000, 'the overview again');
    const uuid = await submit('html');
    await until(() => page.$(`#jobs tr[data-uuid="${uuid}"]`), 5000, 'a new job listed: the poll goes on');
  });

  await ok('the overview shows queues with counts per state, the workers, the last-hour chart and the live event feed', async () => {
    await goto('#/');
    await until(() => page.$('#queues tr[data-queue=slow_q]'), 5000, 'the slow_q row');
    const succeeded = await page.$eval('#queues tr[data-queue=slow_q] td[data-state=succeeded]', (td) => td.textContent);
    assert(succeeded === '1', 'slow_q succeeded: ' + succeeded);
    assert((await page.$$('#workers tbody tr')).length === 3, 'not 3 worker rows');
    await until(async () => (await page.$$('#chart rect')).length >= 1, 5000, 'a bar in the chart');
    assert(/\d+ done, [1-9]\d* failed in the last hour/.test(await text(page, '#chart-total')), 'chart total: ' + (await text(page, '#chart-total')));
    await until(async () => (await page.$$('#feed li')).length >= 6, 5000, 'the feed');
    assert((await text(page, '#feed')).includes('slow'), 'the feed does not name slow');
  });

  await ok('a worker running a job shows it with a live progress bar', async () => {
    const long = await submit('long');
    await until(() => page.$(`#workers td[data-uuid="${long}"]`), 10000, 'the worker row with the job');
    const v = await until(() => page.$$eval('#workers tr', (rows, u) => {
      const row = rows.find((r) => r.querySelector(`td[data-uuid="${u}"]`));
      const b = row && row.querySelector('[role=progressbar]');
      return b && !b.hidden && Number(b.getAttribute('aria-valuenow')) > 0 && b.getAttribute('aria-valuenow');
    }, long), 10000, 'the progress of the running job');
    console.log('# the worker row shows ' + v + '%');
    await api('POST', '/kill/' + long);
  });

  await ok('with --threads 2, six runs at once on three worker processes each show on a worker row with its bar', async () => {
    const longs = [];
    for (let i = 0; i < 6; i++) longs.push(await submit('long'));
    try {
      await until(() => page.$$eval('#workers td[data-uuid]', (cells, us) => us.every((u) => cells.some((c) => c.dataset.uuid === u)), longs),
        10000, 'every running job on a worker row');
      const rows = await page.$$eval('#workers tbody tr', (r) => r.length);
      assert(rows === 6, 'worker rows ' + rows);
    } finally {
      for (const u of longs) await api('POST', '/kill/' + u);
    }
    await until(() => page.$$eval('#workers tbody tr', (r) => r.length === 3), 10000, 'back to one row per worker');
  });

  await ok('the filters narrow the list (state, type, queue), and bulk retry retries each failed job of the filter after a confirmation', async () => {
    const a = await submit('flaky');
    const b = await submit('flaky');
    await until(async () => (await info(a)).result === 500 && (await info(b)).result === 500, 10000, 'two failed jobs');
    await page.select('#filter [name=state]', 'failed');
    await page.select('#filter [name=type]', 'flaky');
    await until(async () => {
      const rows = await page.$$eval('#jobs tbody tr[data-uuid]', (trs) => trs.map((t) => t.dataset.uuid + ' ' + t.dataset.state));
      return rows.length === 2 && rows.every((r) => r.endsWith(' failed')) && rows.some((r) => r.startsWith(a));
    }, 5000, 'just the two failed flaky jobs');
    const asked = dialogs.length;
    await page.click('#bulk-retry');
    await until(async () => (await info(a)).result === 200 && (await info(b)).result === 200, 10000, 'both retried and succeeded');
    assert(dialogs.slice(asked).some((d) => d.startsWith('confirm: Retry 2 failed job(s) of type flaky')), 'confirmation: ' + dialogs.slice(asked));
    await until(async () => (await page.$$('#jobs tbody tr[data-uuid]')).length === 0, 5000, 'the failed list to empty');
  });

  await ok('purge of the filtered set deletes the finished jobs of that filter only, after a confirmation', async () => {
    await page.select('#filter [name=state]', 'succeeded');
    await page.select('#filter [name=type]', 'greet');
    await until(async () => (await page.$$('#jobs tbody tr[data-uuid]')).length === 1, 5000, 'the greet job');
    const others = (await api('GET', '/jobs?state=succeeded&type=slow')).data.jobs.length;
    await page.click('#bulk-purge');
    await until(async () => (await api('GET', '/jobs?type=greet')).data.jobs.length === 0, 5000, 'greet jobs purged');
    assert((await api('GET', '/jobs?state=succeeded&type=slow')).data.jobs.length === others, 'slow jobs were purged too');
    await until(() => dialogs.some((d) => d.startsWith('alert: Deleted 1 job(s)')), 5000, 'the report of what was deleted');
    assert(dialogs.some((d) => d.startsWith('confirm: Delete 1 succeeded job(s) of type greet?')), 'confirmation: ' + dialogs.slice(-2));
    // nothing left to purge: said so, and no request to purge is sent
    const asked = dialogs.length;
    await page.click('#bulk-purge');
    await until(() => dialogs.slice(asked).some((d) => d === 'alert: No succeeded job(s) of type greet.'), 5000, 'the report that nothing matches');
    assert(!dialogs.slice(asked).some((d) => d.startsWith('confirm:')), 'asked to purge nothing: ' + dialogs.slice(asked));
    await page.select('#filter [name=state]', '');
    await page.select('#filter [name=type]', '');
  });

  await ok('the state filter offers parked: a flow parent waiting for its child is listed under it, and its queue counts it', async () => {
    const parent = await submit('fan');
    const child = await until(async () => {
      const r = (await api('GET', '/jobs?state=running&type=long')).data.jobs;
      return r.length === 1 && r[0].uuid;
    }, 10000, 'the child running');
    await page.select('#filter [name=state]', 'parked');
    await until(async () => {
      const rows = await page.$$eval('#jobs tbody tr[data-uuid]', (trs) => trs.map((t) => t.dataset.uuid + ' ' + t.dataset.state));
      return rows.length === 1 && rows[0] === parent + ' parked';
    }, 5000, 'just the parked parent');
    await until(() => page.$eval('#queues tr[data-queue=fan_q] td[data-state=parked]', (td) => td.textContent === '1'), 5000, 'parked 1 in fan_q');
    await api('POST', '/kill/' + child);
    await until(async () => (await info(parent)).result === 200, 10000, 'the parent to resume and finish');
    await until(async () => (await page.$$('#jobs tbody tr[data-uuid]')).length === 0, 5000, 'the parked list to empty');
    await page.select('#filter [name=state]', '');
  });

  await ok('Drain stops the workers taking jobs (shown in the header), Undrain resumes', async () => {
    await page.click('#drain');
    await until(async () => (await text(page, '#status')).startsWith('draining') && (await text(page, '#drain')) === 'Undrain' &&
      !(await page.$eval('#drain', (b) => b.disabled)), 5000, 'the drain answered and shown');
    const waiting = await submit('greet', { name: 'later' });
    await sleep(600); // a drained daemon must not start it: nothing to wait for but time
    assert((await info(waiting)).result === -1, 'a job ran while drained');
    await page.click('#drain');
    await until(async () => (await info(waiting)).result === 200, 10000, 'the job to run after undrain');
    await until(async () => !(await text(page, '#status')).startsWith('draining') && (await text(page, '#drain')) === 'Drain', 5000, 'the header to show it undrained');
  });

  await ok('Kick buried puts the buried jobs of a queue back to waiting, after a confirmation', async () => {
    // a job whose document cannot be loaded is buried on its 4th claim (README): corrupt one of a
    // queue serve does not serve, and claim it 4 times with a worker of its own
    const env = Object.assign({}, process.env, { ZEROG_JOBS: process.env.PARKED_JOBS });
    const uuid = spawnSync(process.env.ZEROG, ['submit', 'parked', '{"n": 0}'], { env }).stdout.toString().trim();
    const redis = (...args) => spawnSync('redis-cli', ['-s', process.env.REDIS_SOCK, ...args]).stdout.toString().trim();
    redis('HSET', `{zq:${redis('GET', 'zerog:job:' + uuid).split('}')[0]}}:job:${uuid}`, 'jobType', '"renamed_by_hand"');
    for (let i = 0; i < 4; i++) {
      spawnSync(process.env.ZEROG, ['kick', 'parked_q'], { env }); // the retry delay, now
      spawnSync(process.env.ZEROG, ['worker', '--queue', 'parked_q', '--until-idle'], { env });
    }
    assert((await api('GET', '/stats?queue=parked_q')).data.parked_q.parked.buried === 1, 'not buried');
    await until(() => page.$eval('#queues tr[data-queue=parked_q] td[data-state=buried]', (td) => td.textContent === '1'), 5000, 'buried 1 shown');
    const asked = dialogs.length;
    await page.click('#queues tr[data-queue=parked_q] .kick');
    await until(async () => {
      const c = (await api('GET', '/stats?queue=parked_q')).data.parked_q.parked;
      return c.buried === 0 && c.waiting === 1;
    }, 5000, 'the job kicked back to waiting');
    assert(dialogs.slice(asked).some((d) => d.startsWith('confirm: Put the buried jobs of parked_q')), 'no confirmation');
    await until(() => page.$eval('#queues tr[data-queue=parked_q] .kick', (b) => b.disabled), 5000, 'the button disabled');
    assert((await page.$eval('#queues tr[data-queue=parked_q] td[data-state=waiting]', (td) => td.textContent)) === '1', 'waiting not 1');
  });

  await ok('every input, select and textarea has a label, every action is a button, and text has 4.5:1 contrast in the light and the dark scheme', async () => {
    const unlabelled = await page.evaluate(() => Array.from(document.querySelectorAll('input, select, textarea'))
      .filter((c) => !c.labels.length && !c.getAttribute('aria-label')).map((c) => c.outerHTML.slice(0, 80)));
    assert(unlabelled.length === 0, 'without a label: ' + unlabelled.join(' '));
    const clickable = await page.evaluate(() => Array.from(document.querySelectorAll('[onclick], div[tabindex], span[tabindex]')).length);
    assert(clickable === 0, clickable + ' clickable elements are not buttons or links');
    await until(async () => (await page.$$('#jobs .state.failed, #jobs .state.succeeded')).length > 0, 5000, 'state badges shown');
    for (const scheme of ['light', 'dark']) {
      await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: scheme }]);
      const bad = await lowContrast(page);
      assert(bad.length === 0, scheme + ': ' + bad.slice(0, 8).join('; '));
    }
    await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: 'light' }]);
  });

  await ok('a tab out of sight stops polling the daemon, and refreshes at once when shown again', async () => {
    const seen = [];
    const count = (req) => { if (!req.url().includes('/ui/')) seen.push(req.url()); };
    page.on('request', count);
    await page.evaluate(() => {
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await sleep(300); // a poll under way may end
    const before = seen.length;
    await sleep(2500);
    const hiddenRequests = seen.length - before;
    await page.evaluate(() => {
      delete document.hidden; // the prototype's getter again
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await until(() => seen.length > before + hiddenRequests, 2000, 'a request once shown');
    page.off('request', count);
    assert(hiddenRequests === 0, hiddenRequests + ' requests in 2.5 s while hidden');
  });

  await ok('usable at phone width in the dark scheme: one column, no horizontal scroll of the page', async () => {
    await page.screenshot({ path: path.join(SCREENS, 'overview-light.png'), fullPage: false });
    await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: 'dark' }]);
    await page.setViewport({ width: 390, height: 844, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    await sleep(300); // layout settles on the next frame; the check below is on the result, not a wait
    const m = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth,
      bg: getComputedStyle(document.body).backgroundColor, cols: getComputedStyle(document.querySelector('.grid')).gridTemplateColumns }));
    assert(m.scroll <= m.width + 1, 'the page scrolls sideways: ' + JSON.stringify(m));
    assert(m.bg === 'rgb(18, 21, 27)', 'not the dark background: ' + m.bg);
    assert(m.cols.split(' ').length === 1, 'not one column: ' + m.cols);
    await page.screenshot({ path: path.join(SCREENS, 'dashboard-phone-dark.png'), fullPage: false });
    await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: 'light' }]);
    await page.setViewport({ width: 1280, height: 900 });
  });

  await ok('with 10,000 jobs stored and 50 running, first paint (under 1 s) and the first jobs shown (under 2 s) are measured, updates stay smooth, paging works', async () => {
    const started = Date.now();
    const env = Object.assign({}, process.env, { ZEROG_JOBS: process.env.PARKED_JOBS });
    const params = Array.from({ length: 10000 }, (_, i) => `{"n": ${i}}`).join('\n') + '\n';
    let r = spawnSync(process.env.ZEROG, ['submit', 'parked', '--batch', '-'], { env, input: params, maxBuffer: 1 << 24 });
    assert(r.status === 0, 'seeding parked: ' + r.stderr);
    r = spawnSync(process.env.ZEROG, ['submit', 'hold', '--batch', '-'], { env, input: '{}\n'.repeat(50) });
    assert(r.status === 0, 'seeding hold: ' + r.stderr);
    const seeded = Date.now();
    const hold = spawn(process.env.ZEROG, ['worker', '--queue', 'hold_q', '--concurrency', '50'], { env, stdio: 'ignore' });
    fs.writeFileSync(process.env.HOLD_PID_FILE, String(hold.pid));
    try {
      await until(async () => (await api('GET', '/stats?queue=hold_q')).data.hold_q.hold.running === 50, 30000, '50 running');
      console.log(`# seeded 10,050 jobs in ${seeded - started} ms, 50 running ${Date.now() - seeded} ms later`);
      const stored = Object.values((await api('GET', '/stats')).data).flatMap((q) => Object.values(q))
        .reduce((s, c) => s + Object.values(c).reduce((a, b) => a + b, 0), 0);
      assert(stored >= 10051, 'only ' + stored + ' jobs stored');
      // three fresh loads, each timed by the page (first paint, the first jobs shown) with where the
      // time went (the HTML's and the stylesheet's answers); the bounds hold for their median: the
      // machine is shared (CI runs the sanitizers' suite beside this one), one slow load is noise
      const loads = [];
      let fresh;
      for (let i = 0; i < 3; i++) {
        if (fresh) await fresh.close();
        fresh = await browser.newPage();
        await fresh.setViewport({ width: 1280, height: 900 });
        await fresh.evaluateOnNewDocument((tok) => sessionStorage.setItem('zerog.token', tok), TOKEN);
        await fresh.goto(URL + '/', { waitUntil: 'load' });
        await until(() => fresh.$eval('html', (h) => h.dataset.ready === 'true'), 10000, 'the jobs shown');
        loads.push(await fresh.evaluate(() => {
          const at = (name) => { const e = performance.getEntriesByName(name)[0]; return e ? Math.round(e.startTime) : -1; };
          const nav = performance.getEntriesByType('navigation')[0];
          const css = performance.getEntriesByType('resource').find((e) => e.name.endsWith('/ui/app.css'));
          return { fcp: at('first-contentful-paint'), shown: at('zerog-jobs-shown'),
            html: nav ? Math.round(nav.responseEnd) : -1, css: css ? Math.round(css.responseEnd) : -1,
            js: Math.round((performance.getEntriesByType('resource').find((e) => e.name.endsWith('/ui/app.js')) || {}).responseEnd || -1),
            dcl: nav ? Math.round(nav.domContentLoadedEventEnd) : -1, fp: at('first-paint') };
        }));
      }
      const median = (key) => loads.map((l) => l[key]).sort((a, b) => a - b)[1];
      const t = { fcp: median('fcp'), shown: median('shown') };
      // updates: the longest main-thread task over 3 s of live updates (50 bars moving)
      await fresh.evaluate(() => { window.__long = 0; new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__long = Math.max(window.__long, e.duration); }).observe({ type: 'longtask' }); });
      await sleep(3000); // a measurement window, not a sync
      const longest = await fresh.evaluate(() => window.__long);
      const workersShown = await fresh.$$eval('#workers tbody tr', (rows) => rows.length);
      console.log(`# loads (ms): ${JSON.stringify(loads)}; median first paint ${t.fcp} ms, jobs shown ${t.shown} ms, longest task during updates ${longest.toFixed(0)} ms (0: none over 50 ms) with ${stored} jobs stored, 50 running`);
      await fresh.screenshot({ path: path.join(SCREENS, 'dashboard-light.png') }); // 10,000 jobs, 50 running
      assert(loads.every((l) => l.fcp > 0 && l.shown > 0), 'a load not timed: ' + JSON.stringify(loads));
      assert(t.fcp < 1000 && t.shown < 2000, 'slow: ' + JSON.stringify(t));
      assert(workersShown === 3, 'workers rows ' + workersShown);
      // paging: 50 a page, Older shows the next 50 (none of the first), Newest goes back
      const firstPage = await fresh.$$eval('#jobs tbody tr[data-uuid]', (rows) => rows.map((r) => r.dataset.uuid));
      assert(firstPage.length === 50, 'first page holds ' + firstPage.length);
      await fresh.click('#next-page');
      await until(() => fresh.$$eval('#jobs tbody tr[data-uuid]', (rows, first) => rows.length === 50 && rows.every((r) => !first.includes(r.dataset.uuid)), firstPage), 5000, 'the older page');
      await fresh.click('#first-page');
      await until(() => fresh.$$eval('#jobs tbody tr[data-uuid]', (rows, first) => rows.some((r) => first.includes(r.dataset.uuid)), firstPage), 5000, 'the newest page again');
      await fresh.close();
    } finally {
      hold.kill('SIGKILL'); // its workers die with it (PR_SET_PDEATHSIG); their jobs stay running in the store
      await new Promise((res) => { if (hold.exitCode !== null) res(); else hold.on('exit', res); });
    }
  });

  await ok('the page raised no script error', async () => {
    assert(pageErrors.length === 0, pageErrors.join('\n'));
  });
  await browser.close();
  console.log('1..' + n);
}

main().then(() => process.exit(failed ? 1 : 0), (err) => { console.log('not ok - the test died: ' + err.stack); process.exit(1); });
