package socketio

import (
	"testing"
	"time"

	"github.com/caddy-socketio/caddy-socketio/engine"
)

// statsOf returns the totals of namespace name.
func statsOf(t *testing.T, srv *Server, name string) NamespaceStats {
	t.Helper()
	for _, ns := range srv.Stats().Namespaces {
		if ns.Name == name {
			return ns
		}
	}
	t.Fatalf("no namespace %q in the stats", name)
	return NamespaceStats{}
}

func TestStatsCountSocketsBroadcastsAndDisconnects(t *testing.T) {
	ts := startServer(t, "", engine.Options{}, func(ts *testServer) { ts.io.Of("/other") })
	clients, sockets := connectRaw(t, ts, 3)
	sockets[0].Join("room")
	sockets[1].Join("room")
	if err := ts.io.To("room").Emit("ev"); err != nil {
		t.Fatal(err)
	}
	if err := ts.io.Emit("all"); err != nil {
		t.Fatal(err)
	}
	for _, c := range clients[:2] {
		if got := c.read(); got != `42["ev"]` {
			t.Fatalf("got %q", got)
		}
	}
	st := statsOf(t, ts.io, "/")
	if st.Sockets != 3 || st.Connects != 3 || st.Broadcasts != 2 || st.Deliveries != 5 {
		t.Errorf("got %d sockets, %d connects, %d broadcasts, %d deliveries; want 3, 3, 2, 5", st.Sockets, st.Connects, st.Broadcasts, st.Deliveries)
	}

	sockets[0].Disconnect(false)
	clients[1].send("41")
	deadline := time.Now().Add(5 * time.Second)
	for statsOf(t, ts.io, "/").Sockets != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	st = statsOf(t, ts.io, "/")
	byReason := map[string]uint64{}
	for i, n := range st.Disconnects {
		if n > 0 {
			byReason[DisconnectReasons[i]] = n
		}
	}
	if st.Sockets != 1 || len(byReason) != 2 || byReason["server namespace disconnect"] != 1 || byReason["client namespace disconnect"] != 1 {
		t.Errorf("after two disconnects: %d sockets, disconnects %v", st.Sockets, byReason)
	}
	if other := statsOf(t, ts.io, "/other"); other.Sockets != 0 || other.Connects != 0 {
		t.Errorf("/other: %+v", other)
	}
}

func TestStatsCountConnectTimeouts(t *testing.T) {
	ts := startServerWith(t, "", engine.Options{}, Options{ConnectTimeout: 50 * time.Millisecond}, func(*testServer) {})
	c := dialRaw(t, ts) // never sends a CONNECT
	if !c.closed() {
		t.Fatal("the connection was not closed after the connect timeout")
	}
	if got := ts.io.Stats().ConnectTimeouts; got != 1 {
		t.Errorf("connect timeouts: %d, want 1", got)
	}
}
