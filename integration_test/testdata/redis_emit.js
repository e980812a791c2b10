// Publishes one event with @socket.io/redis-emitter 5.x, as an application
// outside the cluster (a cron job, a PHP or Python port) would, for
// redis_test.go; exits once Redis has taken the PUBLISH.
//
// Env: REDIS_URL, NSP, ROOM (optional), EVENT, ARGS (a JSON array).
"use strict";
const { Emitter } = require("@socket.io/redis-emitter");
const { createClient } = require("redis");

async function main() {
  const client = createClient({ url: process.env.REDIS_URL });
  await client.connect();
  let target = new Emitter(client).of(process.env.NSP);
  if (process.env.ROOM) target = target.to(process.env.ROOM);
  target.emit(process.env.EVENT, ...JSON.parse(process.env.ARGS || "[]"));
  await client.quit(); // after the reply to the PUBLISH queued before it
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
