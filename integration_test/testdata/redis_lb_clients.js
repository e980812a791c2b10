// Polling-only socket.io-client 4.x clients behind a load balancer, for
// redis_test.go. It speaks the line protocol of clients.js (the same events
// and the "emit" command), with two differences: every client keeps cookies
// (withCredentials: the load balancer's sticky cookie must come back on
// each poll), and its "connected" event carries the value of the cookie
// named LB_COOKIE, which tells which node it landed on.
//
// Env: URL (with the namespace), NAMES (comma-separated), ROOM, LB_COOKIE.
"use strict";
const readline = require("readline");
const { io } = require("socket.io-client");

const print = (event) => process.stdout.write(JSON.stringify(event) + "\n");
const sockets = new Map();

for (const name of process.env.NAMES.split(",")) {
  const socket = io(process.env.URL, {
    transports: ["polling"],
    withCredentials: true,
    query: { room: process.env.ROOM },
    reconnection: false,
    forceNew: true,
  });
  sockets.set(name, socket);
  socket.on("connect", () => {
    let cookie = "";
    const jar = socket.io.engine._cookieJar;
    for (const [key, c] of jar ? jar.cookies : []) {
      if (key === process.env.LB_COOKIE) cookie = c.value;
    }
    print({ type: "connected", name, id: socket.id, transport: socket.io.engine.transport.name, cookie });
  });
  socket.on("connect_error", (err) => print({ type: "connect_error", name, error: String((err && err.message) || err) }));
  socket.on("disconnect", (reason) => print({ type: "disconnect", name, reason }));
  socket.onAny((event, ...args) => print({ type: "received", name, event, args }));
}

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const c = JSON.parse(line);
  if (c.cmd === "emit") {
    sockets.get(c.name).emit(c.event, ...(c.args || []));
    print({ type: "emitted", name: c.name });
  } else if (c.cmd === "close") {
    sockets.forEach((s) => s.close());
    process.exit(0);
  }
});
