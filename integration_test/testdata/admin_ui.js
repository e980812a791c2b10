// Drives the official Socket.IO Admin UI (the built files of
// @socket.io/admin-ui, served by Caddy) in headless Chromium against Caddy,
// as an operator would, and prints what it saw as one JSON object. Its own
// socket.io-client 4.x clients are the application's users. The Go test
// decides what is right; this script only acts and observes.
//
// Input: UI_URL (the UI's page), SERVER_URL (Caddy's Socket.IO server),
// SECOND_SERVER_URL (another node of the cluster, optional), PASSWORD,
// CHROMIUM.
'use strict';

const { chromium } = require('playwright-core');
const { io } = require('socket.io-client');

const uiURL = process.env.UI_URL;
const server = process.env.SERVER_URL;
const seen = { steps: [] };
const step = (name, value) => seen.steps.push(value === undefined ? name : { [name]: value });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// waitText waits until the page's main text satisfies ok, and returns it.
async function waitText(page, ok, ms = 10000) {
  const deadline = Date.now() + ms;
  let text = '';
  while (Date.now() < deadline) {
    text = await page.locator('body').innerText();
    if (ok(text)) return text;
    await sleep(100);
  }
  return text;
}

function client(name, options) {
  return new Promise((resolve, reject) => {
    const socket = io(server, { reconnection: false, forceNew: true, ...options });
    socket.received = [];
    socket.onAny((event, ...args) => socket.received.push({ event, args }));
    socket.on('disconnect', (reason) => { socket.disconnectReason = reason; });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => reject(new Error(name + ': ' + err.message)));
  });
}

async function login(page, password) {
  await page.getByLabel('Server URL').fill(server);
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Connect' }).click();
}

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
      '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
  const users = [];
  try {
    const ws = await client('ws', { transports: ['websocket'], query: { room: 'lobby' } });
    const poll = await client('poll', { transports: ['polling'], query: { room: 'lobby' } });
    const leaving = await client('leaving', { transports: ['websocket'], query: { room: 'other' } });
    users.push(ws, poll, leaving);
    seen.ids = { ws: ws.id, poll: poll.id, leaving: leaving.id };

    const context = await browser.newContext();
    const page = await context.newPage();
    // The UI loads fonts and icons from CDNs, out of reach here; nothing
    // else fails.
    page.on('pageerror', (e) => step('pageerror', String(e)));
    await page.goto(uiURL);

    await login(page, 'not the password');
    seen.wrongPassword = await waitText(page, (t) => t.includes('Invalid credentials'));
    await login(page, process.env.PASSWORD);
    await page.goto(uiURL + '#/sockets/');
    seen.sockets = await waitText(page, (t) => t.includes(ws.id) && t.includes(poll.id) && t.includes(leaving.id));

    // A page reload keeps the session: no login form, the sockets again.
    await page.reload();
    seen.afterReload = await waitText(page, (t) => t.includes(ws.id));
    seen.loginFormAfterReload = await page.getByLabel('Password').isVisible();

    // socket.io-client clears socket.id on close: wait on the id it had.
    const leavingID = leaving.id;
    leaving.close();
    seen.afterDisconnect = await waitText(page, (t) => !t.includes(leavingID));

    await page.goto(uiURL + '#/rooms/');
    seen.rooms = await waitText(page, (t) => t.includes('lobby'));

    // The socket's own page: its rooms, then join one and disconnect it.
    await page.goto(uiURL + '#/n/%2F/sockets/' + ws.id);
    seen.socketPage = await waitText(page, (t) => t.includes(ws.id) && t.includes('lobby'));
    // A combobox (rooms known, or a new name) and the form's icon button.
    await page.getByLabel('Join a room').fill('vip');
    await page.locator('form:has(.select-room) button').click();
    seen.afterJoin = await waitText(page, (t) => t.includes('vip'));

    // The UI has no form for emit; its protocol has the command.
    const admin = io(server + '/admin', { reconnection: false, forceNew: true, auth: { username: 'admin', password: process.env.PASSWORD } });
    await new Promise((r, j) => { admin.once('config', r); admin.once('connect_error', j); });
    admin.emit('emit', '/', 'lobby', 'news', 'from the admin UI');
    const deadline = Date.now() + 5000;
    while (!poll.received.some((e) => e.event === 'news') && Date.now() < deadline) await sleep(50);
    seen.pollReceived = poll.received;
    admin.close();

    // The disconnect button is an icon (mdi-logout) with a tooltip.
    await page.locator('button:has(i.mdi-logout)').first().click();
    const until = Date.now() + 5000;
    while (!ws.disconnectReason && Date.now() < until) await sleep(50);
    seen.wsDisconnectReason = ws.disconnectReason || null;

    if (process.env.SECOND_SERVER_URL) {
      await page.goto(uiURL + '#/servers/');
      seen.servers = await waitText(page, (t) => (t.match(/#\d+ app/g) || []).length >= 2);
    }
  } catch (e) {
    seen.error = String(e && e.stack || e);
  } finally {
    for (const u of users) u.close();
    await browser.close();
  }
  process.stdout.write(JSON.stringify(seen));
})();
