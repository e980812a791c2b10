package main

import (
	"net/http"
	"time"

	"github.com/caddy-socketio/caddy-socketio/engine"
	"github.com/caddy-socketio/caddy-socketio/socketio"
)

func init() { mounts = append(mounts, mountSocketIO) }

// authDelay separates the "auth" event from the CONNECT answer on the wire.
const authDelay = 20 * time.Millisecond

// mountSocketIO serves the Socket.IO protocol test suite's server at
// /socket.io/: on "/", an "auth" event with the handshake's auth on
// connection, "message" echoed as "message-back" and "message-with-ack"
// acknowledged with its own arguments; on "/custom", the "auth" event
// only; every other namespace is refused.
func mountSocketIO(mux *http.ServeMux) {
	eng := engine.NewServer(engine.Options{
		PingInterval: 300 * time.Millisecond,
		PingTimeout:  200 * time.Millisecond,
		MaxPayload:   1000000,
	})
	io := socketio.NewServer(eng, socketio.Options{ConnectTimeout: time.Second})

	// The suite reads each message with a fresh once-listener and its ws
	// client (8.5) dispatches every frame of a TCP read synchronously, so a
	// second frame read together with the CONNECT answer is lost to it; it
	// loses frames the same way against Node's server (about one run in
	// three with a tight loop). The "auth" event therefore leaves a moment
	// after the CONNECT answer: real clients see the same events either way.
	sendAuth := func(s *socketio.Socket) {
		time.AfterFunc(authDelay, func() { _ = s.Emit("auth", s.Handshake().Auth) })
	}
	root := io.Of("/")
	root.OnConnection(func(s *socketio.Socket) {
		sendAuth(s)
		// The arguments go back as they came, binary attachments included,
		// without being decoded.
		s.On("message", func(e *socketio.Event) { _ = s.Emit("message-back", e.Args) })
		s.On("message-with-ack", func(e *socketio.Event) { _ = e.Ack(e.Args) })
	})
	io.Of("/custom").OnConnection(sendAuth)
	mux.Handle("/socket.io/", io)
}
