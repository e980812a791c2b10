// Drives the example's chat page (site/index.html) in headless Chromium as a
// user would: three windows, two in room "lobby" and one in "random"; the
// first types a message and sends it. Prints what each window then shows as
// JSON: its status line and the messages in its list.
//
// ORIGIN: the example site. CHROMIUM: the browser binary.
'use strict';

const { chromium } = require('playwright-core');

const origin = process.env.ORIGIN;

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
      '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
  const result = {};
  try {
    const windows = {};
    for (const [name, room] of [['ann', 'lobby'], ['ben', 'lobby'], ['cat', 'random']]) {
      const context = await browser.newContext();
      const page = await context.newPage();
      const errors = [];
      page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`${origin}/?room=${room}`);
      // Connected, and upgraded to WebSocket as a browser does by default.
      await page.waitForFunction(() => /^connected as .* \(websocket\)$/.test(document.getElementById('status').textContent), null, { timeout: 10000 });
      windows[name] = { page, errors };
    }
    const ann = windows.ann.page;
    await ann.fill('#name', 'Ann');
    await ann.fill('#text', 'hello from the lobby');
    await ann.click('button');
    await windows.ben.page.waitForSelector('#messages li', { timeout: 5000 });
    // Give a message that should not arrive the time to do so.
    await windows.cat.page.waitForTimeout(500);
    for (const [name, w] of Object.entries(windows)) {
      result[name] = await w.page.evaluate(() => ({
        room: document.getElementById('room').textContent,
        status: document.getElementById('status').textContent,
        messages: [...document.querySelectorAll('#messages li')].map((li) => ({ text: li.textContent, mine: li.className === 'mine' })),
      }));
      result[name].errors = w.errors;
    }
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(result));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
