package caddysocketio

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestMaxConnectionsPerIPCountsTheAddressCaddyResolves(t *testing.T) {
	addr := inProcessCaddy(t)
	cfg := strings.Replace(site(addr, `
	socketio {
		max_connections_per_ip 2
	}`), "persist_config off", "persist_config off\n\tservers {\n\t\ttrusted_proxies static 127.0.0.1/8\n\t}", 1)
	loadCaddyfile(t, cfg)
	c := startNode(t, filepath.Join("testdata", "clients", "limits.js"), "URL=http://"+addr, "SCENARIO=perIP")
	c.expect(t, "first-two", `[{"connected":true},{"connected":true}]`)
	// What socket.io-client shows in connect_error: over polling the status
	// and the body, over WebSocket the status (a browser shows neither).
	c.expect(t, "third-polling", `{"message":"xhr poll error","description":429,"body":"{\"code\":6,\"message\":\"Too many connections from this address\"}"}`)
	c.expect(t, "third-websocket", `{"message":"websocket error","description":"Unexpected server response: 429"}`)
	c.expect(t, "other-address", `{"connected":true}`)
	c.expect(t, "after-one-left", `{"connected":true}`)
	c.wait(t)
}

func TestMaxEventsPerSecondDisconnectsAFloodingClient(t *testing.T) {
	addr := inProcessCaddy(t)
	loadCaddyfile(t, site(addr, `
	socketio {
		max_events_per_second 2 burst 2 disconnect
		namespace / {
			relay
		}
	}`))
	c := startNode(t, filepath.Join("testdata", "clients", "limits.js"), "URL=http://"+addr, "SCENARIO=flood")
	c.expect(t, "reason", `"io server disconnect"`)
	c.expect(t, "acks", `[0,1]`)
	c.wait(t)
}

func TestLimitsAreValidatedWithTheFix(t *testing.T) {
	for _, tc := range []struct {
		h    Handler
		want string
	}{
		{Handler{MaxConnections: -1}, "max_connections -1 must be positive; leave it out for no limit"},
		{Handler{MaxConnections: 10, MaxConnectionsPerIP: 20}, "max_connections_per_ip 20 is above max_connections 10, so it never applies; lower it or raise max_connections"},
		{Handler{MaxRoomsPerSocket: -2}, "max_rooms_per_socket -2 must be positive; leave it out for no limit"},
		{Handler{MaxBufferedBytes: 1000}, "max_buffered_bytes 1000 is too small to hold one client's backlog; use at least 1MiB (or off)"},
		{Handler{MaxEventsPerSecond: &EventRate{Events: 0.5}}, "max_events_per_second 0.5 must be at least 1; to turn the limit off, leave it out"},
		{Handler{MaxEventsPerSecond: &EventRate{Events: 5, Action: "kick"}}, `max_events_per_second action "kick" is not drop or disconnect`},
		{Handler{Namespaces: []Namespace{{Name: "/chat", MaxEventsPerSecond: &EventRate{Events: 5, Burst: -1}}}}, "namespace /chat: max_events_per_second burst -1 must be positive"},
	} {
		err := tc.h.Validate()
		if err == nil || err.Error() != tc.want {
			t.Errorf("Validate() = %v, want %q", err, tc.want)
		}
	}
	ok := Handler{Namespaces: []Namespace{{Name: "/free", MaxEventsPerSecond: &EventRate{}}}, MaxBufferedBytes: -1}
	if err := ok.Validate(); err != nil {
		t.Errorf("a namespace lifting the rate, and max_buffered_bytes off: %v", err)
	}
}

func TestJoinTemplatesBeyondMaxRoomsPerSocketAreNotJoined(t *testing.T) {
	addr := inProcessCaddy(t)
	loadCaddyfile(t, site(addr, `
	socketio {
		max_rooms_per_socket 2
		namespace /chat {
			join lobby room-{query.room} team-{query.team}
		}
	}`))
	if rooms := joinedChatRooms(t, addr, "room=a&team=red"); strings.Join(rooms, ",") != "lobby,room-a" {
		t.Errorf("the socket is in %v (its id room aside), want the first two join rooms only", rooms)
	}
}

func TestAReloadChangesTheEventRateOfConnectedSockets(t *testing.T) {
	addr := inProcessCaddy(t)
	config := func(limit string) string {
		return site(addr, `
	socketio {
		`+limit+`
		namespace / {
			relay
		}
	}`)
	}
	loadCaddyfile(t, config("max_events_per_second 1 burst 1 disconnect"))
	conn, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	read := func() string {
		for {
			_, msg, err := conn.ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			if string(msg) != "2" {
				return string(msg)
			}
		}
	}
	read() // the open packet
	conn.WriteMessage(websocket.TextMessage, []byte("40"))
	if got := read(); !strings.HasPrefix(got, "40{") {
		t.Fatalf("CONNECT answered %q", got)
	}
	loadCaddyfile(t, config("max_events_per_second 100 burst 100")) // caddy reload
	for id := 1; id <= 5; id++ {
		conn.WriteMessage(websocket.TextMessage, []byte(`42`+strconv.Itoa(id)+`["m"]`))
	}
	for id := 1; id <= 5; id++ {
		if got, want := read(), `43`+strconv.Itoa(id)+`[]`; got != want {
			t.Fatalf("after the reload: got %q, want %q (the old rate would have disconnected the socket)", got, want)
		}
	}
}
