// Drives socket.io-client 4.x against Caddy's socketio limits, for
// limits_test.go. Env: URL, SCENARIO. Prints "<name> <json>" lines.
const { io } = require("socket.io-client");

const URL = process.env.URL;
const out = (name, value) => console.log(name + " " + JSON.stringify(value));
const connect = (opts = {}) => io(URL, { forceNew: true, reconnection: false, ...opts });
const outcome = (s) =>
  new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ timeout: true }), 5000);
    s.once("connect", () => (clearTimeout(timer), resolve({ connected: true })));
    s.once("connect_error", (e) => {
      clearTimeout(timer);
      // What an application can read from the error.
      const ctx = e.context || {};
      let d = e.description;
      if (d && typeof d === "object") d = d.message || (d.error && d.error.message); // an ErrorEvent from ws
      resolve({ message: e.message, description: d, body: ctx.responseText });
    });
  });
const from = (ip, opts = {}) => connect({ extraHeaders: { "X-Forwarded-For": ip }, ...opts });

const scenarios = {
  // max_connections_per_ip 2, behind a trusted proxy: the address is the
  // forwarded one.
  async perIP() {
    const a = [from("203.0.113.7"), from("203.0.113.7")];
    out("first-two", await Promise.all(a.map(outcome)));
    out("third-polling", await outcome(from("203.0.113.7")));
    out("third-websocket", await outcome(from("203.0.113.7", { transports: ["websocket"] })));
    const other = from("198.51.100.1");
    out("other-address", await outcome(other));
    a[0].disconnect();
    await new Promise((r) => setTimeout(r, 1500)); // the sid lingers a second
    const again = from("203.0.113.7");
    out("after-one-left", await outcome(again));
    for (const s of [...a, other, again]) s.disconnect();
  },
  // max_events_per_second 2 burst 2 disconnect
  async flood() {
    const s = connect();
    await outcome(s);
    const acks = [];
    const disconnected = new Promise((r) => s.once("disconnect", r));
    for (let i = 0; i < 5; i++) s.emit("message", i, () => acks.push(i));
    out("reason", await disconnected);
    out("acks", acks);
  },
};

scenarios[process.env.SCENARIO]()
  .then(() => process.exit(0))
  .catch((e) => {
    console.error(e);
    process.exit(1);
  });
