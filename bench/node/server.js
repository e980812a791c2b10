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
// With REDIS_STREAMS_URL set instead (redis://127.0.0.1:6379), the adapter
// is @socket.io/redis-streams-adapter 0.3.1 with its defaults (stream
// socket.io, MAXLEN ~ 10000), as the Caddy module's `adapter redis_streams`;
// with RECOVERY=1 the stored events are then the stream's entries, and the
// sessions Redis keys (the recovery-streams phases of bench/compare.sh).
//
// With HOOK_URL set (http://127.0.0.1:8000/socketio), it does in its own
// handlers what the Caddy module's `hooks` block does, for the hooks phase
// of bench/compare.sh: the events named in HOOK_EVENTS (space-separated)
// are POSTed to HOOK_URL/event with the body of the README's contract
// (signed with HOOK_SECRET, as Socketio-Signature), and the backend's
// `ack` answers the client; with HOOK_CONNECT=1, a middleware asks
// HOOK_URL/connect before each socket joins (refusing it with
// {"retryable": true} when the call fails). The calls go over one
// keep-alive agent holding at most HOOK_MAX_CONCURRENT (64) requests in
// flight, Node's counterpart of `max_concurrent`; past it, requests wait in
// the agent's queue. HOOK_TIMEOUT (5000 ms) bounds each call.
//
// With RECOVERY=1, connection state recovery is on, as the Caddy module's
// `connection_state_recovery` with its defaults: connectionStateRecovery
// with maxDisconnectionDuration 2 minutes (Node's default, and ours); every
// relayed event is then stored, with its offset appended, by the in-memory
// adapter (the recovery phase of bench/compare.sh).
//
// Environment: PORT (0 picks a free port), HOST (127.0.0.1), NAMESPACE (/),
// PING_INTERVAL and PING_TIMEOUT in milliseconds (Node's defaults when unset),
// REDIS_URL (none: a single node), REDIS_STREAMS_URL, RECOVERY, the HOOK_ variables above. Prints one JSON
// line {"port":N} once listening (and connected to Redis); exits on
// SIGTERM/SIGINT.
"use strict";

const crypto = require("crypto");
const http = require("http");
const { Server } = require("socket.io");

const host = process.env.HOST || "127.0.0.1";
const port = Number(process.env.PORT || 0);
const namespace = process.env.NAMESPACE || "/";

const options = { allowEIO3: true, serveClient: false };
if (process.env.PING_INTERVAL) options.pingInterval = Number(process.env.PING_INTERVAL);
if (process.env.PING_TIMEOUT) options.pingTimeout = Number(process.env.PING_TIMEOUT);
if (process.env.RECOVERY === "1") options.connectionStateRecovery = { maxDisconnectionDuration: 2 * 60 * 1000 };

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

// redisStreamsAdapter connects the one client the streams adapter needs
// (it duplicates it for its reads), and fails the start when Redis cannot
// be reached.
async function redisStreamsAdapter(url) {
  const { createAdapter } = require("@socket.io/redis-streams-adapter");
  const { createClient } = require("redis");
  const client = createClient({ url });
  await client.connect();
  client.on("error", (err) => console.error("redis:", err.message));
  return createAdapter(client);
}

async function main() {
  if (process.env.REDIS_URL) {
    options.adapter = await redisAdapter(process.env.REDIS_URL);
  } else if (process.env.REDIS_STREAMS_URL) {
    options.adapter = await redisStreamsAdapter(process.env.REDIS_STREAMS_URL);
  }
  const httpServer = http.createServer();
  const io = new Server(httpServer, options);
  const nsp = io.of(namespace);
  if (process.env.HOOK_URL) {
    hooks(nsp, process.env.HOOK_URL);
  }
  relay(nsp);

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
      if (hooked.has(event)) {
        return; // answered by the event hook (hooks below)
      }
      const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
      const rooms = [...socket.rooms].filter((r) => r !== socket.id);
      const target = rooms.length > 0 ? socket.to(rooms) : socket.broadcast;
      target.emit(event, ...args);
      if (ack) ack();
    });
  });
}

// The events the hooks send to the backend; none without HOOK_URL.
const hooked = new Set();

// hooks gives the namespace what `hooks { connect; events ...; max_concurrent
// N; secret S; reverse_proxy ... }` gives a Caddy namespace, written as a
// Node application would: a middleware and an event handler, each calling
// the backend over HTTP with the same JSON body and signature.
function hooks(nsp, base) {
  const url = new URL(base);
  const secret = process.env.HOOK_SECRET || "";
  const timeout = Number(process.env.HOOK_TIMEOUT || 5000);
  const agent = new http.Agent({ keepAlive: true, maxSockets: Number(process.env.HOOK_MAX_CONCURRENT || 64) });
  const idPrefix = crypto.randomBytes(8).toString("hex");
  let seq = 0;
  for (const e of (process.env.HOOK_EVENTS || "").split(/\s+/)) {
    if (e) hooked.add(e);
  }

  // call POSTs body to base + path and resolves to the answer's JSON.
  const call = (path, body) =>
    new Promise((resolve, reject) => {
      const bytes = Buffer.from(JSON.stringify(body));
      const headers = { "Content-Type": "application/json", "Content-Length": bytes.length };
      if (secret) {
        const t = Math.floor(Date.now() / 1000);
        const mac = crypto.createHmac("sha256", secret).update(`${t}.`).update(bytes).digest("hex");
        headers["Socketio-Signature"] = `t=${t},v1=${mac}`;
      }
      const req = http.request(
        { host: url.hostname, port: url.port, path: url.pathname + path, method: "POST", headers, agent, timeout },
        (res) => {
          const chunks = [];
          res.on("data", (c) => chunks.push(c));
          res.on("end", () => {
            if (res.statusCode < 200 || res.statusCode > 299) {
              return reject(Object.assign(new Error(`the backend answered ${res.statusCode}`), { code: "unavailable" }));
            }
            try {
              resolve(JSON.parse(Buffer.concat(chunks).toString()));
            } catch (err) {
              reject(Object.assign(err, { code: "bad_answer" }));
            }
          });
        },
      );
      req.on("timeout", () => req.destroy(Object.assign(new Error("the backend did not answer in time"), { code: "timeout" })));
      req.on("error", (err) => reject(Object.assign(err, { code: err.code === "timeout" ? "timeout" : "unavailable" })));
      req.end(bytes);
    });

  // describe is the envelope of the README's contract for a socket.
  const describe = (socket, type) => {
    const hs = socket.handshake;
    return {
      id: `${idPrefix}-${++seq}`,
      type,
      time: Date.now(),
      namespace: nsp.name,
      socket: {
        id: socket.id,
        transport: socket.conn.transport.name,
        protocol: socket.conn.protocol === 3 ? 4 : 5,
        address: hs.address,
        rooms: [...socket.rooms],
        data: socket.data && Object.keys(socket.data).length ? socket.data : null,
        meta: socket.meta || null,
        recovered: socket.recovered,
      },
      handshake: { url: hs.url, query: hs.query, headers: {}, auth: hs.auth, secure: hs.secure, time: hs.time, issued: hs.issued },
    };
  };

  if (process.env.HOOK_CONNECT === "1") {
    nsp.use((socket, next) => {
      call("/connect", describe(socket, "connect")).then(
        (answer) => {
          if (!answer.accept) {
            return next(Object.assign(new Error(answer.message || "refused"), { data: answer.data }));
          }
          if (answer.data !== undefined) socket.data = answer.data;
          socket.meta = answer.meta;
          for (const room of answer.rooms || []) socket.join(room);
          next();
        },
        (err) => next(Object.assign(new Error(err.message), { data: { retryable: true, code: err.code } })),
      );
    });
  }

  nsp.on("connection", (socket) => {
    socket.onAny((event, ...args) => {
      if (!hooked.has(event)) return;
      const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
      const body = { ...describe(socket, "event"), event, args, ack: ack !== null };
      call("/event", body).then(
        (answer) => ack && ack(...(answer.ack || [])),
        (err) => ack && ack({ error: { code: err.code, message: err.message } }),
      );
    });
  });
}

main().catch((err) => {
  console.error("bench/node/server.js:", err.message || err);
  process.exit(1);
});
