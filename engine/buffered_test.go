package engine

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// TestMaxBufferedBytesClosesTheStalledClientsAndKeepsTheReaders sends
// 100 KB messages to clients of which some never read (over WebSocket,
// and a polling client that never polls): the server's
// buffered bytes stay near the budget, the stalled clients are closed with
// the reason logged, and the readers get every message in order.
func TestMaxBufferedBytesClosesTheStalledClientsAndKeepsTheReaders(t *testing.T) {
	for _, shared := range []bool{true, false} {
		name := "each message its own"
		if shared {
			name = "broadcast, shared"
		}
		t.Run(name, func(t *testing.T) { testBufferedBudget(t, shared) })
	}
}

func testBufferedBudget(t *testing.T, shared bool) {
	checkLeaks(t)
	const (
		budget   = 8 << 20
		size     = 100 << 10
		messages = 300 // 30 MB per client
		stalled  = 3
		readers  = 2
	)
	core, logs := observer.New(zap.WarnLevel)
	// A large max_payload, so that the per-session bound (16 × it) is not
	// what closes the stalled clients.
	srv := NewServer(Options{MaxPayload: 100 << 20, MaxBufferedBytes: budget, Logger: zap.New(core)})
	sessions := make(chan *Session, stalled+readers+1)
	reasons := make(chan string, stalled+readers+1)
	srv.OnConnection(func(s *Session) {
		s.OnClose(func(reason string) { reasons <- reason })
		sessions <- s
	})
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		hs.Close()
	})
	addr := hs.Listener.Addr().String()

	var all []*Session
	var stalledConns []net.Conn
	for range stalled {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.(*net.TCPConn).SetReadBuffer(4096) // and never read
		stalledConns = append(stalledConns, c)
		c.Write([]byte("GET /?EIO=4&transport=websocket HTTP/1.1\r\nHost: " + addr +
			"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
		all = append(all, <-sessions)
	}
	// And a polling client that made its handshake and never polls again.
	res, err := http.Get(hs.URL + "/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	all = append(all, <-sessions)
	received := make([]chan int, readers)
	var wg sync.WaitGroup
	for i := range readers {
		conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(hs.URL, "http")+"/?EIO=4&transport=websocket", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		all = append(all, <-sessions)
		received[i] = make(chan int, messages)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(received[i])
			conn.SetReadLimit(1 << 20)
			for n := 0; n < messages; {
				_, data, err := conn.ReadMessage()
				if err != nil {
					t.Errorf("reader %d after %d messages: %v", i, n, err)
					return
				}
				if data[0] != '4' {
					continue // the open packet, pings
				}
				if want := byte(n); len(data) != 1+size || data[1] != want {
					t.Errorf("reader %d: message %d is %d bytes starting %d", i, n, len(data), data[1])
					return
				}
				n++
				received[i] <- n
			}
		}()
	}

	var peak int64
	got := make([]int, readers)
	for n := range messages {
		data := bytes.Repeat([]byte{byte(n)}, size)
		pm := NewPreparedMessage(Message{Data: data, Binary: false})
		for _, s := range all {
			if shared {
				s.SendPrepared(pm)
			} else {
				s.Send(Message{Data: data})
			}
		}
		// Measured once an eviction round the sends started is over: the
		// round runs beside the sender, and on a loaded machine the sender
		// could otherwise add any number of rounds before it is scheduled.
		for srv.evicting.Load() {
			time.Sleep(time.Millisecond)
		}
		peak = max(peak, srv.BufferedBytes())
		// The readers keep up: a window of 8 messages at most.
		for i := range readers {
			for got[i] < n-8 {
				v, ok := <-received[i]
				if !ok {
					t.Fatalf("reader %d stopped", i)
				}
				got[i] = v
			}
		}
	}
	wg.Wait()
	for i := range readers {
		for v := range received[i] {
			got[i] = v
		}
		if got[i] != messages {
			t.Errorf("reader %d got %d messages of %d", i, got[i], messages)
		}
	}
	for range stalled + 1 {
		select {
		case r := <-reasons:
			if r != "transport error" {
				t.Errorf("a stalled client was closed with %q, want transport error", r)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a stalled client was not closed")
		}
	}
	select {
	case r := <-reasons:
		t.Fatalf("a reader was closed too: %q", r)
	default:
	}
	// The stalled clients' connections are reset: the kernel drops what it
	// still held for them at once, rather than trying to send it on.
	for i, c := range stalledConns {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.Copy(io.Discard, c); err == nil || !strings.Contains(err.Error(), "reset") {
			t.Errorf("stalled client %d: %v, want its connection reset", i, err)
		}
	}
	// What the stalled clients held is released; the readers hold nothing.
	for deadline := time.Now().Add(5 * time.Second); srv.BufferedBytes() != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes still counted as buffered", srv.BufferedBytes())
		}
	}
	// Once a round is over, what is left is the readers' windows and the
	// messages of the stalled clients not closed yet: near the budget.
	if limit := int64(budget + budget/2); peak > limit {
		t.Errorf("the buffered bytes peaked at %d, over the budget %d by more than half", peak, budget)
	}
	lines := logs.FilterMessageSnippet("max_buffered_bytes").All()
	if len(lines) == 0 {
		t.Fatal("the evictions were not logged")
	}
	closed := 0
	for _, l := range lines {
		m := l.ContextMap()
		closed += int(m["closed"].(int64))
		for _, a := range m["remote_addrs"].([]any) {
			if !strings.HasPrefix(a.(string), "127.0.0.1:") {
				t.Errorf("logged address %q", a)
			}
		}
	}
	if closed != stalled+1 {
		t.Errorf("the log lines say %d clients were closed, want %d", closed, stalled+1)
	}
}
