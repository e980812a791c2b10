// Drives socket.io-client 4.x against the Go server of hooks_test.go,
// whose namespaces call a Go backend through the hooks. Env: URL, SCENARIO,
// TRANSPORTS (optional), N. Prints "<name> <json>" lines; exits 0, or 1
// with the error on stderr.
const { io } = require("socket.io-client");
const { out, once, withTimeout, connector, runScenario } = require("../../socketio/testdata/common");

const connect = connector(io);

// ack emits ev with args and resolves with the ack's arguments.
const ack = (s, ev, ...args) => withTimeout(new Promise((r) => s.emit(ev, ...args, (...a) => r(a))), 10000, "ack of " + ev);

const scenarios = {
  async accept() {
    const s = connect("/chat?room=x&tag=b", {
      auth: { token: "good" },
      extraHeaders: { Authorization: "Bearer abc", "X-Not-Forwarded": "secret-ish" },
    });
    await withTimeout(once(s, "connect"), 5000, "connect");
    out("connected", true);
    out("fetch", await ack(s, "fetch"));
    out("whoami", await ack(s, "whoami"));
    s.disconnect();
  },

  async refuse() {
    const s = connect("/chat", { auth: { token: "bad" } });
    const [err] = await withTimeout(once(s, "connect_error"), 5000, "connect_error");
    out("refused", { message: err.message, data: err.data });
    s.close();
  },

  async binary() {
    const s = connect("/chat", { auth: { token: "good" } });
    await once(s, "connect");
    out("ack", await ack(s, "echo", "s", 1.5, Buffer.from([1, 2, 3]), { nested: [Buffer.from([4])] }));
    s.disconnect();
  },

  async actions() {
    const a = connect("/chat", { auth: { token: "good" } });
    const b = connect("/chat", { auth: { token: "good" } });
    await Promise.all([once(a, "connect"), once(b, "connect")]);
    const got = { a: [], b: [] };
    a.on("news", (...args) => got.a.push(args));
    b.on("news", (...args) => got.b.push(args));
    // b joins r; a joins r and emits to r: both get it (the sender too).
    out("b-join", await ack(b, "join", "r"));
    out("a-join-shout", await ack(a, "join-shout", "r", "one"));
    // a leaves r; b's emit to r reaches b alone; an emit without an ack.
    out("a-leave", await ack(a, "leave", "r"));
    b.emit("shout-no-ack", "r", "two");
    out("b-sync", await ack(b, "whoami"));
    await withTimeout(
      new Promise((resolve) => {
        const check = () => (got.b.length === 2 ? resolve() : setTimeout(check, 10));
        check();
      }),
      5000,
      "news"
    );
    out("news", got);
    // data and meta replaced; the next hook carries them.
    out("set", await ack(a, "set", { n: 2 }, { secret: "m2" }));
    out("whoami", await ack(a, "whoami"));
    const closed = once(a, "disconnect");
    out("bye", await ack(a, "bye"));
    out("disconnect", (await closed)[0]);
    b.disconnect();
  },

  async order() {
    const s = connect("/chat", { auth: { token: "good" } });
    await once(s, "connect");
    for (let i = 0; i < 30; i++) s.emit("seq", i);
    out("order", await ack(s, "seq-done"));
    s.disconnect();
  },

  async faults() {
    const a = connect("/faults", { auth: { token: "good" } });
    const b = connect("/faults", { auth: { token: "good" } });
    await Promise.all([once(a, "connect"), once(b, "connect")]);
    // While a waits on a slow backend answer, b is served.
    const seen = [];
    const slow = ack(a, "slow").then((r) => seen.push(["slow", r]));
    await ack(b, "fast").then((r) => seen.push(["fast", r]));
    await slow;
    out("seen", seen);
    for (const ev of ["garbage", "huge", "shape", "status"]) out(ev, await ack(a, ev));
    a.disconnect();
    b.disconnect();
    const down = connect("/down");
    const [err] = await withTimeout(once(down, "connect_error"), 5000, "connect_error");
    out("down", { message: err.message, data: err.data });
    down.close();
  },

  async "refuse-down"() {
    const down = connect("/down");
    const [err] = await withTimeout(once(down, "connect_error"), 5000, "connect_error");
    out("down", { message: err.message, data: err.data });
    down.close();
  },

  async many() {
    const n = Number(process.env.N || 20);
    const clients = [];
    for (let i = 0; i < n; i++) clients.push(connect("/chat", { auth: { token: "good" } }));
    await Promise.all(clients.map((c) => once(c, "connect")));
    const acks = await Promise.all(clients.map((c, i) => ack(c, "hold", i)));
    out("acks", acks.every((a, i) => a.length === 1 && a[0] === i));
    clients.forEach((c) => c.disconnect());
  },

  async reload() {
    const s = connect("/chat", { auth: { token: "good" } });
    await once(s, "connect");
    out("swap", await ack(s, "swap"));
    out("whoami", await ack(s, "whoami"));
    s.disconnect();
  },

  async lifecycle() {
    const s = connect("/chat", { auth: { token: "good" } });
    await once(s, "connect");
    await ack(s, "join", "r");
    await ack(s, "leave", "r");
    s.disconnect();
    out("done", true);
  },
};

runScenario(scenarios);
