// Prints, as JSON lines, the exact messages the real Node libraries publish:
// @socket.io/redis-adapter 8.3 inside a socket.io 4.8 server, and
// @socket.io/redis-emitter 5.1, both given a fake Redis client that records
// PUBLISH instead of sending it. Plus a few values encoded by notepack.io
// directly, for the kinds the libraries never produce by themselves (Dates).
// The Go codec tests decode these bytes and encode them back.
"use strict";
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { Emitter } = require("@socket.io/redis-emitter");
const msgpack = require("notepack.io");

const out = [];
function record(name) {
  return (channel, message) => {
    const buf = Buffer.isBuffer(message) ? message : Buffer.from(message);
    out.push({ name, channel, hex: buf.toString("hex") });
    return Promise.resolve(1);
  };
}

// A redis@4-shaped client: the adapter checks for pSubscribe and sSubscribe.
function fakeClient(name, numsub) {
  return {
    name,
    pSubscribe() {},
    subscribe() {},
    pUnsubscribe() {},
    unsubscribe() {},
    sSubscribe() {},
    on() {},
    off() {},
    publish: record(name),
    sendCommand: (args) => Promise.resolve([args[2], numsub]),
  };
}

async function main() {
  let current = "";
  const pub = fakeClient("adapter", 2);
  pub.publish = (channel, message) => record(current)(channel, message);
  const io = new Server({ adapter: createAdapter(pub, fakeClient("sub", 2), { requestsTimeout: 50 }) });
  const adapter = io.of("/").adapter;
  const chat = io.of("/chat");
  out.push({ name: "uid", channel: "", hex: Buffer.from(adapter.uid).toString("hex") });

  current = "broadcast-room";
  io.to("room1").emit("chat", "hi", 1, 1.5, -3, 300, 70000, 2 ** 40, -(2 ** 40), true, null, { a: 1, b: [1, 2] });

  current = "broadcast-binary";
  chat.except(["e1", "e2"]).compress(true).volatile.emit("bin", Buffer.from([1, 2, 3]),
    { nested: { buf: Buffer.alloc(300, 7) }, list: [Buffer.from("x"), "after"] });

  current = "broadcast-strings";
  io.to(["r1", "r2"]).emit("str", "héllo 😀", "x".repeat(40), "y".repeat(300), "\n\t\u0001\"\\", { "key with space": "v", "": 0 });

  current = "broadcast-floats";
  io.emit("num", 0.1, -2.5, 1e-7, 123456789.125, 2 ** 53, -0, 2 ** 60, 1.5e-300, 2 ** 63);

  current = "broadcast-ack";
  io.timeout(50).emit("ask", "q", Buffer.from([9]), () => {});

  current = "all-rooms";
  await io.of("/").adapter.allRooms().catch(() => {});
  current = "fetch-sockets";
  await io.in("room1").except("room2").fetchSockets().catch(() => {});
  current = "sockets-join";
  io.in("room1").socketsJoin(["a", "b"]);
  current = "sockets-leave";
  io.except("room2").socketsLeave("a");
  current = "disconnect-sockets";
  io.in("room1").disconnectSockets(true);
  current = "server-side-emit";
  io.serverSideEmit("hello", "world", 1, { a: [true] });
  current = "server-side-emit-ack";
  io.serverSideEmit("question", 42, () => {});
  await new Promise((r) => setTimeout(r, 100));

  // The answers a Node node publishes, produced by feeding it requests.
  const sock = { id: "AAAAAAAAAAAAAAAAAAAA", handshake: { headers: {}, time: "t", address: "127.0.0.1", xdomain: false,
    secure: false, issued: 1, url: "/socket.io/", query: {}, auth: {} }, rooms: new Set(["AAAAAAAAAAAAAAAAAAAA", "room1"]),
    data: { user: "ann" }, join() {}, leave() {}, disconnect() {} };
  io.of("/").sockets.set(sock.id, sock);
  adapter.addAll(sock.id, sock.rooms);
  current = "answer-fetch";
  await adapter.onrequest(adapter.requestChannel, Buffer.from(JSON.stringify(
    { uid: "other", requestId: "req1", type: 5, opts: { rooms: ["room1"], except: [] } })));
  current = "answer-all-rooms";
  await adapter.onrequest(adapter.requestChannel, Buffer.from(JSON.stringify({ uid: "other", requestId: "req2", type: 1 })));
  current = "answer-sockets";
  await adapter.onrequest(adapter.requestChannel, Buffer.from(JSON.stringify({ uid: "other", requestId: "req3", type: 0, rooms: ["room1"] })));
  current = "answer-broadcast-ack";
  sock.client = { writeToEngine() {} };
  sock.acks = new Map();
  await adapter.onrequest(adapter.requestChannel, msgpack.encode(
    { uid: "other", requestId: "req4", type: 7, packet: { type: 2, data: ["ask"], nsp: "/" }, opts: { rooms: [], except: [], flags: {} } }));
  for (const ack of sock.acks.values()) ack({ answer: Buffer.from([4, 2]) });
  io.of("/").on("question", (n, cb) => cb({ n }));
  current = "answer-server-side-emit";
  await adapter.onrequest(adapter.requestChannel, Buffer.from(JSON.stringify(
    { uid: "other", requestId: "req5", type: 6, data: ["question", 7] })));

  const emitter = new Emitter(fakeClient("emitter", 0));
  emitter.redisClient.publish = record("emitter-room-except");
  emitter.to("room1").except("room2").emit("ev", Buffer.from([0xff, 0]), { x: 1 });
  emitter.redisClient.publish = record("emitter-namespace");
  emitter.of("/chat").emit("ev2");
  emitter.redisClient.publish = record("emitter-join");
  emitter.in("room1").socketsJoin("room3");

  const dates = [new Date(1700000000000), new Date(1700000000123), new Date(-1500), new Date(2 ** 34 * 1000 + 5),
    new Date(Date.UTC(10000, 0, 1))];
  out.push({ name: "dates", channel: "", hex: msgpack.encode(
    ["emitter", { type: 2, data: ["dates", ...dates, undefined, { u: undefined, v: 1 }], nsp: "/" }, { rooms: [], except: [], flags: {} }]).toString("hex") });

  process.stdout.write(out.map((o) => JSON.stringify(o) + "\n").join(""), () => process.exit(0));
}

main().catch((e) => { console.error(e); process.exit(1); });
