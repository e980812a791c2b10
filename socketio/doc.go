// Package socketio implements the Socket.IO protocol on top of package
// engine: revision 5, spoken by socket.io-client 3.x and 4.x over
// Engine.IO 4, and revision 4, spoken by socket.io-client 2.x over
// Engine.IO 3. Namespaces are multiplexed over one Engine.IO session;
// events and acknowledgements carry JSON and binary attachments; rooms and
// broadcasts go through an Adapter (in memory by default).
//
// The API follows the Node server's:
//
//	eng := engine.NewServer(engine.Options{AllowEIO3: true})
//	io := socketio.NewServer(eng, socketio.Options{Logger: logger})
//	chat := io.Of("/chat")
//	chat.Use(func(s *socketio.Socket) error { // a middleware
//		if token, _ := s.Handshake().AuthValue("token"); token != "secret" {
//			return &socketio.ConnectError{Message: "not authorized", Data: map[string]any{"code": 42}}
//		}
//		return nil
//	})
//	chat.OnConnection(func(s *socketio.Socket) {
//		s.Join("lobby")
//		s.On("message", func(e *socketio.Event) {
//			s.To("lobby").Emit("message", e.Args) // on as it came, not decoded
//			e.Ack("received")
//		})
//	})
//	http.Handle("/socket.io/", io)
//
// Event arguments stay raw JSON (Args) until a handler decodes them, so
// relaying or echoing them costs no JSON work; a []byte anywhere in emitted
// arguments becomes a binary attachment. A broadcast is encoded once, and
// the same prepared Engine.IO messages are queued on every receiver, of
// either revision and on either transport. Volatile emits
// (socket.Volatile().Emit, Namespace.Volatile, BroadcastOperator.Volatile)
// are dropped, not queued, for a client whose transport cannot write them
// at once, as in Node.
//
// A socket.io-client 2.x client never asks to join "/": the server joins
// it there (middlewares, then the connection handler) when the client first
// comes back after its handshake, its first poll or at once on WebSocket.
// Node does it at the handshake; the client sees the same packets, and
// handshakes nobody follows up cost no socket.
//
// With Options.ConnectionStateRecovery (Node's connectionStateRecovery,
// recovery.go), a socket.io-client 4.6+ that loses its connection and
// reconnects within RecoveryOptions.MaxDisconnectionDuration gets its socket
// id, rooms, Data and Meta back, and the events it missed, before its
// CONNECT answer; Socket.Recovered tells. Each namespace keeps a log of the
// events it stored (offset appended as their last argument on the wire,
// except to 2.x clients), bounded by age and by RecoveryOptions.MaxLogBytes,
// and one lock orders them: a recovering socket gets each missed event
// exactly once. A session is handed back once; a client that cannot have
// everything it missed gets a fresh socket, as in Node.
//
// Malformed packets, reserved event names from a client, too many
// attachments (10) and JSON nested deeper than 64 levels close that
// client's connection only, with an info log line that names its address
// (never the Engine.IO session id, which authenticates its requests and is
// logged at debug level at most).
//
// Limits that cost nothing while off: Options.EventRateLimit (and
// Namespace.SetEventRateLimit) bounds the events a socket may send, a token
// bucket per socket allocated at its first event under a limit;
// Options.MaxRoomsPerSocket bounds what Socket.Join adds. Each is logged
// once per socket when it first refuses something.
package socketio
