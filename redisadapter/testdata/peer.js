// A line-driven Node peer for the cluster tests of cluster_test.go: a
// socket.io 4.8 server with @socket.io/redis-adapter 8.3, clients of
// socket.io-client 4.x and 2.x connected to any server, and
// @socket.io/redis-emitter. Each stdin line is a JSON command
// {id, cmd, ...}; each answer is a stdout line {id, result} or {id, error}.
// Binary travels as {"$bin": "<hex>"} in both directions.
"use strict";
const readline = require("readline");
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { Emitter } = require("@socket.io/redis-emitter");
const { createClient } = require("redis");
const ioV4 = require("socket.io-client");
const ioV2 = require("socket.io-client-v2");

const toWire = (v) => {
  if (Buffer.isBuffer(v) || v instanceof ArrayBuffer || ArrayBuffer.isView(v)) {
    return { $bin: Buffer.from(v instanceof ArrayBuffer ? new Uint8Array(v) : v).toString("hex") };
  }
  if (Array.isArray(v)) return v.map(toWire);
  if (v && typeof v === "object") {
    const o = {};
    for (const k of Object.keys(v)) o[k] = toWire(v[k]);
    return o;
  }
  return v === undefined ? null : v;
};
const fromWire = (v) => {
  if (Array.isArray(v)) return v.map(fromWire);
  if (v && typeof v === "object") {
    if (typeof v.$bin === "string") return Buffer.from(v.$bin, "hex");
    const o = {};
    for (const k of Object.keys(v)) o[k] = fromWire(v[k]);
    return o;
  }
  return v;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let io = null; // the Node server
let pub = null;
let sub = null;
let emitterClient = null;
const clients = new Map(); // name -> { socket, events }
const serverSide = []; // server-side emits the Node server received

function redisClient(url) {
  const c = createClient({ url, socket: { reconnectStrategy: (n) => Math.min(n * 50, 500) } });
  c.on("error", () => {}); // outages are part of the tests
  return c;
}

const commands = {
  async startServer({ redisURL, nsps, requestsTimeout }) {
    pub = redisClient(redisURL);
    sub = pub.duplicate();
    sub.on("error", () => {});
    await Promise.all([pub.connect(), sub.connect()]);
    io = new Server({ allowEIO3: true, adapter: createAdapter(pub, sub, { requestsTimeout: requestsTimeout || 3000 }) });
    for (const name of nsps) {
      const nsp = io.of(name);
      nsp.on("connection", (socket) => {
        socket.on("join", (rooms, cb) => {
          socket.join(rooms);
          cb && cb();
        });
        socket.data = { node: "node", nsp: name };
      });
      nsp.on("question", (n, cb) => cb({ from: "node", n }));
      nsp.on("hello", (...args) => serverSide.push({ nsp: name, event: "hello", args: toWire(args) }));
    }
    const httpServer = require("http").createServer();
    io.attach(httpServer);
    await new Promise((r) => httpServer.listen(0, "127.0.0.1", r));
    return { port: httpServer.address().port };
  },

  async connect({ name, url, version, nsp, transports }) {
    const opts = { forceNew: true, reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 500, transports };
    const socket = version === 2 ? ioV2(url + nsp, opts) : ioV4(url + nsp, opts);
    const entry = { socket, events: [] };
    clients.set(name, entry);
    const record = (event, args) => {
      let cb = null;
      if (typeof args[args.length - 1] === "function") cb = args.pop();
      entry.events.push({ event, args: toWire(args) });
      if (cb) cb({ client: name, got: toWire(args) });
    };
    if (version === 2) {
      // socket.io-client 2.x has no onAny.
      socket.onevent = function (packet) {
        const args = (packet.data || []).slice();
        if (packet.id != null) args.push(this.ack(packet.id));
        record(args[0], args.slice(1));
      };
    } else {
      socket.onAny((event, ...args) => record(event, args));
    }
    await new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", reject);
    });
    return { id: socket.id };
  },

  async join({ name, rooms }) {
    const { socket } = clients.get(name);
    await new Promise((r) => socket.emit("join", rooms, r));
    return {};
  },

  async emitFromClient({ name, event, args }) {
    clients.get(name).socket.emit(event, ...fromWire(args));
    return {};
  },

  // Waits until the client has count events (or timeout), then quiet ms
  // more, and returns and forgets them.
  async take({ name, count, quiet, timeout }) {
    const entry = clients.get(name);
    const end = Date.now() + (timeout || 5000);
    while (entry.events.length < (count || 0) && Date.now() < end) await sleep(10);
    await sleep(quiet || 0);
    const events = entry.events;
    entry.events = [];
    return { events };
  },

  // take for several clients at once: waits until each has its count,
  // then quiet ms once.
  async takeAll({ counts, quiet, timeout }) {
    const end = Date.now() + (timeout || 5000);
    const names = Object.keys(counts);
    while (names.some((n) => clients.get(n).events.length < counts[n]) && Date.now() < end) await sleep(10);
    await sleep(quiet || 0);
    const events = {};
    for (const n of names) {
      events[n] = clients.get(n).events;
      clients.get(n).events = [];
    }
    return { events };
  },

  async connected({ name }) {
    const { socket } = clients.get(name);
    return { connected: socket.connected };
  },

  async waitConnected({ name, timeout }) {
    const { socket } = clients.get(name);
    const end = Date.now() + (timeout || 10000);
    while (!socket.connected && Date.now() < end) await sleep(20);
    return { connected: socket.connected };
  },

  async close({ name }) {
    clients.get(name).socket.close();
    clients.delete(name);
    return {};
  },

  async nodeEmit({ nsp, to, except, event, args }) {
    io.of(nsp).to(to || []).except(except || []).emit(event, ...fromWire(args || []));
    return {};
  },

  async nodeEmitWithAck({ nsp, to, event, args, timeout }) {
    const responses = await io.of(nsp).to(to || []).timeout(timeout || 3000).emitWithAck(event, ...fromWire(args || []));
    return { responses: toWire(responses) };
  },

  async nodeSocketsJoin({ nsp, in: rooms, except, join }) {
    io.of(nsp).in(rooms || []).except(except || []).socketsJoin(join);
    return {};
  },

  async nodeSocketsLeave({ nsp, in: rooms, leave }) {
    io.of(nsp).in(rooms || []).socketsLeave(leave);
    return {};
  },

  async nodeDisconnectSockets({ nsp, in: rooms, close }) {
    io.of(nsp).in(rooms || []).disconnectSockets(close);
    return {};
  },

  async nodeFetchSockets({ nsp, in: rooms }) {
    const sockets = await io.of(nsp).in(rooms || []).fetchSockets();
    return {
      sockets: sockets
        .map((s) => ({ id: s.id, rooms: [...s.rooms].sort(), data: s.data, url: s.handshake.url, address: s.handshake.address,
          query: s.handshake.query, auth: s.handshake.auth }))
        .sort((a, b) => (a.id < b.id ? -1 : 1)),
    };
  },

  async nodeServerSideEmit({ nsp, event, args, ack }) {
    if (!ack) {
      io.of(nsp).serverSideEmit(event, ...(args || []));
      return {};
    }
    const responses = await io.of(nsp).serverSideEmitWithAck(event, ...(args || []));
    return { responses };
  },

  async nodeServerCount({ nsp }) {
    return { count: await io.of(nsp).adapter.serverCount() };
  },

  async nodeAllRooms({ nsp }) {
    return { rooms: [...(await io.of(nsp).adapter.allRooms())].sort() };
  },

  async takeServerSide() {
    const events = serverSide.splice(0);
    return { events };
  },

  async emitter({ redisURL, nsp, to, except, event, args, join, leave, disconnect }) {
    if (!emitterClient) {
      emitterClient = redisClient(redisURL);
      await emitterClient.connect();
    }
    let op = new Emitter(emitterClient).of(nsp);
    if (to && to.length) op = op.to(to);
    if (except && except.length) op = op.except(except);
    if (join) op.socketsJoin(join);
    else if (leave) op.socketsLeave(leave);
    else if (disconnect !== undefined) op.disconnectSockets(disconnect);
    else op.emit(event, ...fromWire(args || []));
    return {};
  },

  async quit() {
    for (const { socket } of clients.values()) socket.close();
    // Exiting closes the Redis connections; disconnecting them first would
    // reject the adapter's pending commands.
    setTimeout(() => process.exit(0), 50);
    return {};
  },
};

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", async (line) => {
  const msg = JSON.parse(line);
  try {
    const result = await commands[msg.cmd](msg);
    process.stdout.write(JSON.stringify({ id: msg.id, result }) + "\n");
  } catch (e) {
    process.stdout.write(JSON.stringify({ id: msg.id, error: String((e && e.stack) || e) }) + "\n");
  }
});
rl.on("close", () => process.exit(0));
