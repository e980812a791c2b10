// Package adminapi is a read-only JSON view of live Socket.IO servers: the
// servers with their options and counts, their namespaces, rooms and
// sockets, for an operator's admin endpoint (Caddy's, through the
// admin.api.socketio module).
//
// Rooms and sockets are asked of the namespace's adapter (FetchSockets,
// Sockets), so with a cluster adapter such as package redisadapter's the
// answer covers every node; with the in-memory adapter, this server. A
// socket's handshake is shown without its headers, query or auth payload,
// which may carry credentials.
//
// Concurrency: a Handler holds no state of its own besides its Servers
// function; it serves requests concurrently.
package adminapi
