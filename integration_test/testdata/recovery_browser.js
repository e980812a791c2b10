// The recovery tests' clients in headless Chromium: PAGE is a page that
// loads the socket.io-client browser bundle (its global io); each spec of
// CLIENTS runs recovery_host.js's recoveryHost in it (beside lines.js's
// onEveryEvent, which it calls), reporting through a function exposed to
// the page, in the line protocol of clients.js.
// CHROMIUM: the browser binary (never downloads one).
'use strict';

const readline = require('readline');
const { chromium } = require('playwright-core');
const { print, onEveryEvent } = require('./lines');
const { recoveryHost } = require('./recovery_host');

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
  const page = await browser.newPage();
  page.on('pageerror', (err) => print({ type: 'page_error', error: String(err) }));
  await page.exposeFunction('report', print);
  await page.goto(process.env.PAGE);
  await page.addScriptTag({ content: [onEveryEvent, recoveryHost].join('\n') + '\nwindow.hosts = {};' });
  for (const spec of JSON.parse(process.env.CLIENTS)) {
    await page.evaluate((spec) => { window.hosts[spec.name] = recoveryHost(io, spec, window.report); }, spec);
  }
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', async (line) => {
    const c = JSON.parse(line);
    if (c.cmd === 'exit') {
      await browser.close();
      process.exit(0);
    }
    await page.evaluate((c) => window.hosts[c.name](c), c);
  });
  rl.on('close', async () => {
    await browser.close();
    process.exit(0);
  });
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
