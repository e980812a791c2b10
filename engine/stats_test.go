package engine

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// waitStats waits (bounded) until cond holds for the server's totals: the
// closing side of a session counts after the client has seen its end.
func waitStats(t *testing.T, srv *Server, what string, cond func(StatsSnapshot) bool) StatsSnapshot {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := srv.Stats().Snapshot()
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: stats never got there: %+v", what, s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestStatsCountHandshakesByOutcome(t *testing.T) {
	ws := newWireServer(t, Options{AllowEIO3: true, AllowRequest: func(r *http.Request) error {
		if r.URL.Query().Get("deny") != "" {
			return errors.New("Forbidden")
		}
		return nil
	}})
	ws.open(t)
	ws.open(t)
	ws.do(t, "GET", ws.url("EIO=3&transport=polling"), "", "")
	ws.do(t, "GET", ws.url("EIO=4&transport=polling&deny=1"), "", "")
	ws.do(t, "GET", ws.url("EIO=4&transport=carrier-pigeon"), "", "")
	ws.do(t, "POST", ws.url("EIO=4&transport=polling"), "text/plain", "4x")
	// Requests of a session are not handshakes, even when refused.
	ws.do(t, "GET", ws.url("EIO=4&transport=polling&sid=nosuchsession"), "", "")

	s := ws.srv.Stats().Snapshot()
	if got := s.Handshakes[HandshakeAccepted]; got != 3 {
		t.Errorf("accepted: %d, want 3", got)
	}
	if got := s.Handshakes[HandshakeRefusedAllowRequest]; got != 1 {
		t.Errorf("refused_allow_request: %d, want 1", got)
	}
	if got := s.Handshakes[HandshakeBadRequest]; got != 2 {
		t.Errorf("bad_request: %d, want 2", got)
	}
	if s.Sessions[1][0] != 2 || s.Sessions[0][0] != 1 {
		t.Errorf("open polling sessions by protocol: 3: %d, 4: %d; want 1 and 2", s.Sessions[0][0], s.Sessions[1][0])
	}
}

func TestStatsFollowASessionThroughItsUpgradeAndClose(t *testing.T) {
	ws := newWireServer(t, Options{})
	sid := ws.open(t)
	poll := ws.url("EIO=4&transport=polling&sid=" + sid)
	if res := ws.do(t, "POST", poll, "text/plain;charset=UTF-8", "4hello\x1e4world"); res.body != "ok" {
		t.Fatalf("POST: %d %q", res.status, res.body)
	}
	// The echoes come back on one GET.
	if res := ws.do(t, "GET", poll, "", ""); res.body != "4hello\x1e4world" {
		t.Fatalf("GET: %q", res.body)
	}
	s := ws.srv.Stats().Snapshot()
	if s.PacketsIn[0] != 2 || s.BytesIn[0] != uint64(len("4hello\x1e4world")) {
		t.Errorf("received over polling: %d packets, %d bytes", s.PacketsIn[0], s.BytesIn[0])
	}
	// The handshake's open packet, then the two echoes.
	if s.PacketsOut[0] != 3 {
		t.Errorf("sent over polling: %d packets, want 3", s.PacketsOut[0])
	}

	conn, _, err := websocket.DefaultDialer.Dial(ws.wsURL("EIO=4&transport=websocket&sid="+sid), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.WriteMessage(websocket.TextMessage, []byte("2probe"))
	if _, data, _ := conn.ReadMessage(); string(data) != "3probe" {
		t.Fatalf("probe answer %q", data)
	}
	conn.WriteMessage(websocket.TextMessage, []byte("5"))
	conn.WriteMessage(websocket.TextMessage, []byte("4ws"))
	if _, data, _ := conn.ReadMessage(); string(data) != "4ws" {
		t.Fatalf("echo %q", data)
	}
	s = waitStats(t, ws.srv, "after the upgrade", func(s StatsSnapshot) bool { return s.PacketsOut[1] == 1 })
	if s.Upgrades != 1 || s.Sessions[1][0] != 0 || s.Sessions[1][1] != 1 {
		t.Errorf("after the upgrade: %d upgrades, %d polling, %d websocket sessions; want 1, 0, 1", s.Upgrades, s.Sessions[1][0], s.Sessions[1][1])
	}
	// The probe and the upgrade packet belong to the upgrade; "4ws" is
	// the session's traffic.
	if s.PacketsIn[1] != 1 || s.BytesIn[1] != 3 || s.BytesOut[1] != 3 {
		t.Errorf("websocket traffic: %d packets in, %d bytes in, %d bytes out; want 1, 3, 3", s.PacketsIn[1], s.BytesIn[1], s.BytesOut[1])
	}

	conn.Close()
	if r := ws.reason(t); r != "transport close" {
		t.Fatalf("close reason %q", r)
	}
	s = ws.srv.Stats().Snapshot()
	if s.Sessions[1][1] != 0 || s.Closes[0] != 1 {
		t.Errorf("after the close: %d websocket sessions, %d %q; want 0 and 1", s.Sessions[1][1], s.Closes[0], CloseReasons[0])
	}
}

func TestStatsCountDroppedVolatileMessages(t *testing.T) {
	ws := newWireServer(t, Options{})
	ws.open(t)
	s := <-ws.session
	if s.SendVolatile(Message{Data: []byte("a")}, Message{Data: []byte{1}, Binary: true}) {
		t.Fatal("SendVolatile queued a message while no GET was waiting")
	}
	if got := ws.srv.Stats().Snapshot().VolatileDropped; got != 1 {
		t.Errorf("volatile dropped: %d, want 1 (one packet of two messages)", got)
	}
}

// countedSession is a session as the handshake makes one, as far as the
// counting reads it: a random id, and the shard picked from it.
func countedSession() *Session {
	s := &Session{id: newID(), protocol: 4}
	s.statsShard = trafficShardOf(s.id)
	return s
}

// BenchmarkStatsSent is what counting costs a flusher per batch (the
// other hot-path counts are alike): goroutines of different sessions, in
// parallel, as a broadcast's flushers run.
func BenchmarkStatsSent(b *testing.B) {
	srv := NewServer(Options{})
	b.RunParallel(func(pb *testing.PB) {
		s := countedSession()
		pkts := []packet{{typ: packetMessage, data: []byte(`2["chat message","hello"]`)}}
		for pb.Next() {
			srv.stats.sent(s, 1, len(pkts), wsPacketBytes(pkts, s.protocol))
		}
	})
}

// BenchmarkStatsPerAck is everything the engine counts for one answered
// message over WebSocket, on one goroutine as a reader that writes its
// own answer does: the message read, and the batch written. Set against
// socketio's BenchmarkRelayedAck (the whole round trip, in µs), it is the
// metrics' share of the hot path.
func BenchmarkStatsPerAck(b *testing.B) {
	srv := NewServer(Options{})
	s := countedSession()
	in := []byte(`42["echo",1,1700000000000]`)
	pkts := []packet{{typ: packetMessage, data: []byte(`31[]`)}}
	for range b.N {
		srv.stats.received(s, 1, 1, len(in))
		srv.stats.sent(s, 1, len(pkts), wsPacketBytes(pkts, s.protocol))
	}
}

// Packets and bytes share one word per shard; counts that pass half of
// either part's range are folded into the totals, so no part overflows
// into the other and the snapshot stays exact.
func TestTrafficCountsStayExactPastAWordsRange(t *testing.T) {
	var st Stats
	s := countedSession()
	const big = 1 << (trafficByteBits - 2) // a quarter of the bytes' range per call
	for range 10 {
		st.received(s, 1, 3, big)
	}
	for range 3 << 22 { // past half of the packets' range in one shard
		st.sent(s, 0, 1, 1)
	}
	snap := st.Snapshot()
	if snap.PacketsIn[1] != 30 || snap.BytesIn[1] != 10*big {
		t.Errorf("in: %d packets, %d bytes; want 30 and %d", snap.PacketsIn[1], snap.BytesIn[1], uint64(10*big))
	}
	if want := uint64(3 << 22); snap.PacketsOut[0] != want || snap.BytesOut[0] != want {
		t.Errorf("out: %d packets, %d bytes; want %d of each", snap.PacketsOut[0], snap.BytesOut[0], want)
	}
}
