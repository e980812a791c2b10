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

  async multiplexed() {
    // Over one connection opened for "/", the token of /chat travels in the
    // CONNECT packet's query alone.
    const main = io(process.env.URL, { transports: ["websocket"], reconnection: false });
    await withTimeout(once(main, "connect"), 5000, "connect /");
    const chat = io(process.env.URL + "/chat", { query: { token: "good" }, transports: ["websocket"], reconnection: false });
    await withTimeout(once(chat, "connect"), 5000, "connect /chat");
    out("shared", main.io === chat.io);
    out("fetch", await ack(chat, "fetch"));
    main.close();
    chat.close();
  },

  async refuse() {
    const s = connect("/chat", { query: { token: "bad" } });
    // 2.x gets the refusal's data alone, in its error event, as from Node.
    out("refused", (await withTimeout(once(s, "error"), 5000, "error"))[0]);
    s.close();
  },
};

runScenario(scenarios);
