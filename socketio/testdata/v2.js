// Drives socket.io-client 2.x (Socket.IO protocol revision 4 over
// Engine.IO 3) against the Go server of clients_test.go. Env: URL,
// SCENARIO, TRANSPORTS. Prints "<name> <json>" lines; exits 0, or 1 with
// the error on stderr.
const io = require("socket.io-client-v2");
const { out, once, connector, runScenario } = require("./common");

const connect = connector(io);

const scenarios = {
  async basics() {
    const s = connect("/");
    out("welcome", await once(s, "welcome"));
    s.emit("echo", "str", 42, { a: { b: [1, "x", null] } }, { nested: { buf: Buffer.from([1, 2, 3]) }, list: [Buffer.from([4])] });
    out("echo-back", await once(s, "echo-back"));
    out("ack", await new Promise((r) => s.emit("ack-me", 1, "two", Buffer.from([9]), (...a) => r(a))));
    s.on("question", (n, cb) => cb(n + 1, Buffer.from([7])));
    s.emit("ask-me");
    out("answered", await once(s, "answered"));
    const closed = once(s, "disconnect");
    s.disconnect();
    out("disconnect", (await closed)[0]);
  },

  async auth() {
    // Revision 4 has no auth payload: the query option travels in the
    // namespace of the CONNECT packet.
    const bad = connect("/admin", { query: { token: "wrong" } });
    out("refused", (await once(bad, "error"))[0]);
    bad.close();
    const good = connect("/admin", { query: { token: "secret" } });
    out("admin-welcome", await once(good, "admin-welcome"));
    good.close();
    const unknown = connect("/nope");
    out("unknown", (await once(unknown, "error"))[0]);
    unknown.close();
  },

  async kick() {
    const s = connect("/");
    await once(s, "welcome");
    const closed = once(s, "disconnect");
    s.emit("kick");
    out("kicked", (await closed)[0]);
    s.close();
  },

  async relay() {
    const a = connect("/relay", { query: { room: "x" } });
    const b = connect("/relay", { query: { room: "x" } });
    const c = connect("/relay");
    await Promise.all([a, b, c].map((s) => once(s, "connect")));
    const got = { a: [], b: [], c: [] };
    for (const [name, s] of Object.entries({ a, b, c })) s.on("chat", (...args) => got[name].push(args));
    out("ack", await new Promise((r) => a.emit("chat", "hello", Buffer.from([3]), (...args) => r(args))));
    await new Promise((r) => setTimeout(r, 200));
    out("got", got);
    [a, b, c].forEach((s) => s.close());
  },

  async mixed() {
    const s = connect("/");
    await once(s, "welcome");
    const got = once(s, "mixed");
    await new Promise((r) => s.emit("join", "mixed", r));
    out("mixed", await got);
    s.close();
  },
};

runScenario(scenarios);
