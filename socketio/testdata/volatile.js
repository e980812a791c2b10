// Drives socket.io-client 4.x against the volatile app of volatile_test.go.
// Env: URL, TRANSPORTS ("polling" or "websocket"). Prints one line per
// observation, "<name> <json>", and exits 0, or 1 with the error on stderr.
const { io } = require("socket.io-client");
const { out, once, withTimeout } = require("./common");

const transport = process.env.TRANSPORTS;

async function main() {
  const s = io(process.env.URL, { transports: [transport], forceNew: true, reconnection: false });
  await withTimeout(once(s, "connect"), 5000, "connect");
  let got = [];
  s.onAny((ev, ...args) => {
    if (!["round-done", "released", "handled"].includes(ev)) got.push([ev, ...args]);
  });

  if (transport === "polling") {
    // The server answers the client's pending GET with its first emit;
    // the client, pausing as it does before an upgrade, sends no other
    // one. Its pause ends once that GET and the POST carrying the event
    // are over, and the server handles the event before ending the POST.
    const t = s.io.engine.transport;
    // A pausing transport drops what it is asked to write: let the POST
    // of the CONNECT end first, so that the event goes out at once.
    if (!t.writable) await withTimeout(once(t, "drain"), 5000, "drain");
    const handled = once(s, "handled");
    s.emit("emit-without-get");
    await withTimeout(new Promise((r) => t.pause(r)), 5000, "pause");
    // Poll again: what was queued meanwhile comes, what was volatile not.
    t.readyState = "open";
    t._poll();
    await withTimeout(handled, 5000, "poll after the pause");
    out("paused", got);
  }

  // Volatile emits to an idle client: on polling a GET is waiting, and
  // takes the first of two emitted in a row (the second finds no GET); on
  // WebSocket no write is under way. If the client's next GET was late,
  // or a write was still under way, everything is dropped: another round.
  const count = transport === "polling" ? 2 : 1;
  for (const kind of ["socket", "broadcast"]) {
    let seen = 0;
    for (let round = 1; round <= 10 && seen === 0; round++) {
      got = [];
      const done = once(s, "round-done");
      s.emit("volatiles", kind, round, count);
      await withTimeout(done, 5000, "round " + round);
      seen = got.length;
      if (seen > 0) out(kind, got);
    }
    if (seen === 0) out(kind, "every round dropped everything");
  }
  s.disconnect();
}

withTimeout(main(), 20000, "volatile").then(
  () => setTimeout(() => process.exit(0), 300),
  (err) => {
    console.error(err);
    process.exit(1);
  }
);
