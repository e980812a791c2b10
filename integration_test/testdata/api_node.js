// A Node socket.io 4.8 server with @socket.io/redis-adapter 8.3, the Node
// node of api_test.go's cluster: namespace /chat, each socket joins
// room-<query.room> and gets socket.data = {name: <query.name>}; a
// server-side emit "who" is answered with {node: "node"}.
//
// Env: REDIS_URL. Prints {"port": N} once it listens; runs until killed.
'use strict';
const http = require('http');
const { Server } = require('socket.io');
const { createAdapter } = require('@socket.io/redis-adapter');
const { createClient } = require('redis');

async function main() {
  const pub = createClient({ url: process.env.REDIS_URL, socket: { reconnectStrategy: (n) => Math.min(n * 50, 500) } });
  const sub = pub.duplicate();
  pub.on('error', () => {});
  sub.on('error', () => {});
  await Promise.all([pub.connect(), sub.connect()]);
  const server = http.createServer();
  const io = new Server(server, { allowEIO3: true, adapter: createAdapter(pub, sub) });
  const chat = io.of('/chat');
  chat.on('connection', (socket) => {
    const { room, name } = socket.handshake.query;
    if (room) socket.join('room-' + room);
    socket.data = { name };
  });
  chat.on('who', (arg, cb) => cb({ node: 'node', got: arg }));
  server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
