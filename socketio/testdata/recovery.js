// Drives socket.io-client 4.x through a connection drop against a server
// with connection state recovery on: the Go server of
// recovery_clients_test.go, or Caddy in the root package's
// recovery_test.go, both set up alike. Env: URL (the test's TCP proxy in front of the server), TRANSPORTS.
// The client reconnects on its own; the script prints how it came back and
// every event it got, in order, each offset (a string as last argument)
// shown as "+offset". Exits 0, or 1 with the error on stderr.
const { io } = require("socket.io-client");
const { out, once, transports, runScenario } = require("./common");

const offset = /^[0-9a-z]{8,13}$/;
const show = (args) =>
  args.map((a, i) =>
    i === args.length - 1 && typeof a === "string" && offset.test(a) ? "+offset" : Buffer.isBuffer(a) ? [...a] : a
  );

runScenario({
  async drop() {
    const s = io(process.env.URL, {
      transports,
      forceNew: true,
      reconnectionDelay: 50,
      reconnectionDelayMax: 100,
      randomizationFactor: 0,
    });
    const events = [];
    s.onAny((...args) => events.push(show(args)));
    // Registered first: "before" may come in the same read as the CONNECT
    // answer, before a listener added after "connect" would be.
    // NO_BEFORE: the server sends nothing first, so the client has no
    // offset to send back.
    const before = process.env.NO_BEFORE ? Promise.resolve() : once(s, "before");
    await once(s, "connect");
    out("first", { recovered: s.recovered });
    const id = s.id;
    await before;
    const gone = once(s, "disconnect");
    s.emit("ready");
    out("disconnect", (await gone)[0]);
    await once(s, "connect");
    out("second", { recovered: s.recovered, sameId: s.id === id });
    if (s.io.engine.transport.name !== (transports || ["websocket"])[0]) {
      throw new Error("transport " + s.io.engine.transport.name);
    }
    if (events[events.length - 1][0] !== "after") await once(s, "after");
    for (const e of events) out("event", e);
    s.close();
  },
});
