// Drives socket.io-client 2.x (protocol revision 4) against the Go server
// of hooks_test.go. Env: URL, SCENARIO, TRANSPORTS. Prints "<name> <json>"
// lines; exits 0, or 1 with the error on stderr.
const io = require("socket.io-client-v2");
const { out, once, withTimeout, connector, runScenario } = require("../../socketio/testdata/common");

const connect = connector(io);

const ack = (s, ev, ...args) => withTimeout(new Promise((r) => s.emit(ev, ...args, (...a) => r(a))), 10000, "ack of " + ev);

const scenarios = {
  async accept() {
    // 2.x has no auth: the token travels in the query.
    const s = connect("/chat", { query: { token: "good" }, extraHeaders: { Authorization: "Bearer v2" } });
    await withTimeout(once(s, "connect"), 5000, "connect");
    out("connected", true);
    out("fetch", await ack(s, "fetch"));
    out("ack", await ack(s, "echo", "s", Buffer.from([5, 6])));
    s.close();
  },

  async refuse() {
    const s = connect("/chat", { query: { token: "bad" } });
    // 2.x gets the refusal's data alone, in its error event, as from Node.
    out("refused", (await withTimeout(once(s, "error"), 5000, "error"))[0]);
    s.close();
  },
};

runScenario(scenarios);
