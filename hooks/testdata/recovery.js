// Drives socket.io-client 4.x through a lost connection against the Go
// server of recovery_test.go (hooks with connection state recovery on).
// Env: URL (the test's TCP proxy in front of the server). The client
// reconnects on its own; the script prints how it came back.
const { io } = require("socket.io-client");

const once = (s, ev) => new Promise((resolve) => s.once(ev, (...args) => resolve(args)));

(async () => {
  const s = io(process.env.URL, {
    transports: ["websocket"],
    forceNew: true,
    reconnectionDelay: 50,
    reconnectionDelayMax: 100,
    randomizationFactor: 0,
  });
  const before = once(s, "before");
  await once(s, "connect");
  console.log("first " + JSON.stringify({ recovered: s.recovered }));
  const id = s.id;
  await before;
  const gone = once(s, "disconnect");
  s.emit("ready");
  await gone;
  await once(s, "connect");
  console.log("second " + JSON.stringify({ recovered: s.recovered, sameId: s.id === id }));
  s.close();
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
