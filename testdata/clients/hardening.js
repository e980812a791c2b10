// Drives socket.io-client 4.x against Caddy for hardening_test.go: what a
// hostile or unlucky client can and cannot do. Env: URL, SCENARIO. Prints
// one line per observation, "<name> <json>", and exits 0, or 1 with the
// error on stderr.
const { Manager } = require("socket.io-client");

const URL = process.env.URL;
const out = (name, value) => console.log(name + " " + JSON.stringify(value));
const once = (s, ev) => new Promise((resolve) => s.once(ev, (...args) => resolve(args)));
const withTimeout = (p, ms, what) =>
  Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error("timeout: " + what)), ms))]);
const connected = (s, what) =>
  withTimeout(
    new Promise((resolve, reject) => {
      if (s.connected) return resolve();
      s.once("connect", resolve);
      s.once("connect_error", (e) => reject(new Error(what + ": connect_error " + e.message)));
    }),
    5000,
    what
  );
// record keeps what a socket receives, the test's own signals aside.
const record = (s) => {
  const got = [];
  s.onAny((ev, ...args) => {
    if (ev !== "reloaded") got.push([ev, ...args]);
  });
  return got;
};
const manager = (opts = {}) => new Manager(URL, { reconnection: false, ...opts });

const scenarios = {
  // Two clients, each with a socket on /chat and on /gone (one connection
  // per client, so what one client sends reaches the other in order across
  // both namespaces). The test reloads between the phases: /chat relays
  // fewer events, /gone disappears, then /chat relays nothing.
  async "relay-reload"() {
    const ma = manager();
    const mb = manager();
    const a = ma.socket("/chat");
    const ag = ma.socket("/gone");
    const b = mb.socket("/chat");
    const bg = mb.socket("/gone");
    await Promise.all([a, ag, b, bg].map((s, i) => connected(s, "socket " + i)));
    const chat = record(b);
    const gone = record(bg);
    const take = () => ({ chat: chat.splice(0), gone: gone.splice(0) });

    let last = once(b, "other");
    a.emit("message", "m1");
    ag.emit("x", "x1");
    a.emit("other", "o1");
    await withTimeout(last, 5000, "o1");
    let reloaded = once(a, "reloaded");
    out("before", take());

    await withTimeout(reloaded, 20000, "first reload");
    last = once(b, "other");
    a.emit("message", "m2");
    ag.emit("x", "x2");
    a.emit("other", "o2");
    await withTimeout(last, 5000, "o2");
    reloaded = once(a, "reloaded");
    out("narrowed", take());

    await withTimeout(reloaded, 20000, "second reload");
    const as = ma.socket("/signal");
    const bs = mb.socket("/signal");
    await Promise.all([connected(as, "a /signal"), connected(bs, "b /signal")]);
    last = once(bs, "done");
    a.emit("message", "m3");
    a.emit("other", "o3");
    ag.emit("x", "x3");
    as.emit("done");
    await withTimeout(last, 5000, "done");
    out("removed", take());
    [a, ag, b, bg, as, bs].forEach((s) => s.close());
  },

  // b asks to join the room named after a's socket id (join {query.room}):
  // what the server sends to a must not reach b.
  async "socket-id-room"() {
    const a = manager().socket("/chat");
    await connected(a, "a");
    const b = manager({ query: { room: a.id } }).socket("/chat");
    await connected(b, "b");
    const got = record(b);
    const gotA = once(a, "private");
    const after = once(b, "after");
    out("a", a.id);
    await withTimeout(Promise.all([gotA, after]), 5000, "private and after");
    out("b-got", got);
    [a, b].forEach((s) => s.close());
  },

  // In /chat (relay, join room-{query.room}) c and d joined no room; a and
  // b are in room-x. c and d also have a socket on /signal (relay, no
  // join), on the same connection, so what c relays reaches d before
  // c's later signal does.
  async "roomless-relay"() {
    const mc = manager();
    const md = manager();
    const [c, cs, d, ds] = [mc.socket("/chat"), mc.socket("/signal"), md.socket("/chat"), md.socket("/signal")];
    const a = manager({ query: { room: "x" } }).socket("/chat");
    const b = manager({ query: { room: "x" } }).socket("/chat");
    const all = [c, cs, d, ds, a, b];
    await Promise.all(all.map((s, i) => connected(s, "socket " + i)));
    const [gd, gb] = [record(d), record(b)];

    c.emit("message", "from no room");
    const signal = once(ds, "done");
    cs.emit("done");
    await withTimeout(signal, 5000, "the signal from c");
    const gotB = once(b, "message");
    a.emit("message", "to room x");
    await withTimeout(gotB, 5000, "a's message to room x");
    out("d-got", gd);
    out("b-got", gb);
    all.forEach((s) => s.close());
  },
};

const scenario = scenarios[process.env.SCENARIO];
if (!scenario) {
  console.error("unknown SCENARIO " + process.env.SCENARIO);
  process.exit(2);
}
withTimeout(scenario(), 60000, process.env.SCENARIO).then(
  () => process.exit(0),
  (err) => {
    console.error(err.stack || String(err));
    process.exit(1);
  }
);
