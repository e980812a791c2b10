// Package redisadapter is a socketio.Adapter that joins a cluster of
// Socket.IO servers through Redis pub/sub, speaking the classic wire format
// of the npm package @socket.io/redis-adapter 8.3: a Go node and Node.js
// socket.io nodes can share one Redis and broadcast to each other's clients,
// and @socket.io/redis-emitter (and its PHP, Python and Go ports) reach the
// clients of this node.
//
// The wire format, in short (see codec files for the details):
//
//   - broadcasts are MessagePack arrays [uid, packet, opts] published on
//     "<prefix>#<nsp>#", or "<prefix>#<nsp>#<room>#" when exactly one room is
//     targeted; every node PSUBSCRIBEs "<prefix>#<nsp>#*";
//   - requests between nodes are JSON objects (MessagePack for broadcasts
//     with acknowledgements) on "<prefix>-request#<nsp>#", answered on
//     "<prefix>-response#<nsp>#";
//   - the number of nodes is PUBSUB NUMSUB of the request channel.
//
// The package imports no Caddy package; the Caddy module lives in the
// repository root.
package redisadapter
