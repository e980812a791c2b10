// Package hooks lets the application's own backend take part in one
// Socket.IO namespace over HTTP, in Socket.IO terms: it decides who
// connects (and with which rooms and data), answers the events a client
// emits (the answer is the ack, with actions such as emits and joins), and
// hears of connections, joins, leaves and disconnections. It is Node's
// io.of(nsp).use(...) and socket.on(...) written as HTTP endpoints, for a
// backend in PHP, Python, Ruby or Go. It imports no Caddy package: the
// Caddy module passes a Transport that runs its handler chain; from Go,
// any http.RoundTripper:
//
//	h := hooks.Attach(io.Of("/chat"))
//	h.SetConfig(&hooks.Config{
//		Transport: http.DefaultTransport,
//		URL:       "http://127.0.0.1:8000/socketio",
//		Connect:   true,
//		Events:    []string{"order:place", "chat:*"},
//		Notify:    []string{"connect", "disconnect"},
//		Secrets:   []string{os.Getenv("SOCKETIO_HOOK_SECRET")},
//	})
//	defer h.Close(ctx) // after io.Shutdown, whose disconnections it reports
//
// # Requests
//
// Every hook request is a POST of JSON (Content-Type: application/json)
// to URL+"/connect", URL+"/event" or URL+"/notify", signed as Stripe signs
// webhooks:
//
//	Socketio-Signature: t=1767225600,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd,v1=...
//
// where t is the time in Unix seconds and each v1 the hex HMAC-SHA256 of
// "<t>.<exact body bytes>" under one secret, the first secret first (during
// a key rotation the backend accepts any it knows). Verify checks it for a
// Go backend. Without secrets no signature is sent. Connect and event
// requests also carry the allowlisted handshake headers (ForwardHeaders)
// as HTTP headers.
//
// Every body describes the socket and its handshake:
//
//	{
//	  "id": "9f86d081884c7d65-1",       // unique: deduplicate with it
//	  "type": "connect",                // connect, event, or in a notify batch connect, disconnect, join, leave
//	  "time": 1767225600123,            // milliseconds since the epoch
//	  "namespace": "/chat",
//	  "socket": {
//	    "id": "lpaEr2xX0A7f2WxOAAAB",
//	    "transport": "websocket",       // or "polling"
//	    "protocol": 5,                  // 5: socket.io-client 3.x/4.x; 4: 2.x
//	    "address": "203.0.113.7",
//	    "rooms": ["lpaEr2xX0A7f2WxOAAAB", "lobby"],
//	    "data": {"user": 42},           // socket.data, null when unset
//	    "meta": {"session": "s1"},      // what the backend stored as meta, null when unset
//	    "recovered": false              // true: its state came back through connection state recovery
//	  },
//	  "handshake": {
//	    "url": "/socket.io/?EIO=4&transport=polling&room=x",
//	    "query": {"EIO": "4", "transport": "polling", "room": "x", "tag": ["a", "b"]},
//	    "headers": {"authorization": "Bearer abc"},   // allowlisted only, lower-case names
//	    "auth": {"token": "abc"},       // what the client sent: untrusted; {} for 2.x clients
//	    "secure": false,
//	    "time": "Thu Jan 01 2026 00:00:00 GMT+0000 (UTC)",
//	    "issued": 1767225600000
//	  }
//	}
//
// For a socket.io-client 2.x client (protocol 4), which has no auth, the
// query also holds the namespace's query option (sent in its CONNECT), as
// the socket.io 2.x server merged it. The query and auth are the client's
// word: they are passed on, never used to pick the URL or to build a
// header.
//
// # connect
//
// With Connect set, a socket joining the namespace waits (on a goroutine
// of its own) for the backend's answer before its client sees CONNECT:
//
//	200 {"accept": true, "data": {"user": 42}, "rooms": ["lobby", "user:42"], "meta": {"session": "s1"}}
//
// data becomes socket.data (visible to fetchSockets on every node), the
// rooms are joined before the client sees connect, and meta is private:
// it comes back in every later hook of the socket, so that the backend can
// stay stateless. Each of them is optional. Or:
//
//	200 {"accept": false, "message": "not allowed", "data": {"reason": "expired"}}
//
// which the client receives as its connect_error with that message and
// data, as from Node's next(err) with err.data (a 2.x client gets the data
// alone in its error event, or the message without data, as Node sends
// it). A timeout, a refused connection, a non-2xx status or an answer that
// is not valid also refuses the socket, with a connect_error whose data
// tells the client it may try again, and is logged with its cause:
//
//	{"message": "the backend did not answer in time", "data": {"retryable": true, "code": "timeout"}}
//
// A refused socket gets no connect notification.
//
// # event
//
// Each event named by Events (path.Match globs) goes to the backend, with
// its arguments and whether the client waits for an ack:
//
//	{"id": "...", "type": "event", ..., "event": "order:place", "args": [{"sku": "A1"}, {"_binary": "AAEC"}], "ack": true}
//
// Binary arguments are {"_binary": "<standard base64>"} objects, anywhere in
// the arguments. The events of one socket are sent one at a time, in the
// order the client emitted them (a queue per socket, with a goroutine only
// while it holds events; past 64 waiting, an event fails with
// "queue_full"). The answer:
//
//	200 {
//	  "ack": ["ok", {"_binary": "aGk="}],
//	  "emit": [{"event": "order:placed", "args": [{"id": 7}], "to": ["user:42"], "except": []}],
//	  "join": ["order:7"], "leave": ["cart"],
//	  "data": {"user": 42, "orders": 1},
//	  "meta": {"session": "s1", "n": 2},
//	  "disconnect": false
//	}
//
// Every field is optional. The actions are applied in the order data (which
// replaces socket.data), meta, join, leave, emit, then the ack is sent, then
// the socket is disconnected if asked; they apply to events sent without an
// ack as well. An emit goes through the adapter, so to every node, as
// Node's io.to(to).except(except).emit(event, ...args): the sender receives
// it when it is in a room of to; an empty to is the whole namespace. A
// missing ack answers a waiting client with no arguments. A literal
// {"_binary": "..."} object (a one-key object) in the answer is always read
// as binary.
//
// An event hook is never retried once sent (at most once). When it fails,
// the ack is one argument, so that the client's callback learns of it at
// once instead of at its own timeout:
//
//	{"error": {"code": "timeout", "message": "the backend did not answer in time"}}
//
// The codes: "timeout" (no answer within Timeout), "unavailable" (connection
// refused, a non-2xx status, the hooks turned off or shutting down),
// "bad_answer" (not JSON, larger than MaxAnswerBytes, or of the wrong shape),
// "overloaded" (MaxConcurrent requests in flight for the whole Timeout),
// "queue_full" (64 events of the socket already waiting).
//
// # notify
//
// The lifecycle types named by Notify are sent asynchronously, in batches:
//
//	{"events": [
//	  {"id": "...-7", "type": "connect", "time": ..., "namespace": "/chat", "socket": {...}, "handshake": {...}},
//	  {"id": "...-8", "type": "join", ..., "room": "order:7"},
//	  {"id": "...-9", "type": "leave", ..., "room": "cart"},
//	  {"id": "...-10", "type": "disconnect", ..., "reason": "transport close"}
//	]}
//
// and the backend answers any 2xx status (the body is ignored). Delivery is
// at least once: a failed batch (a timeout, an error, a non-2xx status) is
// retried with exponential backoff and jitter, with the same ids, so
// deduplicate by id. The queue (10,000 per Config) drops the oldest
// notification when full; drops are counted (DroppedNotifications) and
// logged once per burst. The queue is flushed when SetConfig replaces the
// configuration (through the old configuration's transport) and on Close.
// join and leave come from the namespace's OnJoin and OnLeave, so only after
// connect: the rooms given by the connect answer are not reported (they are
// in the connect notification's socket.rooms). disconnect carries Node's
// reason ("client namespace disconnect", "transport close", "ping timeout",
// "server shutting down", ...); its socket.rooms is empty, the socket having
// left them. With a cluster adapter (Redis) each node observes only its own
// sockets, so a socket's lifecycle is sent by the one node that owns it,
// never once per node.
//
// # Faults
//
// A slow or dead backend delays only the sockets waiting on it, each for at
// most Timeout: connect hooks run on the connecting socket's goroutine,
// events on the socket's queue goroutine, notifications on the Config's
// sender; read loops, heartbeats, other sockets and other namespaces go on.
// MaxConcurrent bounds the requests in flight per Config (a reconnect storm
// waits in line instead of overwhelming the backend). An answer that is
// not JSON, too large, or of the wrong shape is a logged failure. Secrets
// are never logged.
//
// # Metrics
//
// Stats counts, per hook (connect, event, notify), the calls by outcome
// (ok, refused, or the error code) and a latency histogram of the
// requests, in atomic counters bumped once per call: package metrics reads
// them at scrape time. They are the Hooks', so they go on across
// SetConfig.
//
// # Concurrency
//
// A Hooks is safe for concurrent use. The configuration in use is one
// atomic pointer, read once per hook call: SetConfig applies to the next
// call, calls under way finish with the configuration they started with,
// and live sockets keep their data and meta. Hooks.mu guards the per-socket
// event queues and the goroutine accounting; each notification queue has a
// mutex of its own, taken before Hooks.mu. Every goroutine (event queues,
// notification senders) belongs to the Hooks, and Close waits for all of
// them; the connect hook runs on the socketio package's middleware
// goroutine.
package hooks
