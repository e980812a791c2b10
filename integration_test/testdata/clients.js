// A host for real Socket.IO clients that a Go test drives line by line.
// It connects the clients described in CLIENTS, then reads one JSON command
// per line on stdin and prints one JSON event per line on stdout:
//
//   CLIENTS = [{name, version: "v4"|"v2", url, path, namespace, transports, query}]
//   events:   {type:"connected", name, id, transport}   (once per client)
//             {type:"connect_error", name, error, description}
//             {type:"error", name, error}                (v2: a refused namespace)
//             {type:"upgrade", name, transport}
//             {type:"disconnect", name, reason}
//             {type:"received", name, event, args}
//             {type:"status", clients: [{name, connected, id, transport}]}
//             {type:"ack", name, reply}   /  {type:"emitted", name}
//   commands: {cmd:"emit", name, event, args, ack}   ack: wait for the server's ack
//             {cmd:"status"}
//             {cmd:"close"}   close every client and exit
'use strict';

const { print, readCommands, connectClient, onEveryEvent } = require('./lines');

const specs = JSON.parse(process.env.CLIENTS);
const sockets = new Map();

for (const spec of specs) {
  const socket = connectClient(spec);
  sockets.set(spec.name, socket);
  const name = spec.name;
  socket.on('connect', () => {
    const engine = socket.io.engine;
    print({ type: 'connected', name, id: socket.id, transport: engine.transport.name });
    engine.on('upgrade', (t) => print({ type: 'upgrade', name, transport: t.name }));
  });
  socket.on('connect_error', (err) => print({
    type: 'connect_error', name, error: String((err && err.message) || err),
    description: err && err.description !== undefined ? String(err.description) : undefined,
  }));
  socket.on('disconnect', (reason) => print({ type: 'disconnect', name, reason }));
  // socket.io-client 2.x reports a refused namespace as an 'error' event.
  if (spec.version === 'v2') socket.on('error', (err) => print({ type: 'error', name, error: String((err && err.message) || err) }));
  onEveryEvent(socket, (event, ...args) => print({ type: 'received', name, event, args }));
}

readCommands((c) => {
  switch (c.cmd) {
    case 'emit': {
      const socket = sockets.get(c.name);
      if (c.ack) {
        socket.emit(c.event, ...(c.args || []), (...reply) => print({ type: 'ack', name: c.name, reply }));
      } else {
        socket.emit(c.event, ...(c.args || []));
        print({ type: 'emitted', name: c.name });
      }
      break;
    }
    case 'status':
      print({
        type: 'status',
        clients: [...sockets].map(([name, s]) => ({
          name, connected: s.connected, id: s.id, transport: s.io.engine && s.io.engine.transport && s.io.engine.transport.name,
        })),
      });
      break;
    case 'close':
      for (const s of sockets.values()) s.close();
      process.exit(0);
  }
});
