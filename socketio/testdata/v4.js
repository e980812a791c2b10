// Drives socket.io-client 4.x against the Go server of clients_test.go.
// Env: URL, SCENARIO, TRANSPORTS (comma-separated, optional), N (clients).
// Prints one line per observation, "<name> <json>", and exits 0, or 1 with
// the error on stderr.
const { io } = require("socket.io-client");
const { out, once, withTimeout, transports, connector, runScenario } = require("./common");

const URL = process.env.URL;
const connect = connector(io);

const scenarios = {
  async basics() {
    const s = connect("/");
    out("welcome", await once(s, "welcome"));
    out("id-length", s.id.length);
    if (!transports) {
      // By default the client starts with polling and upgrades.
      await withTimeout(
        new Promise((resolve) => {
          const check = () => (s.io.engine.transport.name === "websocket" ? resolve() : setTimeout(check, 10));
          check();
        }),
        5000,
        "upgrade"
      );
    }
    out("transport", s.io.engine.transport.name);
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
    const bad = connect("/admin", { auth: { token: "wrong" } });
    const [err] = await once(bad, "connect_error");
    out("refused", { message: err.message, data: err.data });
    const good = connect("/admin", { auth: { token: "secret", n: 1 } });
    out("admin-welcome", await once(good, "admin-welcome"));
    const unknown = connect("/nope");
    const [err2] = await once(unknown, "connect_error");
    out("unknown", err2.message);
    good.disconnect();
    // Two namespaces over one connection (the Manager multiplexes them).
    const main = io(URL, { transports, reconnection: false });
    const admin = io(URL + "/admin", { transports, reconnection: false, auth: { token: "secret" } });
    await Promise.all([once(main, "welcome"), once(admin, "admin-welcome")]);
    out("multiplexed", main.io === admin.io && main.io.engine.id !== undefined);
    main.disconnect();
    admin.disconnect();
  },

  async rooms() {
    const n = Number(process.env.N || 10);
    const clients = [];
    for (let i = 0; i < n; i++) clients.push(connect("/"));
    await Promise.all(clients.map((c) => once(c, "welcome")));
    // Even clients join "evens".
    await Promise.all(clients.filter((_, i) => i % 2 === 0).map((c) => new Promise((r) => c.emit("join", "evens", r))));
    const got = clients.map(() => []);
    clients.forEach((c, i) => {
      c.on("room-msg", (...a) => got[i].push(["room-msg", ...a]));
      c.on("all", (...a) => got[i].push(["all", ...a]));
    });
    clients[0].emit("to-room", "evens", "hi", Buffer.from([5, 6]));
    clients[1].emit("shout", { big: "x".repeat(2000) }, Buffer.from([1]));
    await withTimeout(
      new Promise((resolve) => {
        const check = () => {
          const roomDone = got.filter((g) => g.some((m) => m[0] === "room-msg")).length === Math.ceil(n / 2) - 1;
          const allDone = got.every((g) => g.some((m) => m[0] === "all"));
          if (roomDone && allDone) resolve();
          else setTimeout(check, 20);
        };
        check();
      }),
      10000,
      "broadcasts"
    );
    await new Promise((r) => setTimeout(r, 100)); // nothing more should come
    const roomReceivers = got.map((g, i) => (g.some((m) => m[0] === "room-msg") ? i : -1)).filter((i) => i >= 0);
    out("room-receivers", roomReceivers);
    out("room-msg", got[2].find((m) => m[0] === "room-msg"));
    out("all-count", got.filter((g) => g.filter((m) => m[0] === "all").length === 1).length);
    const all = got[0].find((m) => m[0] === "all");
    out("all-msg", [all[0], all[1].big.length, all[2]]);
    clients.forEach((c) => c.disconnect());
  },

  async relay() {
    const a = connect("/relay", { auth: { room: "x" } });
    const b = connect("/relay", { auth: { room: "x" } });
    const c = connect("/relay");
    await Promise.all([a, b, c].map((s) => once(s, "connect")));
    const got = { a: [], b: [], c: [] };
    for (const [name, s] of Object.entries({ a, b, c })) s.onAny((...args) => got[name].push(args));
    out("ack", await new Promise((r) => a.emit("chat", "hello", { n: 1 }, Buffer.from([3]), (...args) => r(args))));
    out("ack-from-c", await new Promise((r) => c.emit("chat", "from c", (...args) => r(args))));
    a.emit("no-ack", 1);
    await new Promise((r) => setTimeout(r, 300));
    out("got", got);
    [a, b, c].forEach((s) => s.disconnect());
  },

  async kick() {
    const s = connect("/");
    await once(s, "welcome");
    const closed = once(s, "disconnect");
    s.emit("kick");
    out("kicked", (await closed)[0]);
    // Disconnect(true) on one namespace ends the whole connection: every
    // namespace hears "io server disconnect", and the engine closes.
    const main = io(URL, { transports, reconnection: false, forceNew: true });
    const admin = main.io.socket("/admin", { auth: { token: "secret" } });
    admin.connect();
    await Promise.all([once(main, "welcome"), once(admin, "admin-welcome")]);
    const both = Promise.all([once(main, "disconnect"), once(admin, "disconnect")]);
    const engineClosed = new Promise((r) => main.io.engine.once("close", (reason) => r(reason)));
    main.emit("kick-all");
    out("kicked-all", (await both).map((args) => args[0]));
    out("engine-closed", await engineClosed);
  },

  async vanish() {
    // The process ends without disconnecting: the server sees the
    // transport close.
    const s = connect("/");
    await once(s, "welcome");
    out("connected", true);
    process.exit(0);
  },

  async mixed() {
    const s = connect("/");
    await once(s, "welcome");
    const got = once(s, "mixed");
    await new Promise((r) => s.emit("join", "mixed", r));
    out("mixed", await got);
    s.disconnect();
  },

  async reconnect() {
    // The Go test restarts the server after the first connection.
    const s = io(URL, { transports, forceNew: true, reconnectionDelay: 100, reconnectionDelayMax: 200 });
    // The close may come in the same polling response as the welcome.
    const disconnected = once(s, "disconnect");
    await once(s, "welcome");
    const firstId = s.id;
    out("first", true);
    out("disconnect", (await withTimeout(disconnected, 10000, "disconnect"))[0]);
    await withTimeout(once(s, "welcome"), 10000, "reconnection");
    out("reconnected", s.connected && s.id !== firstId);
    s.disconnect();
  },
};

runScenario(scenarios);
