package caddysocketio

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-socketio/caddy-socketio/internal/testpeer"
	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// A client whose connection is lost while Caddy reloads its config comes
// back to the same live server and recovers: its id, its rooms (from join),
// the events broadcast to them while it was away, after the reload too.
func TestRecoveryAcrossAReload(t *testing.T) {
	addr := inProcessCaddy(t)
	config := func(duration string) string {
		return site(addr, `
	socketio {
		connection_state_recovery {
			max_disconnection_duration `+duration+`
		}
		namespace / {
			join room1
		}
	}`)
	}
	loadCaddyfile(t, config("2m"))
	live := liveServerNamed(t, "/socket.io/")
	ready, lost, back := make(chan string, 1), make(chan string, 1), make(chan string, 1)
	// The application part of socketio/testdata/recovery.js's server.
	live.io.OnConnection(func(s *socketio.Socket) {
		_, again := s.Handshake().AuthValue("pid")
		if !again {
			live.io.To(s.ID()).Emit("before", 0)
			s.On("ready", func(*socketio.Event) { ready <- s.ID() })
			s.OnDisconnect(func(reason string) { lost <- reason })
			return
		}
		back <- strings.Join(s.Rooms(), ",")
		_ = s.Emit("after")
	})

	proxy := testpeer.StartCutProxy(t, addr)
	c := startNode(t, filepath.Join("socketio", "testdata", "recovery.js"), "URL="+proxy.URL(), "SCENARIO=drop", "TRANSPORTS=websocket")
	c.expect(t, "first", `{"recovered":false}`)
	var sid string
	select {
	case sid = <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("the client never said it was ready")
	}
	proxy.Cut()
	if reason := <-lost; reason != "transport close" {
		t.Errorf("the server saw the client go with %q", reason)
	}
	live.io.To("room1").Emit("missed", 1)
	loadCaddyfile(t, config("3m")) // caddy reload
	if got := liveServerNamed(t, "/socket.io/"); got != live {
		t.Fatal("the reload started a new live server")
	}
	live.io.To("room1").Emit("missed", 2)
	live.io.To(sid).Emit("missed", 3)
	proxy.Restore()

	c.expect(t, "disconnect", `"transport close"`)
	c.expect(t, "second", `{"recovered":true,"sameId":true}`)
	for _, want := range []string{`["before",0,"+offset"]`, `["missed",1,"+offset"]`, `["missed",2,"+offset"]`, `["missed",3,"+offset"]`, `["after","+offset"]`} {
		c.expect(t, "event", want)
	}
	c.wait(t)
	if rooms := <-back; rooms != sid+",room1" && rooms != "room1,"+sid {
		t.Errorf("recovered in rooms %s, want %s and room1", rooms, sid)
	}

	// caddy stop ends the sessions with the server that kept them: the next
	// start has a new one.
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
	loadCaddyfile(t, config("3m"))
	if liveServerNamed(t, "/socket.io/") == live {
		t.Error("after caddy stop the same live server (and its sessions) came back")
	}
}
