// A Node socket.io 4.8 server with @socket.io/redis-streams-adapter 0.3.1
// and connection state recovery, in the cluster the Go tests start. It
// prints {"port"} once listening, then a JSON line per connection and
// disconnection. Server-side emits from the Go node drive the cluster
// operations that must start on this side: "fetch", "sse", "ask-clients";
// GET /emit broadcasts from this node.
const { createServer } = require("http");
const { Server } = require("socket.io");
const { createClient } = require("redis");
const { createAdapter } = require("@socket.io/redis-streams-adapter");

const print = (o) => process.stdout.write(JSON.stringify(o) + "\n");

(async () => {
  const redis = createClient({ url: process.env.REDIS_URL });
  redis.on("error", () => {});
  await redis.connect();
  const http = createServer();
  const io = new Server(http, {
    adapter: createAdapter(redis),
    connectionStateRecovery: { maxDisconnectionDuration: 60000, skipMiddlewares: true },
  });
  io.on("connection", (socket) => {
    if (!socket.recovered) {
      socket.join("room1");
      socket.data = { name: "ann" };
    }
    print({ connect: socket.id, recovered: socket.recovered, rooms: [...socket.rooms].sort(), data: socket.data });
    socket.on("disconnect", (reason) => print({ disconnect: socket.id, reason }));
  });
  io.on("fetch", async (cb) => {
    const sockets = await io.fetchSockets();
    cb(sockets.map((s) => ({ id: s.id, rooms: [...s.rooms].sort(), data: s.data })));
  });
  io.on("sse", async (arg, cb) => {
    if (typeof cb !== "function") return;
    try {
      cb(await io.serverSideEmitWithAck("to-go", arg));
    } catch (e) {
      cb({ error: e.message });
    }
  });
  io.on("ask-clients", async (cb) => {
    try {
      cb(await io.timeout(3000).emitWithAck("ask", "from-node"));
    } catch (e) {
      cb({ error: e.message });
    }
  });
  io.on("to-node", (arg, cb) => cb && cb("node got " + arg));
  // GET /emit?room=r&event=e&n=1 broadcasts e(n) to room r from here.
  http.on("request", (req, res) => {
    const u = new URL(req.url, "http://x");
    if (u.pathname !== "/emit") return;
    io.to(u.searchParams.get("room")).emit(u.searchParams.get("event"), Number(u.searchParams.get("n")));
    res.end("ok");
  });
  http.listen(0, "127.0.0.1", () => print({ port: http.address().port }));
})();
