// Drives a real Engine.IO client against the Go server and prints what it
// saw as one JSON line. Environment:
//   URL        the server's base URL (http://127.0.0.1:port)
//   CLIENT     "v4" (engine.io-client 6.x) or "v3" (engine.io-client 3.x)
//   TRANSPORT  "polling", "websocket" or "upgrade" (polling, then upgrade),
//              or "polling-b64" (polling with binary data as base64)
//   MODE       "echo": text and binary both ways, heartbeats, client close
//              "dead": the server goes silent; the client must notice
//              "serverclose": the server closes the session
const which = process.env.CLIENT || "v4";
const mode = process.env.MODE || "echo";
const transport = process.env.TRANSPORT || "polling";

const transports =
  transport === "upgrade" ? ["polling", "websocket"] : [transport.replace("-b64", "")];
const opts = {
  path: "/engine.io",
  transports,
  upgrade: transport === "upgrade",
  forceBase64: transport.endsWith("-b64"),
};

let socket;
if (which === "v3") {
  const eio = require("engine.io-client-v3");
  socket = eio(process.env.URL, opts);
} else {
  const { Socket } = require("engine.io-client");
  socket = new Socket(process.env.URL, opts);
}

const seen = {
  openTransport: null,
  upgraded: false,
  finalTransport: null,
  received: [],
  heartbeats: 0,
  closeReason: null,
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fail = (msg) => {
  console.error(msg, JSON.stringify(seen));
  process.exit(1);
};

function describe(data) {
  if (typeof data === "string") return { text: data };
  return { binary: Array.from(new Uint8Array(data)) };
}

let onReceived = () => {};
socket.on("message", (data) => {
  seen.received.push(describe(data));
  onReceived();
});
socket.on(which === "v3" ? "pong" : "ping", () => seen.heartbeats++);
socket.on("upgrade", () => (seen.upgraded = true));
const closed = new Promise((resolve) =>
  socket.on("close", (reason) => {
    seen.closeReason = reason;
    resolve();
  })
);
// received resolves once n messages have arrived in all.
const received = (n) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`message ${n} not received within 3s`)), 3000);
    onReceived = () => {
      if (seen.received.length >= n) {
        clearTimeout(timer);
        resolve();
      }
    };
    onReceived();
  });

async function main() {
  await new Promise((resolve) => socket.on("open", resolve));
  seen.openTransport = socket.transport.name;
  if (transport === "upgrade") {
    for (let i = 0; i < 100 && !seen.upgraded; i++) await sleep(20);
    if (!seen.upgraded) fail("no upgrade");
  }
  if (mode === "echo") {
    socket.send("hello é🙂");
    await received(1);
    socket.send(Buffer.from([1, 2, 3, 255]));
    await received(2);
    socket.send("push");
    await received(4);
    // survive several heartbeats (the server pings every 100 ms)
    await sleep(700);
    socket.send("still here");
    await received(5);
    seen.finalTransport = socket.transport.name;
    socket.close();
  } else if (mode === "dead") {
    socket.send("freeze");
  } else if (mode === "serverclose") {
    socket.send("close");
  }
  await Promise.race([closed, sleep(5000)]);
  await sleep(200); // let a polling client's close packet reach the server
  console.log(JSON.stringify(seen));
  process.exit(0);
}

main().catch((e) => fail(String(e)));
