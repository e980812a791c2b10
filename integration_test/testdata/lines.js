// What the scripts that host real Socket.IO clients for a Go test share:
// the line protocol (one JSON event a line on stdout, one JSON command a
// line on stdin), opening a client from its spec, and every event a socket
// receives, socket.io-client 2.x's included.
'use strict';

const readline = require('readline');
const ioV4 = require('socket.io-client');
const ioV2 = require('socket.io-client-v2');

// print writes one event line.
const print = (event) => process.stdout.write(JSON.stringify(event) + '\n');

// readCommands hands each command line to handle, parsed, and exits when
// stdin closes (the test is over).
function readCommands(handle) {
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (line) => handle(JSON.parse(line)));
  rl.on('close', () => process.exit(0));
}

// connectClient opens a socket.io-client (v2 when spec.version is "v2")
// from a spec {url, path, namespace, transports, query, auth, headers}
// that does not reconnect: a test sees every disconnect as it happened.
function connectClient(spec) {
  const io = spec.version === 'v2' ? ioV2 : ioV4;
  const options = {
    path: spec.path || '/socket.io/',
    transports: spec.transports || ['polling', 'websocket'],
    query: spec.query || {},
    reconnection: false,
    forceNew: true,
  };
  if (spec.auth) options.auth = spec.auth;
  if (spec.headers) options.extraHeaders = spec.headers;
  return io(spec.url + (spec.namespace || '/'), options);
}

// onEveryEvent calls fn(event, ...args) for each event the server sends
// socket: v4's onAny. socket.io-client 2.x has no onAny, so there its packet
// handler is wrapped instead, and the socket's own listeners still run.
// recovery_browser.js runs its source in a page too, so it uses nothing
// but its arguments.
function onEveryEvent(socket, fn) {
  if (socket.onAny) {
    socket.onAny(fn);
    return;
  }
  const onevent = socket.onevent;
  socket.onevent = function (packet) {
    fn(...(packet.data || []));
    return onevent.call(this, packet);
  };
}

module.exports = { print, readCommands, connectClient, onEveryEvent };
