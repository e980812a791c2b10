// Drives socket.io-client 4.x against Caddy with the socketio handler, for
// module_test.go. Env: URL, SCENARIO. Prints one line per observation,
// "<name> <json>", and exits 0, or 1 with the error on stderr.
const { io } = require("socket.io-client");

const URL = process.env.URL;
const out = (name, value) => console.log(name + " " + JSON.stringify(value));
const once = (s, ev) => new Promise((resolve) => s.once(ev, (...args) => resolve(args)));
const connect = (nsp, opts = {}) => io(URL + nsp, { forceNew: true, reconnection: false, ...opts });
const withTimeout = (p, ms, what) =>
  Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error("timeout: " + what)), ms))]);
const connected = (s, what) =>
  withTimeout(
    new Promise((resolve, reject) => {
      s.once("connect", resolve);
      s.once("connect_error", (e) => reject(new Error(what + ": connect_error " + e.message)));
    }),
    5000,
    what
  );

const scenarios = {
  // Rooms from `join` placeholders and `relay`: the sender's rooms get the
  // relayed events, nobody else does.
  async rooms() {
    const record = (s) => {
      const got = [];
      s.onAny((ev, ...args) => got.push([ev, ...args]));
      return got;
    };
    const a1 = connect("/chat", { query: { room: "a" }, auth: { user: "u1" } });
    const a2 = connect("/chat", { query: { room: "a" }, auth: { user: "u2" } });
    const b1 = connect("/chat", { query: { room: "b" }, auth: { user: "u3" } });
    const u1 = connect("/chat", { auth: { user: "u1" } }); // no room: only user-u1
    const team = connect("/chat", { extraHeaders: { "X-Team": "red" }, auth: { user: "u4" } });
    const team2 = connect("/chat", { extraHeaders: { "X-Team": "red" }, auth: { user: "u5" } });
    const all = [a1, a2, b1, u1, team, team2];
    await Promise.all(all.map((s, i) => connected(s, "client " + i)));
    const [ga2, gb1, gu1, gteam2] = [record(a2), record(b1), record(u1), record(team2)];

    // Listen before emitting: the relayed events may arrive at once.
    const gotA = Promise.all([once(a2, "message"), once(u1, "message")]);
    a1.emit("not-relayed", 1);
    a1.emit("message", "hello a");
    await withTimeout(gotA, 5000, "a2 and u1 message");
    out("a2", ga2);
    out("u1", gu1);
    const gotTeam = once(team2, "message");
    team.emit("message", "hello red");
    await withTimeout(gotTeam, 5000, "team2 message");
    out("team2", gteam2);
    // b1 is in room-b and user-u3 only: a later event from its own room
    // arrives after anything a1 or team could have leaked to it.
    const b2 = connect("/chat", { query: { room: "b" }, auth: { user: "u6" } });
    await connected(b2, "b2");
    const gotB = once(b1, "message");
    b2.emit("message", "hello b");
    await withTimeout(gotB, 5000, "b1 message");
    out("b1", gb1);
    // An undeclared namespace does not exist.
    const nope = connect("/nope");
    const [err] = await withTimeout(once(nope, "connect_error"), 5000, "nope");
    out("undeclared", err.message);
    [...all, b2, nope].forEach((s) => s.close());
  },

  // A reload while connected keeps the socket; the new origin list applies
  // to new handshakes; caddy stop disconnects the client.
  async reload() {
    const s = connect("/", { extraHeaders: { origin: "https://old.example" } });
    await connected(s, "first client");
    await withTimeout(
      new Promise((resolve) => {
        const check = () => (s.io.engine.transport.name === "websocket" ? resolve() : setTimeout(check, 10));
        check();
      }),
      5000,
      "upgrade"
    );
    const id = s.id;
    const disconnects = [];
    s.on("disconnect", (reason) => disconnects.push(reason));
    out("connected", id);
    await withTimeout(once(s, "reloaded"), 20000, "the reloaded event");
    out("same-socket", s.id === id && s.connected && disconnects.length === 0);
    const old = connect("/", { extraHeaders: { origin: "https://old.example" } });
    const [err] = await withTimeout(once(old, "connect_error"), 5000, "old origin refused");
    out("old-origin", err.message);
    const neu = connect("/", { extraHeaders: { origin: "https://new.example" } });
    await connected(neu, "new origin");
    out("new-origin", "connected");
    neu.close();
    old.close();
    const closed = once(s, "disconnect");
    out("ready-for-stop", true);
    const [reason] = await withTimeout(closed, 10000, "disconnect on stop");
    out("stopped", reason);
  },

  // caddy stop while a polling client waits on its long-poll.
  async "stop-polling"() {
    const s = connect("/", { transports: ["polling"] });
    await connected(s, "polling client");
    const closed = once(s, "disconnect");
    // The next long-poll leaves at once; give the server time to read it,
    // so that the stop finds it pending (a request still in the socket
    // buffer is cut by the HTTP server's shutdown instead: "transport error").
    await new Promise((r) => setTimeout(r, 300));
    out("connected", s.io.engine.transport.name);
    const [reason] = await withTimeout(closed, 20000, "disconnect on stop");
    out("stopped", reason);
  },
};

const scenario = scenarios[process.env.SCENARIO];
if (!scenario) {
  console.error("unknown SCENARIO " + process.env.SCENARIO);
  process.exit(2);
}
withTimeout(scenario(), 30000, process.env.SCENARIO).then(
  () => process.exit(0),
  (err) => {
    console.error(err.stack || String(err));
    process.exit(1);
  }
);
