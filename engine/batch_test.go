package engine

import (
	"context"
	"net"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// writeCounter counts the writes to the connections it accepts: the
// server's system calls, as the benchmarks count them.
type writeCounter struct {
	net.Listener
	writes atomic.Int64
}

func (l *writeCounter) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countedConn{Conn: c, writes: &l.writes}, nil
}

type countedConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c *countedConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// batchServer is a Server whose sessions arrive on a channel, on a
// listener that counts writes.
func batchServer(t *testing.T) (*Server, *writeCounter, string, chan *Session) {
	t.Helper()
	checkLeaks(t)
	srv := NewServer(Options{})
	sessions := make(chan *Session, 4)
	srv.OnConnection(func(s *Session) { sessions <- s })
	hs := httptest.NewUnstartedServer(srv)
	counter := &writeCounter{Listener: hs.Listener}
	hs.Listener = counter
	hs.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		srv.Shutdown(ctx)
		hs.Close()
	})
	return srv, counter, "ws" + strings.TrimPrefix(hs.URL, "http") + "/engine.io/?EIO=4&transport=websocket", sessions
}

// dialBatch opens a WebSocket session and reads its open packet.
func dialBatch(t *testing.T, url string, sessions chan *Session) (*websocket.Conn, *Session) {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, data, err := conn.ReadMessage(); err != nil || data[0] != '0' {
		t.Fatalf("open packet: %q %v", data, err)
	}
	s := <-sessions
	waitWritesDone(t, s)
	return conn, s
}

// waitWritesDone waits for the flusher that wrote the open packet to
// exit: it leaves the lock a moment after the client has the packet, and
// while it runs it would take what a batch queues and write it before
// Flush.
func waitWritesDone(t *testing.T, s *Session) {
	t.Helper()
	waitSession(t, s, "the open packet's flusher to exit", func(s *Session) bool { return !s.flushing && len(s.queue) == 0 })
}

// expect reads the next messages of conn and compares them with want.
func expect(t *testing.T, conn *websocket.Conn, want ...string) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for _, w := range want {
		_, data, err := conn.ReadMessage()
		if err != nil || string(data) != w {
			t.Fatalf("got %q (%v), want %q", data, err, w)
		}
	}
}

func prepared(texts ...string) []*PreparedMessage {
	pms := make([]*PreparedMessage, len(texts))
	for i, s := range texts {
		pms[i] = NewPreparedMessage(Message{Data: []byte(s)})
	}
	return pms
}

func TestBatchWritesEachReceiversBroadcastsInOneWrite(t *testing.T) {
	_, counter, url, sessions := batchServer(t)
	c1, s1 := dialBatch(t, url, sessions)
	c2, s2 := dialBatch(t, url, sessions)
	before := counter.writes.Load() // the upgrades and open packets are written

	// Three broadcasts to both receivers, as a cluster adapter delivers
	// the entries of one read.
	var b Batch
	for _, pm := range prepared("a", "b", "c") {
		for _, s := range []*Session{s1, s2} {
			if err := b.SendPrepared(s, pm); err != nil {
				t.Fatal(err)
			}
		}
	}
	if b.Len() != 2 {
		t.Fatalf("the batch holds %d sessions, want 2", b.Len())
	}
	s1.mu.Lock()
	started := s1.flushing
	s1.mu.Unlock()
	if started {
		t.Fatal("a write started before Flush")
	}
	b.Flush()
	expect(t, c1, "4a", "4b", "4c")
	expect(t, c2, "4a", "4b", "4c")
	if n := counter.writes.Load() - before; n != 2 {
		t.Errorf("the batch took %d writes, want one per receiver (2)", n)
	}
	if b.Len() != 0 {
		t.Errorf("the batch holds %d sessions after Flush", b.Len())
	}

	// Emptied by Flush, it serves again.
	if err := b.SendPrepared(s1, prepared("d")[0]); err != nil {
		t.Fatal(err)
	}
	b.Flush()
	expect(t, c1, "4d")
}

// A batch holds back only the write it would have started: a message
// queued on the session outside it goes out at once, with what the batch
// queued before it, in order; a second batch does not wait for the first.
func TestBatchDelaysNothingButItsOwnFlush(t *testing.T) {
	_, _, url, sessions := batchServer(t)
	conn, s := dialBatch(t, url, sessions)

	var held Batch
	if err := held.SendPrepared(s, prepared("held")[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(Message{Data: []byte("direct")}); err != nil {
		t.Fatal(err)
	}
	expect(t, conn, "4held", "4direct")

	if err := held.SendPrepared(s, prepared("held again")[0]); err != nil {
		t.Fatal(err)
	}
	var second Batch
	if err := second.SendPrepared(s, prepared("second")[0]); err != nil {
		t.Fatal(err)
	}
	if second.Len() != 0 {
		t.Fatal("a second batch holds a session another one holds")
	}
	expect(t, conn, "4held again", "4second")
	held.Flush()
	second.Flush()

	// The session ends while held: Flush does nothing more.
	if err := held.SendPrepared(s, prepared("lost")[0]); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	waitClosed(t, s)
	held.Flush()
	if err := held.SendPrepared(s, prepared("late")[0]); err != ErrClosed {
		t.Errorf("SendPrepared on a closed session: %v, want ErrClosed", err)
	}
	if held.Len() != 0 {
		t.Errorf("a closed session is held")
	}
}

func waitClosed(t *testing.T, s *Session) {
	t.Helper()
	waitSession(t, s, "the session to close", func(s *Session) bool { return s.state == stateClosed })
}

// On polling, the waiting GET is answered at Flush with the whole batch,
// not with its first message.
func TestBatchAnswersTheWaitingGetWithTheWholeBatch(t *testing.T) {
	ws := newWireServer(t, Options{})
	sid := ws.open(t)
	s := <-ws.session
	got := ws.parkGet(t, sid)
	var b Batch
	for _, pm := range prepared("a", "b") {
		if err := b.SendPrepared(s, pm); err != nil {
			t.Fatal(err)
		}
	}
	b.Flush()
	if res := <-got; res.body != "4a\x1e4b" {
		t.Fatalf("GET got %q, want both messages", res.body)
	}
}
