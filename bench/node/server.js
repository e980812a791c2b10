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
// Environment: PORT (0 picks a free port), HOST (127.0.0.1), NAMESPACE (/),
// PING_INTERVAL and PING_TIMEOUT in milliseconds (Node's defaults when unset).
// Prints one JSON line {"port":N} once listening; exits on SIGTERM/SIGINT.
"use strict";

const http = require("http");
const { Server } = require("socket.io");

const host = process.env.HOST || "127.0.0.1";
const port = Number(process.env.PORT || 0);
const namespace = process.env.NAMESPACE || "/";

const options = { allowEIO3: true, serveClient: false };
if (process.env.PING_INTERVAL) options.pingInterval = Number(process.env.PING_INTERVAL);
if (process.env.PING_TIMEOUT) options.pingTimeout = Number(process.env.PING_TIMEOUT);

const httpServer = http.createServer();
const io = new Server(httpServer, options);

io.of(namespace).on("connection", (socket) => {
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
