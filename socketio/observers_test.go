package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-socketio/caddy-socketio/engine"
)

// recorder collects what namespace observers report, in order.
type recorder struct {
	mu    sync.Mutex
	lines []string
	added chan struct{}
}

func newRecorder() *recorder { return &recorder{added: make(chan struct{}, 100)} }

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.lines = append(r.lines, s)
	r.mu.Unlock()
	r.added <- struct{}{}
}

// wait returns the lines once there are n of them.
func (r *recorder) wait(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		r.mu.Lock()
		if len(r.lines) >= n {
			out := append([]string(nil), r.lines...)
			r.mu.Unlock()
			return out
		}
		r.mu.Unlock()
		select {
		case <-r.added:
		case <-deadline:
			t.Fatalf("observers reported %q, want %d lines", r.lines, n)
		}
	}
}

func TestNamespaceObserversSeeEventsRoomChangesAndDisconnects(t *testing.T) {
	rec := newRecorder()
	ts := startServer(t, "", engine.Options{}, func(ts *testServer) {
		nsp := ts.io.Of("/")
		nsp.Use(func(s *Socket) error { s.Join("before-connect"); return nil })
		nsp.OnEvent(func(e *Event) { rec.add("event " + e.Name) })
		nsp.OnJoin(func(s *Socket, room string) { rec.add("join " + room) })
		nsp.OnLeave(func(s *Socket, room string) { rec.add("leave " + room) })
		nsp.OnDisconnect(func(s *Socket, reason string) { rec.add("disconnect " + reason) })
	})
	clients, sockets := connectRaw(t, ts, 1)
	s := sockets[0]
	s.Join("a", "b")
	s.Join("a") // already in it: not reported again
	s.Leave("b")
	s.Leave("never-joined")
	clients[0].send(`42["hello",1]`)
	rec.wait(t, 4)
	s.Disconnect(false)
	got := rec.wait(t, 5)
	want := []string{"join a", "join b", "leave b", "event hello", "disconnect server namespace disconnect"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("observers saw %q, want %q (rooms joined in a middleware, the own room and the leave-all of a disconnect are not reported)", got, want)
	}
}

func TestUseAsyncMiddlewareDoesNotHoldOtherNamespacesOrClients(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 4)
	ts := startServer(t, "", engine.Options{}, func(ts *testServer) {
		ts.io.Of("/slow").UseAsync(func(s *Socket) error {
			entered <- struct{}{}
			<-release
			if auth, _ := s.Handshake().AuthValue("ok"); auth != true {
				return &ConnectError{Message: "refused", Data: map[string]any{"retryable": true}}
			}
			return nil
		})
		ts.io.Of("/fast")
	})
	c := dialRaw(t, ts)
	c.send(`40/slow,{"ok":true}`)
	<-entered
	// The same client's other namespace, and another client, connect
	// while the slow middleware waits.
	c.send("40/fast,")
	if got := c.read(); !strings.HasPrefix(got, `40/fast,{"sid":"`) {
		t.Fatalf("connect to /fast while /slow waits: got %q", got)
	}
	other := dialRaw(t, ts)
	other.send("40")
	if got := other.read(); !strings.HasPrefix(got, `40{"sid":"`) {
		t.Fatalf("another client while /slow waits: got %q", got)
	}
	// A repeated CONNECT while pending is ignored, not a second socket
	// nor a protocol error. The client's packets are handled in order:
	// once the refusal of the CONNECT sent after it is back, the repeat
	// was handled while the middleware still waited.
	c.send(`40/slow,{"ok":true}`)
	c.send("40/nope,")
	if got := c.read(); got != `44/nope,{"message":"Invalid namespace"}` {
		t.Fatalf("CONNECT to an unknown namespace: got %q", got)
	}
	close(release)
	if got := c.read(); !strings.HasPrefix(got, `40/slow,{"sid":"`) {
		t.Fatalf("answer of /slow: %q", got)
	}
	if n := len(ts.io.Of("/slow").Sockets()); n != 1 {
		t.Errorf("%d sockets in /slow, want 1", n)
	}

	refused := dialRaw(t, ts)
	refused.send(`40/slow,{"ok":false}`)
	if got := refused.read(); got != `44/slow,{"message":"refused","data":{"retryable":true}}` {
		t.Errorf("refusal from an async middleware: %q", got)
	}
}

func TestUseAsyncClientGoneBeforeTheAnswerIsNotConnected(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	done := make(chan struct{})
	gone := make(chan struct{})
	ts := startServer(t, "", engine.Options{}, func(ts *testServer) {
		nsp := ts.io.Of("/slow")
		nsp.UseAsync(func(s *Socket) error {
			entered <- struct{}{}
			<-release
			return nil
		})
		nsp.UseAsync(func(s *Socket) error { close(done); return nil })
		ts.io.Of("/").OnDisconnect(func(*Socket, string) { close(gone) })
	})
	c := dialRaw(t, ts)
	c.send("40")
	c.read()
	c.send("40/slow,")
	<-entered
	c.conn.Close()
	<-gone // the session has ended: "/" saw its transport close
	close(release)
	<-done
	if n := len(ts.io.Of("/slow").Sockets()); n != 0 {
		t.Errorf("%d sockets in /slow after the client left during its middleware, want 0", n)
	}
}

func TestMetaIsPrivateAndDataIsFetched(t *testing.T) {
	ts := startServer(t, "", engine.Options{}, func(*testServer) {})
	_, sockets := connectRaw(t, ts, 2)
	sockets[0].SetData(json.RawMessage(`{"user":"ada"}`))
	sockets[0].SetMeta(json.RawMessage(`{"token":"secret"}`))
	sockets[1].SetData(map[string]int{"n": 1})
	if got := string(sockets[0].Meta()); got != `{"token":"secret"}` {
		t.Errorf("meta %s", got)
	}
	if got := sockets[0].Transport(); got != "websocket" {
		t.Errorf("transport %q", got)
	}
	found, err := ts.io.Of("/").FetchSockets(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	data := map[string]string{}
	for _, rs := range found {
		data[rs.ID] = string(rs.Data)
	}
	if data[sockets[0].ID()] != `{"user":"ada"}` || data[sockets[1].ID()] != `{"n":1}` {
		t.Errorf("fetched data %v", data)
	}
}

func TestEmitWithAckCountReportsReceiversAndMissingAnswers(t *testing.T) {
	ts := startServer(t, "", engine.Options{}, func(*testServer) {})
	clients, _ := connectRaw(t, ts, 3)
	type result struct {
		answers []Args
		clients int
		err     error
	}
	res := make(chan result, 1)
	go func() {
		a, n, err := ts.io.Of("/").To().Timeout(300*time.Millisecond).EmitWithAckCount(context.Background(), "q")
		res <- result{a, n, err}
	}()
	for _, c := range clients[:2] {
		got := c.read()
		if !strings.HasPrefix(got, "42") || !strings.HasSuffix(got, `["q"]`) {
			t.Fatalf("got %q", got)
		}
		c.send("43" + strings.TrimSuffix(strings.TrimPrefix(got, "42"), `["q"]`) + `["yes"]`)
	}
	r := <-res
	if r.clients != 3 || len(r.answers) != 2 || !errors.Is(r.err, context.DeadlineExceeded) {
		t.Errorf("clients %d, answers %d, err %v; want 3 clients, 2 answers and a deadline error", r.clients, len(r.answers), r.err)
	}
}
