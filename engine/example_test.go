package engine_test

import (
	"log"
	"net/http"
	"time"

	"github.com/caddy-socketio/caddy-socketio/engine"
)

// An echo server for engine.io-client, as the protocol test suite expects it.
func Example() {
	srv := engine.NewServer(engine.Options{
		PingInterval: 300 * time.Millisecond,
		PingTimeout:  200 * time.Millisecond,
		AllowEIO3:    true,
	})
	srv.OnConnection(func(s *engine.Session) {
		// Handlers set here are in place before the first message.
		s.OnMessage(func(m engine.Message) { s.Send(m) })
		s.OnClose(func(reason string) { log.Printf("session closed: %s", reason) })
	})
	http.Handle("/engine.io/", srv)
	// http.ListenAndServe("127.0.0.1:3000", nil)
}
