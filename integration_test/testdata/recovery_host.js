// The client side of the recovery tests, shared by recovery_clients.js
// (Node) and recovery_browser.js (the same function, run inside a Chromium
// page with the bundle's global io). It opens one socket.io-client from
// spec and reports through print, one event per call, in the line
// protocol of clients.js:
//
//   spec:     {name, version: "v4"|"v2", url, namespace, transports, query, auth, headers}
//   events:   {type:"connected", name, id, transport, recovered}   (every connect: recovered is socket.recovered)
//             {type:"connect_error", name, error, description}
//             {type:"disconnect", name, reason}
//             {type:"received", name, event, args}   binary values as {"$bytes": [..]}
//             {type:"ack", name, reply}  /  {type:"emitted", name}
//   commands: {cmd:"emit", name, event, args, ack}
//             {cmd:"header", name, header, value}  the header the next reconnection sends (Node only)
//
// Unlike clients.js the client reconnects, quickly (50 to 100 ms), as an
// application with connectionStateRecovery lets it: that is the point.
// Nothing is interpreted here, the offsets included: the Go test decides.
// In a page, lines.js's onEveryEvent must be defined beside it.
const { onEveryEvent } = require('./lines');

function recoveryHost(io, spec, print) {
  const name = spec.name;
  const options = {
    path: '/socket.io/',
    transports: spec.transports || ['websocket'],
    query: spec.query || {},
    forceNew: true,
    reconnectionDelay: 50,
    reconnectionDelayMax: 100,
    randomizationFactor: 0,
  };
  if (spec.auth) options.auth = spec.auth;
  if (spec.headers) options.extraHeaders = Object.assign({}, spec.headers);
  const socket = io(spec.url + (spec.namespace || '/'), options);
  const bytes = (v) => {
    if (typeof ArrayBuffer !== 'undefined' && v instanceof ArrayBuffer) return { $bytes: Array.from(new Uint8Array(v)) };
    if (v instanceof Uint8Array) return { $bytes: Array.from(v) };
    if (Array.isArray(v)) return v.map(bytes);
    if (v && typeof v === 'object') {
      const o = {};
      for (const k of Object.keys(v)) o[k] = bytes(v[k]);
      return o;
    }
    return v;
  };
  socket.on('connect', () => {
    print({ type: 'connected', name, id: socket.id, transport: socket.io.engine.transport.name, recovered: socket.recovered === true });
  });
  socket.on('connect_error', (err) => print({
    type: 'connect_error', name, error: String((err && err.message) || err),
    description: err && err.description !== undefined ? String(err.description) : undefined,
  }));
  socket.on('disconnect', (reason) => print({ type: 'disconnect', name, reason }));
  onEveryEvent(socket, (event, ...args) => print({ type: 'received', name, event, args: bytes(args) }));
  return (c) => {
    switch (c.cmd) {
      case 'emit':
        if (c.ack) {
          socket.emit(c.event, ...(c.args || []), (...reply) => print({ type: 'ack', name, reply: bytes(reply) }));
        } else {
          socket.emit(c.event, ...(c.args || []));
          print({ type: 'emitted', name });
        }
        break;
      case 'header':
        socket.io.opts.extraHeaders = Object.assign({}, socket.io.opts.extraHeaders, { [c.header]: c.value });
        break;
      case 'close':
        socket.close();
        break;
    }
  };
}

module.exports = { recoveryHost };
