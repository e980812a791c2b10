// Socket.IO clients for the HTTP API tests (api_test.go): clients.js's
// CLIENTS and events ({type:"connected"|"disconnect"|"received", ...}),
// and clients that answer the server's acknowledgements:
//   "ask"     with {name, got: <first argument>}
//   "ask-bin" with a Buffer [1, 2, 3]
// except those whose name starts with "mute", which never answer.
// Buffers print as {"type":"Buffer","data":[...]}.
'use strict';

const { print, connectClient } = require('./lines');

for (const spec of JSON.parse(process.env.CLIENTS)) {
  const name = spec.name;
  const socket = connectClient(spec);
  socket.on('connect', () => print({ type: 'connected', name, id: socket.id, transport: socket.io.engine.transport.name }));
  socket.on('disconnect', (reason) => print({ type: 'disconnect', name, reason }));
  const onAny = (event, ...args) => {
    const cb = typeof args[args.length - 1] === 'function' ? args.pop() : null;
    print({ type: 'received', name, event, args });
    if (!cb || name.startsWith('mute')) return;
    if (event === 'ask') cb({ name, got: args[0] });
    else if (event === 'ask-bin') cb(Buffer.from([1, 2, 3]));
    else cb();
  };
  if (socket.onAny) {
    socket.onAny(onAny);
  } else {
    // socket.io-client 2.x has no onAny: take over its packet handler.
    socket.onevent = function (packet) {
      const args = packet.data || [];
      if (packet.id != null) args.push(this.ack(packet.id));
      onAny(...args);
    };
  }
}
setInterval(() => {}, 1 << 30); // until the test kills it
