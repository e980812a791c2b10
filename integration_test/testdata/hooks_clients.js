// Real Socket.IO clients for the hooks tests, driven line by line as
// clients.js is, with what hooks need on top: the v4 `auth` option, the
// `data` of a connect_error, binary arguments both ways, and closing one
// client. Binary values travel in the JSON lines as {"$bin": "<base64>"}.
//
//   CLIENTS = [{name, version: "v4"|"v2", url, path, namespace, transports, query, auth, headers}]
//   events:   {type:"connected", name, id, transport}
//             {type:"connect_error", name, error, data}     (v4; v2 prints type "error" with the same fields)
//             {type:"disconnect", name, reason}
//             {type:"received", name, event, args}
//             {type:"ack", name, reply}  /  {type:"emitted", name}
//   commands: {cmd:"emit", name, event, args, ack}
//             {cmd:"disconnect", name}   close one client
//             {cmd:"close"}              close every client and exit
'use strict';

const { print, readCommands, connectClient, onEveryEvent } = require('./lines');

const specs = JSON.parse(process.env.CLIENTS);
const sockets = new Map();

// toWire turns {"$bin": ...} into Buffers, fromWire the other way.
const toWire = (v) => {
  if (Array.isArray(v)) return v.map(toWire);
  if (v && typeof v === 'object') {
    if (typeof v.$bin === 'string' && Object.keys(v).length === 1) return Buffer.from(v.$bin, 'base64');
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toWire(x)]));
  }
  return v;
};
const fromWire = (v) => {
  if (Buffer.isBuffer(v)) return { $bin: v.toString('base64') };
  if (v instanceof ArrayBuffer) return { $bin: Buffer.from(v).toString('base64') };
  if (Array.isArray(v)) return v.map(fromWire);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fromWire(x)]));
  return v;
};

for (const spec of specs) {
  const socket = connectClient(spec);
  sockets.set(spec.name, socket);
  const name = spec.name;
  socket.on('connect', () => {
    print({ type: 'connected', name, id: socket.id, transport: socket.io.engine.transport.name });
  });
  socket.on('connect_error', (err) => print({
    type: 'connect_error', name, error: String((err && err.message) || err), data: err && err.data,
  }));
  socket.on('disconnect', (reason) => print({ type: 'disconnect', name, reason }));
  // socket.io-client 2.x reports a refused namespace as an 'error' event
  // carrying what the server sent.
  if (spec.version === 'v2') {
    socket.on('error', (err) => print({
      type: 'error', name, error: String((err && err.message) || err), data: err,
    }));
  }
  onEveryEvent(socket, (event, ...args) => print({ type: 'received', name, event, args: fromWire(args) }));
}

readCommands((c) => {
  const socket = sockets.get(c.name);
  switch (c.cmd) {
    case 'emit':
      if (c.ack) {
        socket.emit(c.event, ...toWire(c.args || []), (...reply) => print({ type: 'ack', name: c.name, reply: fromWire(reply) }));
      } else {
        socket.emit(c.event, ...toWire(c.args || []));
        print({ type: 'emitted', name: c.name });
      }
      break;
    case 'disconnect':
      socket.close();
      break;
    case 'close':
      for (const s of sockets.values()) s.close();
      setTimeout(() => process.exit(0), 100);
  }
});
