package integration_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// relaySite is a site block with an endpoint relaying every event to every
// other socket, whose cors block allows origin; the clients in these tests
// are Node's, which send no Origin.
func relaySite(port int, origin string) string {
	return fmt.Sprintf(`http://:%d {
	bind 127.0.0.1
	socketio {
		allow_eio3
		cors {
			origin %s
		}
		namespace / {
			relay
		}
	}
}
`, port, origin)
}

// handshakeAllowed reports whether a browser on origin may read a polling
// handshake: Caddy answered 200 with its origin in
// Access-Control-Allow-Origin.
func handshakeAllowed(t *testing.T, server, origin string) bool {
	t.Helper()
	resp, body := httpGet(t, server+"/socket.io/?EIO=4&transport=polling", http.Header{"Origin": {origin}})
	allowed := resp.StatusCode == http.StatusOK && resp.Header.Get("Access-Control-Allow-Origin") == origin
	if allowed && !handshakeBody.MatchString(body) {
		t.Errorf("handshake from %s: %q", origin, body)
	}
	return allowed
}

// The Node guide changes the allowed origins at run time with
// io.origins([...]); here that is `caddy reload`: new handshakes follow the
// new list, while connected clients keep their session and socket id and
// see no disconnect.
func TestReloadKeepsConnectionsAndAppliesNewOrigins(t *testing.T) {
	port := freePort(t)
	server := fmt.Sprintf("http://127.0.0.1:%d", port)
	c := startCaddy(t, relaySite(port, "https://first.example"))

	clients := startClients(t,
		clientSpec{Name: "ws", Version: "v4", URL: server, Query: map[string]string{"room": "r"}},
		clientSpec{Name: "poll", Version: "v4", URL: server, Transports: []string{"polling"}, Query: map[string]string{"room": "r"}},
		clientSpec{Name: "v2", Version: "v2", URL: server, Transports: []string{"websocket"}, Query: map[string]string{"room": "r"}},
	)
	before := clients.connected(10*time.Second, "ws", "poll", "v2")
	clients.waitFor(5*time.Second, "ws upgrading to WebSocket", onWebSocket("ws"))

	if !handshakeAllowed(t, server, "https://first.example") || handshakeAllowed(t, server, "https://second.example") {
		t.Fatal("before the reload, want https://first.example allowed and https://second.example not")
	}

	start := time.Now()
	c.reload(relaySite(port, "https://second.example"))
	t.Logf("caddy reload took %v with a long-poll, a WebSocket and an EIO3 WebSocket open", time.Since(start))

	if !handshakeAllowed(t, server, "https://second.example") {
		t.Error("after the reload, https://second.example is not allowed")
	}
	if handshakeAllowed(t, server, "https://first.example") {
		t.Error("after the reload, https://first.example is still allowed")
	}

	// The same sockets still relay to each other, in both directions and
	// over each transport.
	clients.send(map[string]any{"cmd": "emit", "name": "ws", "event": "note", "args": []any{"after reload"}})
	clients.waitFor(5*time.Second, "poll receiving the note", func(e clientEvent) bool {
		return e.Type == "received" && e.Name == "poll" && e.Event == "note"
	})
	clients.waitFor(5*time.Second, "v2 receiving the note", func(e clientEvent) bool {
		return e.Type == "received" && e.Name == "v2" && e.Event == "note"
	})
	clients.send(map[string]any{"cmd": "emit", "name": "poll", "event": "reply", "args": []any{"from polling"}})
	clients.waitFor(5*time.Second, "ws receiving the reply", func(e clientEvent) bool {
		return e.Type == "received" && e.Name == "ws" && e.Event == "reply"
	})

	clients.send(map[string]any{"cmd": "status"})
	status := clients.waitFor(5*time.Second, "status", func(e clientEvent) bool { return e.Type == "status" })
	for _, s := range status.Clients {
		if !s.Connected || s.ID != before[s.Name].ID {
			t.Errorf("%s after the reload: connected=%v id=%q; want connected with its id %q", s.Name, s.Connected, s.ID, before[s.Name].ID)
		}
	}
	if got := clients.all(func(e clientEvent) bool { return e.Type == "disconnect" || e.Type == "connect_error" }); len(got) != 0 {
		t.Errorf("the clients saw %+v; want nothing", got)
	}
}

// `caddy stop` closes every Socket.IO session itself: the clients learn of
// it at once (not after a ping timeout) and Caddy exits without waiting for
// long-polls to run out.
func TestCaddyStopDisconnectsClients(t *testing.T) {
	port := freePort(t)
	server := fmt.Sprintf("http://127.0.0.1:%d", port)
	c := startCaddy(t, relaySite(port, "https://first.example"))
	clients := startClients(t,
		clientSpec{Name: "ws", Version: "v4", URL: server, Transports: []string{"websocket"}},
		clientSpec{Name: "poll", Version: "v4", URL: server, Transports: []string{"polling"}},
		clientSpec{Name: "v2", Version: "v2", URL: server},
	)
	clients.connected(10*time.Second, "ws", "poll", "v2")
	clients.waitFor(5*time.Second, "v2 upgrading to WebSocket", onWebSocket("v2"))
	// And a session nobody polls: the troubleshooting curl leaves one behind.
	if resp, body := httpGet(t, server+"/socket.io/?EIO=4&transport=polling", nil); !handshakeBody.MatchString(body) {
		t.Fatalf("curl handshake: %d %q", resp.StatusCode, body)
	}
	// Let the polling client's next GET be the one in flight.
	time.Sleep(200 * time.Millisecond)

	stopped := time.Now()
	// The ping interval is 25s and the ping timeout 20s: an exit or a
	// disconnect within 10s can only come from the server closing the
	// sessions.
	exit := c.stop(10 * time.Second)
	t.Logf("caddy exited %v after `caddy stop` began", exit)
	for _, name := range []string{"ws", "poll", "v2"} {
		e := clients.waitFor(10*time.Second-time.Since(stopped), name+" disconnecting", is("disconnect", name))
		switch e.Reason {
		case "transport close", "io server disconnect", "transport error":
		default:
			t.Errorf("%s disconnected with %q, want the server closing it", name, e.Reason)
		}
		t.Logf("%s: %q after %v", name, e.Reason, e.at.Sub(stopped))
	}
	if logs := c.logs.String(); strings.Contains(logs, `"level":"error"`) || strings.Contains(logs, "[ERROR]") {
		t.Errorf("caddy logged errors while stopping:\n%s", c.logs.String())
	}
}

// A long-poll waits up to ping_interval for something to send; a server
// write timeout shorter than that must not cut it (or the polling client
// would lose its session at every ping).
func TestLongPollOutlivesServerWriteTimeout(t *testing.T) {
	port := freePort(t)
	server := fmt.Sprintf("http://127.0.0.1:%d", port)
	startCaddy(t, fmt.Sprintf(`http://:%d {
	bind 127.0.0.1
	socketio {
		ping_interval 2500ms
		namespace / {
			relay
		}
	}
}
`, port), "servers {\ntimeouts {\nwrite 1s\n}\n}")
	clients := startClients(t,
		clientSpec{Name: "poll", Version: "v4", URL: server, Transports: []string{"polling"}},
		clientSpec{Name: "ws", Version: "v4", URL: server, Transports: []string{"websocket"}},
	)
	clients.connected(10*time.Second, "poll", "ws")
	// Past one ping interval: the GET the client sent after connecting was
	// held 2.5s, beyond the 1s write timeout, then answered with the ping.
	time.Sleep(3500 * time.Millisecond)
	if cut := clients.all(func(e clientEvent) bool { return e.Type == "disconnect" }); len(cut) != 0 {
		t.Fatalf("the write timeout cut the session: %s disconnected with %q", cut[0].Name, cut[0].Reason)
	}

	clients.send(map[string]any{"cmd": "emit", "name": "ws", "event": "note", "args": []any{"still there?"}})
	clients.waitFor(5*time.Second, "poll receiving the note", func(e clientEvent) bool {
		return e.Type == "received" && e.Name == "poll" && e.Event == "note"
	})
	if got := clients.all(func(e clientEvent) bool { return e.Type == "disconnect" }); len(got) != 0 {
		t.Errorf("disconnects: %+v", got)
	}
}
