// Package redisstreams is a socketio.Adapter that joins a cluster of
// Socket.IO servers through a Redis stream, speaking the wire format of the
// npm package @socket.io/redis-streams-adapter 0.3.1: Go nodes and Node.js
// socket.io nodes with that adapter can share one Redis, broadcast to each
// other's clients, and take over each other's clients with connection
// state recovery.
//
// The wire format, in short (message.go and session.go have the details):
//
//   - broadcasts without acknowledgement, socketsJoin, socketsLeave and
//     disconnectSockets are entries of the stream "socket.io" (XADD MAXLEN ~
//     10000) with the fields uid, nsp, type (socket.io-adapter's
//     ClusterAdapter message type, in decimal) and data: JSON, or base64 of
//     MessagePack when it holds binary;
//   - broadcasts with acknowledgement, fetchSockets and serverSideEmit are
//     ephemeral: MessagePack {type, data, uid, nsp} published on
//     "socket.io#<nsp>#", answered on the asker's "socket.io#<nsp>#<uid>#";
//   - the number of servers is PUBSUB NUMSUB "socket.io#<nsp>#", added up
//     over the masters of a Redis Cluster (each counts its own
//     subscribers);
//   - the session of a socket is base64 of MessagePack {sid, pid, rooms,
//     data} under "sio:session:<pid>", expiring after
//     max_disconnection_duration; a stream entry id is the offset a client
//     sends back to recover.
//
// Beyond Node's adapter: every server delivers its own broadcasts when it
// reads them back from the stream, so all clients of the cluster get them
// in one order; the session of a connected socket is kept in Redis (with
// this server's uid), so that its client recovers on another server when
// this one dies; a session whose socket is connected to a live server is
// given to no one; a wrong offset leaves the session in place.
//
// # Concurrency
//
// A Node (one per socketio.Server, made by a Group) owns four goroutines,
// stopped by its close when the server's last namespace closes its
// adapter: readLoop (XREAD of the stream, one entry delivered at a time
// under Node.deliverMu; the broadcasts of reads that follow each other
// without a pause are queued in one engine.Batch, written once per
// receiver when a read finds nothing new), writeLoop (every write to Redis, in order,
// pipelined, from a bounded queue: a broadcast never waits on Redis),
// receiveLoop (the pub/sub messages) and refreshLoop (the sessions of
// connected sockets, every Config.SessionRefresh). A recovering socket
// catches up from the stream and joins its rooms' receivers with
// deliverMu held, so that it gets each entry once. Adapter.mu guards its
// requests; Adapter.sessMu orders the writes of each session (connected,
// refreshed, disconnected) as the socket's states came. Event handlers of
// remote requests run on receiveLoop; they must not block.
//
// The package imports no Caddy package; the Caddy module lives in the
// repository root.
package redisstreams
