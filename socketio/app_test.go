package socketio

import (
	"context"
	"time"
)

// setupApp installs the application the client tests talk to.
//
//   - "/": on connection emits "welcome" ("hello", 1.5, {"k":"v"},
//     {"bin": <ff 00>}); "echo" comes back as "echo-back" with the same
//     arguments; "ack-me" is acknowledged with its arguments; "ask-me"
//     makes the server emit "question" 41 with an acknowledgement and
//     report the answer as "answered"; "join" joins the room named by its
//     argument and acknowledges; "to-room" (room, args...) emits "room-msg"
//     to the room except the sender; "shout" emits "all" to the namespace;
//     "kick" disconnects the namespace, "kick-all" the whole connection.
//   - "/admin": a middleware wants auth {"token":"secret"} (or the query
//     token=secret from socket.io-client 2.x) and otherwise refuses with
//     "not authorized" and data {"code":42}; on connection emits
//     "admin-welcome" with the handshake auth.
//   - "/relay": relays every event; a middleware joins the room named by
//     auth.room (or the query room).
//
// The server notes "connect <nsp>", "disconnect <nsp> <reason>" and
// "joined <room>".
func setupApp(ts *testServer) {
	io := ts.io
	track := func(s *Socket) {
		// The disconnect handler first: a test that sees the connect may
		// stop the server at once.
		s.OnDisconnect(func(reason string) { ts.note("disconnect " + s.Namespace().Name() + " " + reason) })
		ts.note("connect " + s.Namespace().Name())
	}
	main := io.Of("/")
	main.OnConnection(func(s *Socket) {
		_ = s.Emit("welcome", "hello", 1.5, map[string]any{"k": "v"}, map[string]any{"bin": []byte{0xff, 0}})
		s.On("echo", func(e *Event) { _ = s.Emit("echo-back", e.Args) })
		s.On("ack-me", func(e *Event) { _ = e.Ack(e.Args) })
		s.On("ask-me", func(e *Event) {
			// The answer comes through this client's read loop: wait for
			// it elsewhere.
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				answer, err := s.EmitWithAck(ctx, "question", 41)
				if err != nil {
					_ = s.Emit("answered", "error: "+err.Error())
					return
				}
				_ = s.Emit("answered", answer)
			}()
		})
		s.On("join", func(e *Event) {
			room, _ := e.Args.String(0)
			s.Join(room)
			ts.note("joined " + room)
			_ = e.Ack()
		})
		s.On("to-room", func(e *Event) {
			room, _ := e.Args.String(0)
			_ = s.To(room).Emit("room-msg", Args{JSON: e.Args.JSON[1:], Attachments: e.Args.Attachments})
		})
		s.On("shout", func(e *Event) { _ = main.Emit("all", e.Args) })
		s.On("kick", func(*Event) { s.Disconnect(false) })
		s.On("kick-all", func(*Event) { s.Disconnect(true) })
		track(s)
	})

	admin := io.Of("/admin")
	admin.Use(func(s *Socket) error {
		h := s.Handshake()
		if token, _ := h.AuthValue("token"); token != "secret" {
			return &ConnectError{Message: "not authorized", Data: map[string]any{"code": 42}}
		}
		return nil
	})
	admin.OnConnection(func(s *Socket) {
		_ = s.Emit("admin-welcome", s.Handshake().Auth)
		s.On("kick", func(*Event) { s.Disconnect(false) })
		track(s)
	})

	relay := io.Of("/relay")
	relay.Relay()
	relay.Use(func(s *Socket) error {
		h := s.Handshake()
		if room, ok := h.AuthValue("room"); ok {
			if r, _ := room.(string); r != "" {
				s.Join(r)
			}
		}
		return nil
	})
	relay.OnConnection(track)
}
