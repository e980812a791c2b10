// The Node reference for bench/compare.sh: socket.io 4.8.4 (engine.io 6.6)
// from the repository's node_modules, pinned by the root package-lock.json,
// with the semantics of the Caddy module's relay namespace:
//
//   namespace <NAMESPACE> { relay; join {query.room} }
//
// A socket joins the room named by its handshake's `room` query parameter.
// Every event it emits is relayed to the rooms it is in (its own id
// excluded), or to the whole namespace, sender excluded, when it is in none;
// an event with an ack gets an empty ack.
//
// With REDIS_URL set (redis://127.0.0.1:6379), it is one node of a cluster:
// @socket.io/redis-adapter 8.3.0 on redis (node-redis) 4.7.0, so a relay
// also reaches the other nodes' sockets, as the Caddy module's
// `adapter redis { address ... }` does.
//
// Environment: PORT (0 picks a free port), HOST (127.0.0.1), NAMESPACE (/),
// PING_INTERVAL and PING_TIMEOUT in milliseconds (Node's defaults when unset),
// REDIS_URL (none: a single node). Prints one JSON line {"port":N} once
// listening (and connected to Redis); exits on SIGTERM/SIGINT.
"use strict";

const http = require("http");
const { Server } = require("socket.io");

const host = process.env.HOST || "127.0.0.1";
const port = Number(process.env.PORT || 0);
const namespace = process.env.NAMESPACE || "/";

const options = { allowEIO3: true, serveClient: false };
if (process.env.PING_INTERVAL) options.pingInterval = Number(process.env.PING_INTERVAL);
if (process.env.PING_TIMEOUT) options.pingTimeout = Number(process.env.PING_TIMEOUT);

// redisAdapter connects the publishing and the subscribing clients the
// adapter needs, and fails the start when Redis cannot be reached.
async function redisAdapter(url) {
  const { createAdapter } = require("@socket.io/redis-adapter");
  const { createClient } = require("redis");
  const pub = createClient({ url });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  // Once connected, an error is an outage: node-redis reconnects by itself.
  pub.on("error", (err) => console.error("redis:", err.message));
  sub.on("error", (err) => console.error("redis:", err.message));
  return createAdapter(pub, sub);
}

async function main() {
  if (process.env.REDIS_URL) {
    options.adapter = await redisAdapter(process.env.REDIS_URL);
  }
  const httpServer = http.createServer();
  const io = new Server(httpServer, options);
  relay(io.of(namespace));

  // A deep accept backlog, so a ramp of thousands of connections is queued
  // rather than refused while the single-threaded server is busy.
  httpServer.listen({ port, host, backlog: 4096 }, () => {
    process.stdout.write(JSON.stringify({ port: httpServer.address().port }) + "\n");
  });

  const stop = () => {
    io.close();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

// relay gives the namespace the Caddy module's relay semantics.
function relay(nsp) {
  nsp.on("connection", (socket) => {
    const room = socket.handshake.query.room;
    if (typeof room === "string" && room !== "") {
      socket.join(room);
    }
    socket.onAny((event, ...args) => {
      const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
      const rooms = [...socket.rooms].filter((r) => r !== socket.id);
      const target = rooms.length > 0 ? socket.to(rooms) : socket.broadcast;
      target.emit(event, ...args);
      if (ack) ack();
    });
  });
}

main().catch((err) => {
  console.error("bench/node/server.js:", err.message || err);
  process.exit(1);
});
