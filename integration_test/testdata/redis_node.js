// A Node socket.io 4.8 server with @socket.io/redis-adapter 8.3: the other
// kind of node in redis_test.go's cluster. It mirrors the Caddyfile of the
// Caddy node: namespace /chat, each socket joins room-<query.room>, and the
// event "message" is relayed to the other sockets of the sender's rooms (the
// whole namespace when it joined none), as the handler's `relay` does.
//
// Env: REDIS_URL. Prints {"port": N} once it listens on 127.0.0.1 and its
// subscriptions are made; runs until killed.
"use strict";
const http = require("http");
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { createClient } = require("redis");

async function main() {
  const pub = createClient({ url: process.env.REDIS_URL, socket: { reconnectStrategy: (n) => Math.min(n * 50, 500) } });
  const sub = pub.duplicate();
  // Outages are part of the tests: node-redis reconnects and subscribes again.
  pub.on("error", () => {});
  sub.on("error", () => {});
  await Promise.all([pub.connect(), sub.connect()]);
  const server = http.createServer();
  const io = new Server(server, { allowEIO3: true, adapter: createAdapter(pub, sub) });
  io.of("/chat").on("connection", (socket) => {
    const room = socket.handshake.query.room;
    if (room) socket.join("room-" + room);
    socket.on("message", (...args) => {
      const rooms = [...socket.rooms].filter((r) => r !== socket.id);
      (rooms.length ? socket.to(rooms) : socket.broadcast).emit("message", ...args);
    });
  });
  server.listen(0, "127.0.0.1", () => {
    console.log(JSON.stringify({ port: server.address().port }));
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
