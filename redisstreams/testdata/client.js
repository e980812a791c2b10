// A socket.io-client 4.8 that prints a JSON line on each connect (id,
// recovered) and each event (name and arguments, the offset last), with
// AUTH (JSON) as its auth; it answers "ask" with "answer", and exits on "bye".
const { io } = require("socket.io-client");

const print = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const socket = io(process.env.URL, {
  transports: (process.env.TRANSPORTS || "websocket").split(","),
  reconnectionDelay: 100,
  reconnectionDelayMax: 200,
  auth: process.env.AUTH ? JSON.parse(process.env.AUTH) : undefined,
});
socket.on("connect", () => print({ connect: socket.id, recovered: socket.recovered }));
socket.on("disconnect", (reason) => print({ disconnect: reason }));
socket.on("ask", (arg, cb) => cb("answer to " + arg));
socket.onAny((event, ...args) => {
  if (event === "ask") return;
  print({ event, args });
  if (event === "bye") {
    socket.disconnect();
    process.exit(0);
  }
});
setTimeout(() => process.exit(3), 60000);
