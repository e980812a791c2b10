package main

import (
	"net/http"
	"time"

	"github.com/caddy-socketio/caddy-socketio/engine"
)

// mountEngine serves the Engine.IO protocol test suite's server: an echo of
// every message, text and binary, with the timings the suite expects.
func mountEngine(mux *http.ServeMux) {
	srv := engine.NewServer(engine.Options{
		PingInterval: 300 * time.Millisecond,
		PingTimeout:  200 * time.Millisecond,
		MaxPayload:   1000000,
	})
	srv.OnConnection(func(s *engine.Session) {
		s.OnMessage(func(m engine.Message) { s.Send(m) })
	})
	mux.Handle("/engine.io/", srv)
}
