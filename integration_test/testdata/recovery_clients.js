// Real Socket.IO clients in Node for the recovery tests (recovery_host.js
// says what they print and take), v4 and the legacy v2, driven line by line
// as clients.js is. CLIENTS: a JSON array of specs.
'use strict';

const ioV4 = require('socket.io-client');
const ioV2 = require('socket.io-client-v2');
const { print, readCommands } = require('./lines');
const { recoveryHost } = require('./recovery_host');

const hosts = new Map();
for (const spec of JSON.parse(process.env.CLIENTS)) {
  hosts.set(spec.name, recoveryHost(spec.version === 'v2' ? ioV2 : ioV4, spec, print));
}

readCommands((c) => {
  if (c.cmd === 'exit') process.exit(0);
  hosts.get(c.name)(c);
});
