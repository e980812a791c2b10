// Clients for the reload-under-load test (reload_test.go): POLLING clients
// that use polling only, WEBSOCKET clients, and one more WebSocket client,
// the sender, that emits "tick" with a counter every 20 ms; the endpoint
// relays it to every other socket, so the polling clients' requests never
// stop. Prints one JSON event per line:
//   {type:"all-connected"}
//   {type:"disconnect", name, reason, description}  (any client, any time)
//   {type:"connect_error", name, error}
//   {type:"stats", sent, behind: [names whose last tick < since], alive}
//   {type:"request_error", error, method, sent, failed}  (times in ms)
// and reads commands: {cmd:"stats", since}: report which clients have not
// yet received tick number `since`.
'use strict';

const readline = require('readline');
const { io } = require('socket.io-client');

// socket.io-client reports a failed poll as "xhr poll error" with status 0;
// the underlying error (ECONNRESET, and when) is printed from here.
const http = require('http');
const request = http.request;
http.request = function (...args) {
  const req = request.apply(this, args);
  const sent = Date.now();
  req.on('error', (err) => print({ type: 'request_error', error: err.message, method: req.method, sent, failed: Date.now() }));
  return req;
};

const URL = process.env.URL;
const POLLING = Number(process.env.POLLING);
const WEBSOCKET = Number(process.env.WEBSOCKET);
const print = (event) => process.stdout.write(JSON.stringify(event) + '\n');

const last = new Map(); // name -> last tick received
const alive = new Set();
let pending = POLLING + WEBSOCKET + 1;

function describe(d) {
  if (d === undefined) return undefined;
  try {
    const desc = d.description;
    return String(d.message) + ': ' + String((desc && (desc.message || desc.code)) || desc);
  } catch (e) {
    return String(d);
  }
}

function open(name, transports) {
  const s = io(URL, { transports, reconnection: false, forceNew: true });
  s.on('connect', () => {
    alive.add(name);
    if (--pending === 0) print({ type: 'all-connected' });
  });
  s.on('connect_error', (err) => print({ type: 'connect_error', name, error: String(err.message || err) }));
  s.on('disconnect', (reason, details) => {
    alive.delete(name);
    print({ type: 'disconnect', name, reason, description: describe(details) });
  });
  s.on('tick', (n) => last.set(name, n));
  return s;
}

for (let i = 0; i < POLLING; i++) open('poll' + i, ['polling']);
for (let i = 0; i < WEBSOCKET; i++) open('ws' + i, ['websocket']);
const sender = open('sender', ['websocket']);
let sent = 0;
setInterval(() => {
  if (sender.connected) sender.emit('tick', ++sent);
}, 20);

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const c = JSON.parse(line);
  if (c.cmd === 'stats') {
    const behind = [];
    for (const name of alive) {
      if (name !== 'sender' && !(last.get(name) >= c.since)) behind.push(name);
    }
    print({ type: 'stats', sent, behind, alive: alive.size });
  }
});
