// Socket.IO clients that an API test drives from the server side. Env:
// URL (the server), CLIENTS: a comma-separated list of name:version:room
// (version v4 or v2; room, optional, is joined by the server from the
// handshake query), NSP (the namespace, "/" by default). Each client prints
// one line per thing it sees:
//   connected <name>
//   event <name> <event> <json of the arguments>
//   disconnect <name> <reason>
// and answers acknowledgements: "ask" with {"name": <name>, "got": <first
// argument>}, "ask-bin" with a Buffer [1, 2, 3], except clients whose name
// starts with "mute", which never answer. Buffers print as
// {"type":"Buffer","data":[...]}, ArrayBuffers as {"arraybuffer":[...]}.
const v4 = require("socket.io-client");
const v2 = require("socket.io-client-v2");

const show = (v) =>
  JSON.stringify(v, (k, x) => (x instanceof ArrayBuffer ? { arraybuffer: Array.from(new Uint8Array(x)) } : x));

for (const spec of process.env.CLIENTS.split(",")) {
  const [name, version, room] = spec.split(":");
  const io = version === "v2" ? v2 : v4;
  const query = { name };
  if (room) query.room = room;
  const s = io(process.env.URL + (process.env.NSP || "/"), {
    forceNew: true,
    reconnection: false,
    query,
    transports: process.env.TRANSPORTS ? process.env.TRANSPORTS.split(",") : undefined,
  });
  s.on("connect", () => console.log(`connected ${name}`));
  s.on("disconnect", (reason) => console.log(`disconnect ${name} ${reason}`));
  const onAny = (event, ...args) => {
    const cb = typeof args[args.length - 1] === "function" ? args.pop() : null;
    console.log(`event ${name} ${event} ${show(args)}`);
    if (!cb || name.startsWith("mute")) return;
    if (event === "ask") cb({ name, got: args[0] });
    else if (event === "ask-bin") cb(Buffer.from([1, 2, 3]));
    else cb();
  };
  if (s.onAny) {
    s.onAny(onAny);
  } else {
    // socket.io-client 2.x has no onAny: wrap the packet handler.
    s.onevent = function (packet) {
      const args = packet.data || [];
      if (packet.id != null) args.push(this.ack(packet.id));
      onAny(...args);
    };
  }
}
// The test ends the process when it is done.
setInterval(() => {}, 1 << 30);
