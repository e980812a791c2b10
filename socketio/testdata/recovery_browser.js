// Runs the scenario of recovery.js in headless Chromium: a page (PAGE)
// loads the socket.io-client browser bundle and connects to URL (the test's
// TCP proxy) over WebSocket; the test cuts the connection and the client
// recovers. Prints the page's observations as recovery.js does. Env: PAGE,
// URL, CHROMIUM (never downloads a browser).
'use strict';

const { chromium } = require('playwright-core');

// scenario runs inside the page, with the bundle's global io.
function scenario(url) {
  const lines = [];
  const out = (name, value) => lines.push(name + ' ' + JSON.stringify(value));
  const once = (s, ev) => new Promise((resolve) => s.once(ev, (...args) => resolve(args)));
  const offset = /^[0-9a-z]{8,13}$/;
  const show = (args) =>
    args.map((a, i) =>
      i === args.length - 1 && typeof a === 'string' && offset.test(a)
        ? '+offset'
        : a instanceof ArrayBuffer
          ? [...new Uint8Array(a)]
          : a
    );
  return (async () => {
    const s = io(url, { transports: ['websocket'], reconnectionDelay: 50, reconnectionDelayMax: 100, randomizationFactor: 0 });
    const events = [];
    s.onAny((...args) => events.push(show(args)));
    const before = once(s, 'before');
    await once(s, 'connect');
    out('first', { recovered: s.recovered });
    const id = s.id;
    await before;
    const gone = once(s, 'disconnect');
    s.emit('ready');
    out('disconnect', (await gone)[0]);
    await once(s, 'connect');
    out('second', { recovered: s.recovered, sameId: s.id === id });
    if (events[events.length - 1][0] !== 'after') await once(s, 'after');
    for (const e of events) out('event', e);
    s.close();
    return lines;
  })();
}

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
  try {
    const page = await browser.newPage();
    await page.goto(process.env.PAGE);
    const lines = await page.evaluate(scenario, process.env.URL);
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    await browser.close();
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
