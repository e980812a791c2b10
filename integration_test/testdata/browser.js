// Runs Socket.IO browser scenarios in one headless Chromium and prints what
// each page saw as a JSON array on stdout: whether the client connected (or
// the connect_error it got), the transport it ended on, the ack of one
// emitted event, and every console message and failed request the browser
// reported. The Go test decides what is right; this script only observes.
//
// Input: SCENARIOS_FILE, a JSON array of
//   {name, page, url, options, client: "v4"|"v2", waitUpgrade, emit: {event, args},
//    cookies: [{name, value, url}], timeoutMs}
// CHROMIUM: the browser binary. Never downloads a browser.
'use strict';

const fs = require('fs');
const { chromium } = require('playwright-core');

const scenarios = JSON.parse(fs.readFileSync(process.env.SCENARIOS_FILE, 'utf8'));
const parallel = Number(process.env.PARALLEL || 4);

// connect runs inside the page: it opens one Socket.IO connection with the
// page's global io (v4 or v2 bundle) and reports the first outcome.
function connect({ url, options, waitUpgrade, emit, timeoutMs }) {
  return new Promise((resolve) => {
    const socket = io(url, options);
    let settled = false;
    const done = (result) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.close();
      resolve(result);
    };
    const timer = setTimeout(() => done({ outcome: 'timeout' }), timeoutMs);
    socket.on('connect_error', (err) => {
      done({
        outcome: 'connect_error',
        error: String((err && err.message) || err),
        description: err && err.description !== undefined ? String(err.description) : undefined,
      });
    });
    socket.on('connect', async () => {
      const engine = socket.io.engine;
      if (waitUpgrade && engine.transport.name !== 'websocket') {
        await new Promise((r) => {
          engine.once('upgrade', r);
          engine.once('upgradeError', r);
          setTimeout(r, timeoutMs);
        });
      }
      const transport = engine.transport.name;
      let ack;
      if (emit) {
        ack = await new Promise((r) => {
          socket.emit(emit.event, ...(emit.args || []), (...reply) => r(reply));
          setTimeout(() => r('no ack'), timeoutMs);
        });
      }
      done({ outcome: 'connect', id: socket.id, transport, ack });
    });
  });
}

async function run(browser, s) {
  const context = await browser.newContext();
  const seen = { name: s.name, console: [], pageErrors: [], failedRequests: [], responses: [] };
  const started = Date.now();
  try {
    if (s.cookies) await context.addCookies(s.cookies);
    const page = await context.newPage();
    page.on('console', (m) => seen.console.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => seen.pageErrors.push(String(e)));
    page.on('requestfailed', (r) => seen.failedRequests.push(`${r.method()} ${r.url()} ${r.failure() && r.failure().errorText}`));
    page.on('response', async (r) => {
      const req = r.request();
      if (!r.url().startsWith(s.url)) return;
      seen.responses.push({
        method: req.method(),
        url: r.url(),
        status: r.status(),
        headers: await r.allHeaders().catch(() => ({})),
        requestHeaders: await req.allHeaders().catch(() => ({})),
      });
    });
    page.on('websocket', (ws) => {
      seen.console.push(`websocket: opened ${ws.url()}`);
      ws.on('socketerror', (e) => seen.console.push(`websocket: error ${e}`));
    });
    const nav = await page.goto(s.page);
    if (!nav || !nav.ok()) throw new Error(`loading ${s.page}: ${nav && nav.status()}`);
    Object.assign(seen, await page.evaluate(connect, {
      url: s.url, options: s.options || {}, waitUpgrade: !!s.waitUpgrade, emit: s.emit, timeoutMs: s.timeoutMs || 5000,
    }));
    // Chromium reports CORS failures on the console a moment after the
    // request failed; give them time to arrive.
    await page.waitForTimeout(300);
  } catch (e) {
    seen.outcome = 'script error';
    seen.error = String(e && e.stack || e);
  } finally {
    await context.close();
  }
  seen.ms = Date.now() - started;
  return seen;
}

(async () => {
  // launch() gives Chromium a fresh temporary profile of its own each time
  // and removes it on close; it refuses a --user-data-dir argument.
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
      '--no-first-run', '--disable-component-update', '--disable-sync',
      // Named origins for the wildcard and regexp scenarios, without DNS.
      '--host-resolver-rules=MAP *.example.test 127.0.0.1'],
  });
  const results = new Array(scenarios.length);
  let next = 0;
  const worker = async () => {
    while (next < scenarios.length) {
      const i = next++;
      results[i] = await run(browser, scenarios[i]);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(parallel, scenarios.length) }, worker));
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(results));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
