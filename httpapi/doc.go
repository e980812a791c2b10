// Package httpapi is the HTTP server API of a Socket.IO server: what Node's
// `io` offers its application (emit, emitWithAck, socketsJoin,
// socketsLeave, disconnectSockets, fetchSockets, serverSideEmit), for
// backends that are not Node, answered across the cluster when the server
// has a cluster adapter (package redisadapter).
//
//	api := httpapi.New(httpapi.Fixed(io), httpapi.Options{Keys: []string{key}})
//	http.Handle("/socketio-api/", http.StripPrefix("/socketio-api", api))
//
// The operations (openapi.yaml in this folder describes each):
//
//	POST /emit                {namespace, event, args, rooms, except, volatile, ack_timeout_ms}
//	POST /sockets/join        {namespace, rooms, except, join}
//	POST /sockets/leave       {namespace, rooms, except, leave}
//	POST /sockets/disconnect  {namespace, rooms, except, close}
//	GET  /sockets?namespace=&room=&limit=&cursor=
//	GET  /rooms?namespace=
//	GET  /sockets/count?namespace=&room=
//	POST /server-side-emit    {namespace, event, args, ack_timeout_ms}
//	POST /batch               {requests: [{path, body} | {path, query}]}
//
// An emit answers 202 at once; with ack_timeout_ms it waits for the
// clients' acknowledgements and answers 200 {"clients", "acks",
// "timed_out"}, as soon as every client answered or at the timeout with
// what came. JSON has no bytes: a binary value is {"_binary": "<base64>"}
// both ways (a Buffer on the clients; a Buffer in an acknowledgement comes
// back in that form).
//
// Errors are always {"error": {"code", "message"}}: 400 names the field
// that was wrong (unknown fields are refused, so that a typo cannot widen
// an emit to the whole namespace); 401 with WWW-Authenticate: Bearer for a
// missing or wrong key, and 400 for a key in the URL, which logs would
// keep; 404 for an unknown server or namespace (a lookup never creates a
// namespace); 409 for an Idempotency-Key reused with another body; 413
// past the body limit; 429 (too many requests at once) and 503 (the
// cluster is unreachable, or did not answer in time) with Retry-After.
//
// A POST with an Idempotency-Key header is done once: a retry with the
// same key, API key and path within five minutes gets the first answer,
// without emitting again (5xx answers are not kept: nothing was done, and
// the retry runs). While Redis is unreachable, operations on a namespace
// of the Redis adapter answer 503 and do nothing, rather than reach this
// server's clients only: the backend retries and reaches everyone once.
//
// # Concurrency
//
// A Handler serves any number of requests at once, up to
// Options.MaxInFlight (the next get 429): each runs on its HTTP server's
// goroutine, and an emit waiting for acknowledgements holds its request
// until the answers or the timeout. The handler keeps no per-request
// goroutine of its own. The idempotency store is guarded by one mutex; a
// retry that arrives while the first request with its key is still running
// waits for that request's answer instead of running it again. The find
// function passed to New runs on every request, from many goroutines.
package httpapi
