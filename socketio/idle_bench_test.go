package socketio

import (
	"context"
	"net"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/caddy-socketio/caddy-socketio/engine"
	"github.com/caddy-socketio/caddy-socketio/internal/testpeer"
)

// BenchmarkIdleSocket reports the memory an idle connected Socket.IO socket
// costs on top of its Engine.IO WebSocket session, so that the Socket.IO
// layer's share is measured apart from the engine's: the same raw
// WebSocket clients first hold bare engine sessions (an engine.Server with
// no Socket.IO server), then sockets connected to "/" of a Socket.IO
// server, and the difference of live heap per connection is
// socketio-heap-B/socket. heap-B/socket is the whole server's live heap
// per socket, engine included. Goroutine stacks are left out: the runtime
// keeps the stacks of ended goroutines for reuse, so they cannot be told
// apart between the two rounds (engine's BenchmarkIdleWebSocketSession
// reports them for a session).
//
// With IDLE_HEAP_PROFILE=<file>, a heap profile is written while the
// sockets are held: go test -run '^$' -bench IdleSocket -benchtime 1x
// -memprofilerate 1, then go tool pprof -sample_index=inuse_space.
func BenchmarkIdleSocket(b *testing.B) {
	const conns = 1000
	idle := runtime.NumGoroutine()
	// A first round allocates what is made once per process (the engine's
	// poller and its tables at this size, pools), which would otherwise count
	// against the bare engine.
	warm := engine.NewServer(engine.Options{})
	NewServer(warm, Options{})
	idleCost(b, warm, conns, true, idle)
	for b.Loop() {
		bare := engine.NewServer(engine.Options{})
		bare.OnConnection(func(s *engine.Session) { s.OnMessage(func(engine.Message) {}) })
		engineHeap := idleCost(b, bare, conns, false, idle)

		eng := engine.NewServer(engine.Options{})
		NewServer(eng, Options{})
		heap := idleCost(b, eng, conns, true, idle)

		b.ReportMetric(heap-engineHeap, "socketio-heap-B/socket")
		b.ReportMetric(heap, "heap-B/socket")
	}
}

// idleCost opens n raw WebSocket sessions on eng (each connected to the
// main namespace when connect is set), and returns the live heap they add
// per session. The sessions are closed and eng shut down before it
// returns. It starts once the goroutines of the previous round have ended
// (no more than idle are left), so that what they hold is not counted.
func idleCost(b *testing.B, eng *engine.Server, n int, connect bool, idle int) float64 {
	for i := 0; runtime.NumGoroutine() > idle && i < 500; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	hs := httptest.NewServer(eng)
	defer hs.Close()
	defer eng.Shutdown(context.Background())
	addr := hs.Listener.Addr().String()

	before := liveHeap()
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	d := testpeer.NewIdleWebSocketDialer(addr)
	for range n {
		conns = append(conns, d.Dial(b, connect))
	}
	// Let the handshake goroutines end and the readers hand their idle
	// connections to the engine's poller (after 250 ms without input, later
	// on a loaded machine): until then a reader holds its stack and read
	// buffer.
	time.Sleep(time.Second)
	after := liveHeap()
	if f := os.Getenv("IDLE_HEAP_PROFILE"); f != "" && connect {
		out, err := os.Create(f)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.WriteHeapProfile(out); err != nil {
			b.Fatal(err)
		}
		out.Close()
	}
	return (float64(after) - float64(before)) / float64(n)
}

// liveHeap is the heap in use after two collections.
func liveHeap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
